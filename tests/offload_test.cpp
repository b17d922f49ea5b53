// in_thread, in_cpu_pool and generate_in_thread on real threads (names start with Threads:
// the tsan preset runs them). No timing is asserted; waits are on latches and conditions.
#include <sluice/offload.hpp>
#include <sluice/run.hpp>
#include <sluice/send_generator.hpp>
#include <sluice/when_all.hpp>

#include "support.hpp"

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <mutex>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace sluice::test;

// Spins (yielding) until pred() holds; fails the test after 10 s instead of hanging.
template <class P>
bool eventually(P pred) {
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(ThreadsOffload, InThreadRunsElsewhereAndResumesOnTheCallersThread) {
  const auto caller = std::this_thread::get_id();
  std::thread::id worker, resumed;
  int r = run_io([&]() -> asio::awaitable<int> {
    int v = co_await sluice::in_thread(
        [&](int a, int b) {
          worker = std::this_thread::get_id();
          return a + b;
        },
        40, 2);
    resumed = std::this_thread::get_id();
    co_return v;
  }());
  EXPECT_EQ(r, 42);
  EXPECT_NE(worker, caller);
  EXPECT_EQ(resumed, caller);
}

TEST(ThreadsOffload, ExceptionsPropagateAndVoidWorks) {
  EXPECT_THROW(run_io(sluice::in_thread([]() -> int { throw std::runtime_error("disk"); })),
               std::runtime_error);
  std::atomic<int> ran{0};
  run_io(sluice::in_cpu_pool([&] { ++ran; }));
  EXPECT_EQ(ran, 1);
}

TEST(ThreadsOffload, ManyBlockingCallsFromARunner) {
  std::atomic<int> peak{0}, now{0};
  std::vector<int> inputs(200);
  for (int i = 0; i < 200; ++i) inputs[i] = i;
  long sum = 0;
  run_io(sluice::run_on_each(
      [&](int i) -> asio::awaitable<void> {
        sum += co_await sluice::in_thread([&, i] {
          const int n = ++now;
          int p = peak.load();
          while (n > p && !peak.compare_exchange_weak(p, n)) {
          }
          std::this_thread::sleep_for(100us);  // the blocking call being offloaded
          --now;
          return i;
        });
      },
      inputs, {.max_at_once = 8}));
  EXPECT_EQ(sum, 199 * 200 / 2);
  EXPECT_LE(peak.load(), 8);
  EXPECT_GE(peak.load(), 1);
}

TEST(ThreadsOffload, ACancelledCallerResumesAtOnceAndTheResultIsDropped) {
  std::latch release(1);
  std::atomic<bool> finished{false};
  bool aborted = false;
  {
    asio::io_context ctx;
    asio::cancellation_signal sig;
    asio::co_spawn(ctx, sluice::in_thread([&] {
                     release.wait();
                     finished = true;
                     return std::string(1000, 'x');
                   }),
                   asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, std::string) {
                     try {
                       if (e) std::rethrow_exception(e);
                     } catch (const boost::system::system_error& s) {
                       aborted = s.code() == asio::error::operation_aborted;
                     }
                   }));
    asio::steady_timer t(ctx, 1ms);
    t.async_wait([&](auto) { sig.emit(asio::cancellation_type::terminal); });
    ctx.run();  // returns once the caller is resumed, while the call still blocks
    EXPECT_TRUE(aborted);
    EXPECT_FALSE(finished);
  }
  release.count_down();  // the call ends after its caller and its io_context are gone
  EXPECT_TRUE(eventually([&] { return finished.load(); }));
}

TEST(ThreadsOffload, GenerateInThreadYieldsInOrderAndRunsAheadAtMostTheBound) {
  constexpr std::size_t ahead = 4;
  std::atomic<int> produced{0}, consumed{0}, max_ahead{0};
  auto out = run_io([&]() -> asio::awaitable<std::vector<int>> {
    auto s = sluice::generate_in_thread(
        [&]() -> std::optional<int> {
          const int p = ++produced;
          if (p > 50) return std::nullopt;
          max_ahead = std::max(max_ahead.load(), p - consumed.load());
          return p;
        },
        ahead);
    std::vector<int> got;
    while (auto v = co_await s.next()) {
      got.push_back(*v);
      if (got.size() == 1) {  // let the producer fill the buffer up to the bound
        EXPECT_TRUE(eventually([&] { return produced.load() >= int(ahead); }));
      }
      ++consumed;
    }
    co_return got;
  }());
  ASSERT_EQ(out.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(out[i], i + 1);
  EXPECT_LE(max_ahead.load(), int(ahead) + 1);
  EXPECT_GE(max_ahead.load(), int(ahead));
}

TEST(ThreadsOffload, CancellingTheStreamEndsANextWaitingForABlockedProducer) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  struct on_exit {
    std::promise<void>& p;
    ~on_exit() { p.set_value(); }  // unblocks the producer however the test ends
  } unblock{release};
  bool aborted = false;
  run_io([&]() -> asio::awaitable<void> {
    auto s = sluice::generate_in_thread([released]() -> std::optional<int> {
      released.wait();  // a read that blocks until the test is over
      return std::nullopt;
    });
    auto ex = co_await asio::this_coro::executor;
    // Runs once next() below is waiting: cancels the stream, as a SIGINT does in the CLI.
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          co_await asio::post(ex, asio::use_awaitable);
          s.cancel();
        },
        asio::detached);
    try {
      co_await s.next();
    } catch (const boost::system::system_error& e) {
      aborted = e.code() == asio::error::operation_aborted;
    }
  }());
  EXPECT_TRUE(aborted);
}

