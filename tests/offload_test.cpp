// in_thread, in_cpu_pool and generate_in_thread on real threads (names start with Threads:
// the tsan preset runs them). No timing is asserted; waits are on latches and conditions.
#include <sluice/offload.hpp>
#include <sluice/run.hpp>

#include "support.hpp"

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
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
  (void)sluice::blocking_pool();
  EXPECT_THROW(sluice::set_blocking_pool_size(4), std::logic_error);
  EXPECT_GE(sluice::blocking_pool_size(), 10u);
}

}  // namespace
