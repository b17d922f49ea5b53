// sluice::run: a coroutine run from ordinary code, its value returned, its exception rethrown;
// on a fresh context, on the caller's io_context, and on an executor run by other threads.
#include <sluice/run_sync.hpp>

#include <gtest/gtest.h>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace asio = boost::asio;

namespace {

asio::awaitable<int> add(int a, int b) {
  co_await asio::post(co_await asio::this_coro::executor, asio::deferred);
  co_return a + b;
}

asio::awaitable<void> fail(std::string what) {
  co_await asio::post(co_await asio::this_coro::executor, asio::deferred);
  throw std::runtime_error(what);
}

}  // namespace

TEST(RunSync, ReturnsTheValue) {
  EXPECT_EQ(sluice::run(add(1, 2)), 3);
}

TEST(RunSync, RethrowsTheException) {
  EXPECT_THROW(
      {
        try {
          sluice::run(fail("boom"));
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "boom");
          throw;
        }
      },
      std::runtime_error);
}

TEST(RunSync, AMoveOnlyValue) {
  auto make = []() -> asio::awaitable<std::unique_ptr<int>> { co_return std::make_unique<int>(5); };
  EXPECT_EQ(*sluice::run(make()), 5);
}

TEST(RunSync, TheFunctionFormCallsTheCoroutineWithItsArguments) {
  EXPECT_EQ(sluice::run(add, 20, 22), 42);
  auto by_ref = [](std::string& s) -> asio::awaitable<void> {
    s += "!";
    co_return;
  };
  std::string s = "hi";
  sluice::run(by_ref, s);
  EXPECT_EQ(s, "hi!");
  EXPECT_THROW(sluice::run(fail, "x"), std::runtime_error);
}

TEST(RunSync, WorkLeftBehindIsDestroyedNotRun) {
  // A detached coroutine waiting on a long timer: run returns when the main one ends, and
  // destroying the context destroys the waiter's frame (its guard), without running it on.
  struct guard {
    int* n;
    ~guard() { ++*n; }
  };
  int destroyed = 0;
  bool finished = false;
  auto body = [&]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(
        ex,
        [&destroyed, &finished]() -> asio::awaitable<void> {
          guard g{&destroyed};
          asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
          co_await t.async_wait(asio::deferred);
          finished = true;
        },
        asio::detached);
    co_return 1;
  };
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(sluice::run(body()), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(destroyed, 1);
  EXPECT_FALSE(finished);
}

TEST(RunSync, OnTheCallersContextOtherWorkRunsAndTheRestStaysQueued) {
  asio::io_context ctx;
  int other = 0;
  asio::post(ctx, [&] { ++other; });  // runs while the coroutine waits for its turn
  EXPECT_EQ(sluice::run(ctx, add(2, 3)), 5);
  EXPECT_EQ(other, 1);
  // A stopped context is restarted; what is still queued after the coroutine ends stays for
  // the next run: here a chain of 100 handlers, each posting the next.
  ctx.stop();
  int chain = 0;
  std::function<void()> link = [&] {
    if (++chain < 100) asio::post(ctx, link);
  };
  auto body = [&]() -> asio::awaitable<int> {
    asio::post(ctx, link);
    co_return 7;
  };
  EXPECT_EQ(sluice::run(ctx, body()), 7);
  EXPECT_GT(chain, 0);
  EXPECT_LT(chain, 100);
  ctx.run();
  EXPECT_EQ(chain, 100);
}

TEST(RunSync, FromInsideItsOwnContextIsAnError) {
  asio::io_context ctx;
  std::string error;
  asio::post(ctx, [&] {
    try {
      sluice::run(ctx, add(1, 1));
    } catch (const std::logic_error& e) {
      error = e.what();
    }
  });
  ctx.run();
  EXPECT_NE(error.find("same io_context"), std::string::npos) << error;
}

TEST(RunSync, OnAnExecutorRunByOtherThreads) {
  asio::thread_pool pool(2);
  const auto caller = std::this_thread::get_id();
  auto where = []() -> asio::awaitable<std::thread::id> { co_return std::this_thread::get_id(); };
  EXPECT_NE(sluice::run(pool.get_executor(), where()), caller);
  EXPECT_EQ(sluice::run(pool.get_executor(), add(4, 5)), 9);
  EXPECT_THROW(sluice::run(pool.get_executor(), fail("pool")), std::runtime_error);
  // From one of the pool's own threads it would wait for itself.
  std::string error;
  asio::post(pool, [&] {
    try {
      sluice::run(pool.get_executor(), add(1, 1));
    } catch (const std::logic_error& e) {
      error = e.what();
    }
  });
  pool.join();
  EXPECT_NE(error.find("runs the executor"), std::string::npos) << error;
}
