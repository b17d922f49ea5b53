#include <sluice/amap.hpp>
#include <sluice/run.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <ranges>
#include <set>
#include <stdexcept>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::error_policy;

struct boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

asio::awaitable<int> sleep_then(int ms) {
  co_await sleep(std::chrono::milliseconds(ms));
  co_return ms;
}

template <class T>
asio::awaitable<std::vector<T>> drain(sluice::stream<T>& s) {
  std::vector<T> out;
  while (auto v = co_await s.next()) out.push_back(*v);
  co_return out;
}

TEST(Amap, YieldsInCompletionOrderSleepSort) {
  auto r = run_virtual([]() -> asio::awaitable<std::vector<int>> {
    auto s = sluice::amap<manual_clock>(sleep_then, std::vector<int>{50, 10, 40, 20, 30});
    co_return co_await drain(s);
  }());
  EXPECT_EQ(r, (std::vector<int>{10, 20, 30, 40, 50}));
  EXPECT_EQ(vnow(), 50ms);
}

TEST(Amap, OrderedYieldsInInputOrder) {
  auto r = run_virtual([]() -> asio::awaitable<std::vector<int>> {
    auto s = sluice::amap<manual_clock>(sleep_then, std::vector<int>{50, 10, 40, 20, 30},
                                        {.max_at_once = 3, .ordered = true});
    co_return co_await drain(s);
  }());
  EXPECT_EQ(r, (std::vector<int>{50, 10, 40, 20, 30}));
}

TEST(Amap, OrderedWithASlowHeadStallsThePullInsteadOfGrowingMemory) {
  // Input 0 takes 1 s, the others 1 ms. With max_at_once 4 and reorder_window 6 at most 10
  // inputs may be pulled before the head is delivered.
  std::size_t pulled = 0, max_pulled_before_head = 0;
  bool head_done = false;
  auto inputs = std::views::iota(0, 1000) | std::views::transform([&](int i) {
                  ++pulled;
                  if (!head_done) max_pulled_before_head = pulled;
                  return i;
                });
  auto r = run_virtual([&]() -> asio::awaitable<std::vector<int>> {
    auto s = sluice::amap<manual_clock>(
        [&](int i) -> asio::awaitable<int> {
          co_await sleep(i == 0 ? 1000ms : 1ms);
          if (i == 0) head_done = true;
          co_return i;
        },
        inputs, {.max_at_once = 4, .ordered = true, .reorder_window = 6});
    co_return co_await drain(s);
  }());
  EXPECT_EQ(max_pulled_before_head, 10u);
  ASSERT_EQ(r.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(r[i], i);
}

TEST(Amap, ASlowConsumerPausesTheWorkers) {
  std::size_t pulled = 0;
  auto inputs = std::views::iota(0, 100) | std::views::transform([&](int i) {
                  ++pulled;
                  return i;
                });
  run_virtual([&]() -> asio::awaitable<void> {
    auto s = sluice::amap<manual_clock>(
        [](int i) -> asio::awaitable<int> {
          co_await sleep(1ms);
          co_return i;
        },
        inputs, {.max_at_once = 4});
    (void)co_await s.next();
    co_await sleep(1s);  // the consumer dawdles: workers stop at the window
    EXPECT_LE(pulled, 5u);
    std::set<int> seen;
    while (auto v = co_await s.next()) seen.insert(*v);
    EXPECT_EQ(seen.size(), 99u);
  }());
}

TEST(Amap, FailFastEndsTheStreamWithTheError) {
  std::vector<int> got;
  int cancelled = 0;
  EXPECT_THROW(run_virtual([&]() -> asio::awaitable<void> {
                 auto s = sluice::amap<manual_clock>(
                     [&](int i) -> asio::awaitable<int> {
                       try {
                         co_await sleep(std::chrono::milliseconds(i == 2 ? 5 : i * 10));
                       } catch (...) {
                         ++cancelled;
                         throw;
                       }
                       if (i == 2) throw boom("2");
                       co_return i;
                     },
                     std::views::iota(0, 10), {.max_at_once = 4});
                 while (auto v = co_await s.next()) got.push_back(*v);
               }()),
               boom);
  EXPECT_EQ(got, (std::vector<int>{0}));  // 0 finished at 0 ms; 2 failed at 5 ms
  EXPECT_EQ(cancelled, 3);                // 1, 3 and 4 (pulled when 0 finished) were running
}

TEST(Amap, KeepGoingSkipsFailuresAndThrowsThemAtTheEnd) {
  std::vector<int> got;
  try {
    run_virtual([&]() -> asio::awaitable<void> {
      auto s = sluice::amap<manual_clock>(
          [](int i) -> asio::awaitable<int> {
            co_await sleep(1ms);
            if (i % 2) throw boom("odd");
            co_return i;
          },
          std::views::iota(0, 6),
          {.max_at_once = 2, .ordered = true, .errors = error_policy::keep_going});
      while (auto v = co_await s.next()) got.push_back(*v);
    }());
    FAIL();
  } catch (const sluice::task_errors& e) {
    EXPECT_EQ(e.errors().size(), 3u);
  }
  EXPECT_EQ(got, (std::vector<int>{0, 2, 4}));
}

TEST(Amap, DestroyingTheStreamCancelsItsTasks) {
  int cancelled = 0, finished = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    {
      auto s = sluice::amap<manual_clock>(
          [&](int i) -> asio::awaitable<int> {
            try {
              co_await sleep(std::chrono::milliseconds(1 + i * 100));
            } catch (...) {
              ++cancelled;
              throw;
            }
            ++finished;
            co_return i;
          },
          std::views::iota(0, 1000), {.max_at_once = 3});
      EXPECT_EQ(*co_await s.next(), 0);
    }
    co_await sleep(1ms);
  }());
  // Unordered window = max_at_once: 3 pulled (0, 1, 2) until 0 was taken; 1 and 2 ran on.
  EXPECT_EQ(finished, 1);
  EXPECT_EQ(cancelled, 2);
  EXPECT_LT(vnow(), 10ms);
}