TEST(ThreadsOffload, GenerateFromARangeFeedsARunnerAndErrorsComeAfterTheItems) {
  long sum = 0;
  run_io([&]() -> asio::awaitable<void> {
    std::vector<int> values{1, 2, 3, 4};
    auto source = sluice::generate_in_thread(std::move(values));
    co_await sluice::run_on_each(
        [&](int v) -> asio::awaitable<void> {
          sum += v;
          co_return;
        },
        std::move(source), {.max_at_once = 2});
  }());
  EXPECT_EQ(sum, 10);
  std::vector<int> got;
  EXPECT_THROW(run_io([&]() -> asio::awaitable<void> {
                 int n = 0;
                 auto s = sluice::generate_in_thread([&]() -> std::optional<int> {
                   if (++n > 3) throw std::runtime_error("source broke");
                   return n;
                 });
                 while (auto v = co_await s.next()) got.push_back(*v);
               }()),
               std::runtime_error);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
}

TEST(ThreadsOffload, ClosingTheStreamStopsAnEndlessProducer) {
  std::atomic<int> produced{0};
  run_io([&]() -> asio::awaitable<void> {
    auto s = sluice::generate_in_thread([&]() -> std::optional<int> { return ++produced; }, 8);
    for (int i = 0; i < 10; ++i) co_await s.next();
    co_await s.close();  // returns once the producer has stopped
  }());
  const int at_close = produced.load();
  EXPECT_LE(at_close, 10 + 8 + 1);
  std::this_thread::sleep_for(1ms);
  EXPECT_EQ(produced.load(), at_close);
}

TEST(ThreadsOffload, PoolSizeIsFixedOnceThePoolExists) {
  EXPECT_THROW(sluice::set_blocking_pool_size(0), std::invalid_argument);
  run_io(sluice::in_thread([] {}));
  EXPECT_TRUE(sluice::blocking_pool().initialized());
  EXPECT_THROW(sluice::set_blocking_pool_size(4), std::logic_error);
  EXPECT_GE(sluice::blocking_pool_size(), 10u);
}

// ---- executor_pool: size, replacement and shutdown under the caller's control ---------------

TEST(ThreadsExecutorPool, MadeOnFirstUseOrByInitializeAndGoneAfterShutdown) {
  // The seed's test_executor_pool: shutdown of no pool does nothing; initialize makes one;
  // initialize again replaces it; shutdown ends it; a use after it makes a new one.
  sluice::executor_pool pool(3);
  pool.shutdown(false);
  EXPECT_FALSE(pool.initialized());
  EXPECT_EQ(pool.threads(), 0u);
  pool.initialize();
  EXPECT_TRUE(pool.initialized());
  EXPECT_EQ(pool.threads(), 3u);
  pool.initialize(5);
  EXPECT_EQ(pool.threads(), 5u);
  pool.shutdown(true);
  EXPECT_FALSE(pool.initialized());
  EXPECT_EQ(run_io(sluice::in_pool(
                pool, [](int x) { return x * 2; }, 21)),
            42);
  EXPECT_TRUE(pool.initialized());
  EXPECT_EQ(pool.threads(), 3u);
  EXPECT_THROW(pool.initialize(10'001), std::invalid_argument);
  EXPECT_THROW(pool.set_default_threads(0), std::invalid_argument);
  EXPECT_THROW(sluice::executor_pool(0), std::invalid_argument);
}

TEST(ThreadsExecutorPool, TheSizeBoundsTheCallsRunningAtOnce) {
  sluice::executor_pool pool(2);
  std::atomic<int> now{0}, peak{0};
  run_io([&]() -> asio::awaitable<void> {
    auto call = [&](int) -> asio::awaitable<void> {
      co_await sluice::in_pool(pool, [&] {
        const int n = ++now;
        int p = peak.load();
        while (n > p && !peak.compare_exchange_weak(p, n)) {
        }
        std::this_thread::sleep_for(5ms);
        --now;
      });
    };
    co_await sluice::run_on_each(call, std::views::iota(0, 12), {.max_at_once = 12});
  }());
  EXPECT_EQ(peak.load(), 2);
}

TEST(ThreadsExecutorPool, ReplacingThePoolLetsItsCallsFinishAndSendsNewOnesToTheNewOne) {
  // A call blocked on the old pool when initialize() replaces it still completes (its caller
  // resumes with its value); calls made after run on the new pool's threads.
  sluice::executor_pool pool(1);
  std::mutex gate;
  std::unique_lock hold(gate);
  std::thread::id old_thread, new_thread;
  std::promise<void> started;
  asio::io_context ctx;
  int first = 0, second = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        first = co_await sluice::in_pool(pool, [&] {
          old_thread = std::this_thread::get_id();
          started.set_value();
          std::lock_guard wait_for_the_test(gate);
          return 1;
        });
      },
      asio::detached);
  std::thread runner([&] { ctx.run(); });
  started.get_future().wait();
  pool.initialize(2);  // (the old pool's only thread is busy)
  second = run_io(sluice::in_pool(pool, [&] {
    new_thread = std::this_thread::get_id();
    return 2;
  }));
  EXPECT_EQ(second, 2);
  EXPECT_NE(new_thread, old_thread);
  hold.unlock();
  runner.join();
  EXPECT_EQ(first, 1);
  pool.shutdown(true);
}

