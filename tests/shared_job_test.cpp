// shared_job: one coroutine's result awaited by many; memoize: an async function run once per
// key, failures forgotten unless asked. On the manual clock.
#include <sluice/memoize.hpp>
#include <sluice/shared_job.hpp>
#include <sluice/when_all.hpp>

#include "support.hpp"

#include <gtest/gtest.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <map>
#include <stdexcept>
#include <string>

namespace {

using namespace sluice::test;
using sluice::memoize;
using sluice::shared_job;

TEST(SharedJob, RunsOnceForEveryAwaiterAndLateAwaitersDoNotWait) {
  int runs = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    auto work = [&]() -> asio::awaitable<std::string> {
      ++runs;
      co_await sleep(10ms);
      co_return "value";
    };
    shared_job<std::string> job(co_await asio::this_coro::executor, work());
    EXPECT_FALSE(job.done());
    auto [a, b, c] = co_await sluice::when_all(job.result(), job.result(), job.result());
    EXPECT_EQ(vnow(), 10ms);
    EXPECT_EQ(a + b + c, "valuevaluevalue");
    co_await sleep(5ms);
    EXPECT_EQ(co_await job.result(), "value");  // a copy each time, at once
    EXPECT_EQ(vnow(), 15ms);
    EXPECT_TRUE(job.done());
    EXPECT_FALSE(job.failed());
  }());
  EXPECT_EQ(runs, 1);
}

TEST(SharedJob, AnExceptionReachesEveryAwaiter) {
  int caught = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    auto work = []() -> asio::awaitable<void> {
      co_await sleep(3ms);
      throw std::runtime_error("down");
    };
    shared_job<void> job(co_await asio::this_coro::executor, work());
    auto waiter = [&]() -> asio::awaitable<int> {
      try {
        co_await job.result();
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "down");
        ++caught;
      }
      co_return 0;
    };
    co_await sluice::when_all(waiter(), waiter());
    co_await waiter();  // after the end too
    EXPECT_TRUE(job.failed());
  }());
  EXPECT_EQ(caught, 3);
}

TEST(SharedJob, ACancelledAwaiterLeavesAloneAndTheJobRunsWithoutHandles) {
  bool finished = false;
  std::exception_ptr cancelled;
  std::string other;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto work = [&]() -> asio::awaitable<std::string> {
      co_await sleep(10ms);
      finished = true;
      co_return "v";
    };
    asio::cancellation_signal sig;
    {
      shared_job<std::string> job(ex, work());
      asio::co_spawn(ex, job.result(),
                     asio::bind_cancellation_slot(
                         sig.slot(), [&](std::exception_ptr e, std::string) { cancelled = e; }));
      asio::co_spawn(ex, job.result(), [&](std::exception_ptr, std::string v) { other = v; });
      co_await sleep(1ms);
      sig.emit(asio::cancellation_type::terminal);
    }  // the last handle is gone; the job goes on
    co_await sleep(20ms);
  }());
  EXPECT_TRUE(is_cancellation(cancelled));
  EXPECT_EQ(other, "v");
  EXPECT_TRUE(finished);
}

// A fake remote call: counts calls per key, takes 5 ms, fails for keys starting with "bad".
struct remote {
  std::map<std::string, int> calls;
  int fail_first = 0;  // fail this many calls, whatever the key
  asio::awaitable<int> get(std::string key) {
    ++calls[key];
    co_await sleep(5ms);
    if (fail_first > 0) {
      --fail_first;
      throw std::runtime_error("unavailable: " + key);
    }
    co_return int(key.size());
  }
};

TEST(Memoize, ConcurrentCallsShareOneCallAndLaterOnesAreServedFromMemory) {
  remote r;
  run_virtual([&]() -> asio::awaitable<void> {
    memoize<std::string, int> m([&](std::string k) { return r.get(std::move(k)); });
    auto [a, b, c] = co_await sluice::when_all(m("ab"), m("ab"), m("abc"));
    EXPECT_EQ(a + b + c, 2 + 2 + 3);
    EXPECT_EQ(vnow(), 5ms);
    EXPECT_EQ(co_await m("ab"), 2);
    EXPECT_EQ(vnow(), 5ms);  // from memory: no wait
    EXPECT_EQ(m.size(), 2u);
    EXPECT_EQ(m.calls(), 2u);
  }());
  EXPECT_EQ(r.calls["ab"], 1);
  EXPECT_EQ(r.calls["abc"], 1);
}

TEST(Memoize, AFailureFailsItsSharersAndIsForgotten) {
  remote r;
  r.fail_first = 1;
  run_virtual([&]() -> asio::awaitable<void> {
    memoize<std::string, int> m([&](std::string k) { return r.get(std::move(k)); });
    int failed = 0;
    auto caller = [&]() -> asio::awaitable<int> {
      try {
        (void)co_await m("k");
      } catch (const std::runtime_error&) {
        ++failed;
      }
      co_return 0;
    };
    co_await sluice::when_all(caller(), caller());
    EXPECT_EQ(failed, 2);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(co_await m("k"), 1);  // called again
  }());
  EXPECT_EQ(r.calls["k"], 2);
}

TEST(Memoize, CachedErrorsAreRethrownWithoutACall) {
  remote r;
  r.fail_first = 1;
  run_virtual([&]() -> asio::awaitable<void> {
    memoize<std::string, int> m([&](std::string k) { return r.get(std::move(k)); },
                                {.cache_errors = true});
    for (int i = 0; i < 3; ++i) {
      bool threw = false;
      try {
        (void)co_await m("k");
      } catch (const std::runtime_error&) {
        threw = true;
      }
      EXPECT_TRUE(threw);
    }
    m.forget("k");
    EXPECT_EQ(co_await m("k"), 1);
  }());
  EXPECT_EQ(r.calls["k"], 2);
}

TEST(Memoize, AForgottenKeysOldCallDoesNotEraseItsNewOne) {
  // "k" is forgotten while its first call is in flight (and about to fail); a second call
  // starts. The first one's failure must not forget the second, which succeeds.
  remote r;
  r.fail_first = 1;
  run_virtual([&]() -> asio::awaitable<void> {
    memoize<std::string, int> m([&](std::string k) { return r.get(std::move(k)); });
    auto first = [&]() -> asio::awaitable<bool> {
      try {
        (void)co_await m("k");
      } catch (const std::runtime_error&) {
        co_return false;
      }
      co_return true;
    };
    auto second = [&]() -> asio::awaitable<int> {
      co_await sleep(1ms);
      m.forget("k");
      co_return co_await m("k");
    };
    auto [ok, v] = co_await sluice::when_all(first(), second());
    EXPECT_FALSE(ok);
    EXPECT_EQ(v, 1);
    EXPECT_EQ(m.size(), 1u);
    EXPECT_EQ(co_await m("k"), 1);
  }());
  EXPECT_EQ(r.calls["k"], 2);
}

}  // namespace