TEST(Amap, CloseCancelsAndWaits) {
  int cancelled = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    auto s =
        sluice::amap<manual_clock>([&](int i) { return sleep_counting_cancel(i, 1h, cancelled); },
                                   std::views::iota(0, 10), {.max_at_once = 3});
    asio::co_spawn(co_await asio::this_coro::executor, s.next(), asio::detached);
    co_await sleep(1ms);
    co_await s.close();
    EXPECT_EQ(cancelled, 3);
  }());
}

TEST(Amap, StagesChainAmapOverAmap) {
  auto r = run_virtual([]() -> asio::awaitable<std::vector<int>> {
    auto first = sluice::amap<manual_clock>(sleep_then, std::vector<int>{3, 1, 2},
                                            {.max_at_once = 3, .ordered = true});
    auto second = sluice::amap<manual_clock>(
        [](int x) -> asio::awaitable<int> {
          co_await sleep(1ms);
          co_return x * 10;
        },
        std::move(first), {.max_at_once = 2, .ordered = true});
    co_return co_await drain(second);
  }());
  EXPECT_EQ(r, (std::vector<int>{30, 10, 20}));
}

TEST(Amap, AStreamFeedsRunOnEach) {
  int sum = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    auto s = sluice::amap<manual_clock>(sleep_then, std::vector<int>{1, 2, 3, 4});
    co_await sluice::run_on_each<manual_clock>(
        [&](int x) -> asio::awaitable<void> {
          sum += x;
          co_return;
        },
        s, {.max_at_once = 2});
  }());
  EXPECT_EQ(sum, 10);
}

TEST(Amap, NothingRunsBeforeTheFirstNext) {
  int started = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    auto s = sluice::amap<manual_clock>(
        [&](int i) -> asio::awaitable<int> {
          ++started;
          co_return i;
        },
        std::vector<int>{1, 2, 3});
    co_await sleep(1s);
    EXPECT_EQ(started, 0);
    auto v = co_await s.next();
    EXPECT_TRUE(v);
  }());
}

TEST(Amap, CancellingNextCancelsTheStream) {
  int cancelled = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto s =
        sluice::amap<manual_clock>([&](int i) { return sleep_counting_cancel(i, 1h, cancelled); },
                                   std::views::iota(0, 10), {.max_at_once = 2});
    asio::cancellation_signal sig;
    std::exception_ptr err;
    bool done = false;
    asio::co_spawn(ex, s.next(),
                   asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, auto) {
                     err = e;
                     done = true;
                   }));
    co_await sleep(1ms);
    sig.emit(asio::cancellation_type::terminal);
    co_await sleep(1ms);
    EXPECT_TRUE(done);
    EXPECT_TRUE(is_cancellation(err));
    EXPECT_EQ(cancelled, 2);
  }());
}

TEST(Amap, InvalidOptionsThrowAtTheCall) {
  EXPECT_THROW((void)sluice::amap(sleep_then, std::vector<int>{1}, {.burst = 0}),
               std::invalid_argument);
}

}  // namespace

namespace {

TEST(Amap, WorkersWaitingAtTheWindowEndWhenTheInputRunsOut) {
  // A slow consumer keeps the window full, so workers wait at its gate; when the last input
  // is pulled, every one of them must still wake up and exit (a lost wake-up hangs the
  // stream: virtual_time reports it as a deadlock).
  for (std::size_t n : {5, 9, 10, 33}) {
    std::vector<int> got;
    run_virtual([&]() -> asio::awaitable<void> {
      auto s = sluice::amap<manual_clock>(
          [](int i) -> asio::awaitable<int> {
            co_await sleep(1ms);
            co_return i;
          },
          std::views::iota(0, int(n)), {.max_at_once = 4});
      // Dawdle after the first value (the window fills and workers wait at its gate), then
      // drain at once: several places free up while one woken worker has not run yet.
      while (auto v = co_await s.next()) {
        got.push_back(*v);
        if (got.size() == 1) co_await sleep(10ms);
      }
    }());
    EXPECT_EQ(got.size(), n);
  }
}

}  // namespace