TEST(ThreadsExecutorPool, ShutdownWithWaitReturnsOnceTheWorkHandedOverHasRun) {
  sluice::executor_pool pool(2);
  std::atomic<int> done{0};
  for (int i = 0; i < 6; ++i)
    pool.post([&] {
      std::this_thread::sleep_for(10ms);
      ++done;
    });
  pool.shutdown(false);  // at once; the work goes on
  EXPECT_FALSE(pool.initialized());
  pool.shutdown(true);
  EXPECT_EQ(done.load(), 6);
}

TEST(ThreadsExecutorPool, ManyReplacementsInARow) {
  sluice::executor_pool pool(2);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(run_io(sluice::in_pool(pool, [i] { return i; })), i);
    pool.initialize();
  }
  pool.shutdown(true);
  EXPECT_EQ(run_io(sluice::in_pool(pool, [] { return 7; })), 7);
}

// ---- send_generator: values sent into a blocking generator, one step per request --------------

// The seed's generator: `x = yield 1; yield x + 10`, written as its steps.
sluice::send_generator<int, int> yield_one_then_sent_plus_ten(std::atomic<int>& steps) {
  return sluice::send_generator<int, int>(
      [&steps, at = 0](std::optional<int> sent) mutable -> std::optional<int> {
        ++steps;
        switch (at++) {
          case 0:
            return 1;
          case 1:
            return sent.value_or(0) + 10;
          default:
            return std::nullopt;
        }
      });
}

TEST(ThreadsSendGenerator, ASentValueReachesTheGeneratorAndStepsRunOnlyWhenAsked) {
  std::atomic<int> steps{0};
  const auto caller = std::this_thread::get_id();
  std::thread::id step_thread;
  run_io([&]() -> asio::awaitable<void> {
    auto g = yield_one_then_sent_plus_ten(steps);
    std::this_thread::sleep_for(5ms);
    EXPECT_EQ(steps.load(), 0);  // nothing runs ahead
    EXPECT_EQ(co_await g.next(), 1);
    EXPECT_EQ(co_await g.send(5), 15);  // asend(5) after `x = yield 1` gives 15
    EXPECT_EQ(steps.load(), 2);
    EXPECT_FALSE(g.done());
    EXPECT_EQ(co_await g.send(0), std::nullopt);
    EXPECT_TRUE(g.done());
    EXPECT_EQ(co_await g.next(), std::nullopt);  // done: step is not called again
    EXPECT_EQ(steps.load(), 3);
    auto where = sluice::send_generator<std::thread::id, int>(
        [](std::optional<int>) -> std::optional<std::thread::id> {
          return std::this_thread::get_id();
        });
    step_thread = *co_await where.next();
  }());
  EXPECT_NE(step_thread, caller);
}

TEST(ThreadsSendGenerator, AnExceptionReachesTheCallerAndEndsTheGenerator) {
  int calls = 0;
  run_io([&]() -> asio::awaitable<void> {
    sluice::send_generator<int, std::string> g(
        [&calls](std::optional<std::string> s) -> std::optional<int> {
          ++calls;
          if (s && *s == "bad") throw std::invalid_argument("bad value sent");
          return int(s ? s->size() : 0);
        });
    EXPECT_EQ(co_await g.send("abc"), 3);
    bool threw = false;
    try {
      (void)co_await g.send("bad");
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_EQ(co_await g.send("more"), std::nullopt);
  }());
  EXPECT_EQ(calls, 2);
}

TEST(ThreadsSendGenerator, OneStepAtATime) {
  static std::atomic<int> steps{0};  // (the step given up may still run after the test)
  run_io([&]() -> asio::awaitable<void> {
    auto g = yield_one_then_sent_plus_ten(steps);
    auto first = g.next();  // (awaitables start when awaited)
    auto second = g.send(1);
    std::string error;
    auto both = [&]() -> asio::awaitable<void> {
      try {
        co_await sluice::when_all(std::move(first), std::move(second));
      } catch (const std::logic_error& e) {
        error = e.what();
      }
    };
    co_await both();
    EXPECT_NE(error.find("one step at a time"), std::string::npos) << error;
  }());
}
}  // namespace
