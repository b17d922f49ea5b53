// sliding_window (pure arithmetic) and basic_start_limits (several limits as one FIFO
// decision) on virtual time: exact start times.
#include <sluice/run.hpp>
#include <sluice/sliding_window.hpp>
#include <sluice/start_limits.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace sluice::test;
using sluice::sliding_window;
using vlimits = sluice::basic_start_limits<manual_clock>;
using times = std::vector<manual_clock::duration>;

// The most starts (or cost) in any window [t, t + w) of the sorted start times.
std::size_t most_in_any_window(const times& starts, manual_clock::duration w) {
  std::size_t most = 0;
  for (std::size_t i = 0, j = 0; i < starts.size(); ++i) {
    while (starts[i] - starts[j] >= w) ++j;
    most = std::max(most, i - j + 1);
  }
  return most;
}

TEST(SlidingWindow, AdmitsABurstOfNThenOneAsEachLeavesTheWindow) {
  sliding_window w{3, 1s};
  times got;
  std::chrono::nanoseconds now{0};
  for (int i = 0; i < 7; ++i) {
    now = w.earliest(now);
    if (i == 6) {
      EXPECT_EQ(w.used(1500ms), 3u);  // the three of 1 s
    }
    w.commit(now);
    got.push_back(now);
  }
  EXPECT_EQ(got, (times{0s, 0s, 0s, 1s, 1s, 1s, 2s}));
  EXPECT_EQ(w.used(2s), 1u);
}

TEST(SlidingWindow, AMinimumGapSpacesTheStartsAndTheWindowStillHolds) {
  sliding_window w{3, 1s, 100ms};
  times got;
  std::chrono::nanoseconds now{0};
  for (int i = 0; i < 7; ++i) {
    now = w.earliest(now);
    w.commit(now);
    got.push_back(now);
  }
  EXPECT_EQ(got, (times{0ms, 100ms, 200ms, 1000ms, 1100ms, 1200ms, 2000ms}));
}

TEST(SlidingWindow, CostsAreUnitsOfTheCapacity) {
  sliding_window w{10, 1min};  // 10 tokens a minute
  w.commit(0s, 6);
  EXPECT_EQ(w.earliest(1s, 4), 1s);
  EXPECT_EQ(w.earliest(1s, 5), 60s);  // after the 6 leave
  w.commit(1s, 4);
  EXPECT_EQ(w.earliest(2s, 1), 60s);
  EXPECT_THROW((void)w.earliest(2s, 11), std::invalid_argument);  // never fits
  EXPECT_THROW((void)w.earliest(2s, 0), std::invalid_argument);
}

TEST(SlidingWindow, SettleCorrectsAnEstimatedCost) {
  sliding_window w{100, 1min};
  w.commit(0s, 50);   // estimated 50 tokens
  w.commit(10s, 50);  // estimated 50
  EXPECT_EQ(w.earliest(20s, 10), 60s);
  w.settle(0s, 50, 20);  // the response said 20
  EXPECT_EQ(w.earliest(20s, 10), 20s);
  EXPECT_EQ(w.earliest(20s, 31), 60s);
  w.settle(5s, 1, 1);  // nothing at 5 s: no-op
  EXPECT_EQ(w.used(20s), 70u);
}

TEST(SlidingWindow, HoldsAndChangesAtRunTime) {
  sliding_window w{2, 1s};
  w.hold_until(5s);
  EXPECT_EQ(w.earliest(1s), 5s);
  w.commit(5s);
  w.commit(5s);
  w.set_capacity(3);
  EXPECT_EQ(w.earliest(5s), 5s);
  w.set_window(10s);
  w.commit(5s);
  EXPECT_EQ(w.earliest(6s), 15s);
  EXPECT_THROW(sliding_window(0, 1s), std::invalid_argument);
  EXPECT_THROW(sliding_window(1, 0s), std::invalid_argument);
  EXPECT_THROW(sliding_window(1, 1s, -1s), std::invalid_argument);
}

// Virtual start times of `count` coroutines that all ask `limits` (set up by `setup`) at 0.
template <class Setup>
times starts(int count, Setup setup, std::uint32_t cost = 1) {
  times out;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    setup(limits);
    int done = 0;
    for (int i = 0; i < count; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            co_await limits.acquire(cost);
            out.push_back(vnow());
            ++done;
          },
          asio::detached);
    while (done < count) co_await sleep(100ms);
  }());
  return out;
}

TEST(StartLimits, GcraAtNOverPWithBurstNLets2NMinus1IntoAWindowAndTheWindowDoesNot) {
  // aioextensions' rate_limited(10, 1 s): the quota the GCRA approximation breaks.
  const auto gcra = starts(40, [](vlimits& l) { l.add_rate(10, 10); });
  EXPECT_EQ(most_in_any_window(gcra, 1s), 19u);
  const auto window = starts(40, [](vlimits& l) { l.add_window(10, 1s); });
  EXPECT_EQ(most_in_any_window(window, 1s), 10u);
  EXPECT_EQ(window.back(), 3s);  // 4 bursts of 10: at 0, 1, 2 and 3 s
}

TEST(StartLimits, EveryLimitAdmitsTheStartAndEachRecordsIt) {
  // 10/s with bursts of 5, and at most 12 in any 2 s.
  const auto got = starts(20, [](vlimits& l) {
    l.add_rate(10, 5);
    l.add_window(12, 2s);
  });
  EXPECT_EQ(most_in_any_window(got, 2s), 12u);
  EXPECT_EQ(times(got.begin(), got.begin() + 5), times(5, 0ms));  // the burst
  EXPECT_EQ(got[5], 100ms);                                       // then the rate
  EXPECT_EQ(got[11], 700ms);                                      // 12 in the window
  EXPECT_EQ(got[12], 2000ms);                                     // the window holds
  for (std::size_t i = 1; i < got.size(); ++i) EXPECT_LE(got[i - 1], got[i]);
}

TEST(StartLimits, ACancelledWaiterTakesNothingFromAnyLimit) {
  std::vector<std::pair<int, manual_clock::duration>> got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    limits.add_rate(1, 1);      // one a second
    limits.add_window(2, 10s);  // two in any 10 s
    co_await limits.acquire();  // t=0
    asio::cancellation_signal sig;
    auto body = [&](int i) -> asio::awaitable<void> {
      co_await limits.acquire();
      got.emplace_back(i, vnow());
    };
    asio::co_spawn(ex, body(1), asio::bind_cancellation_slot(sig.slot(), asio::detached));
    asio::co_spawn(ex, body(2), asio::detached);
    asio::co_spawn(ex, body(3), asio::detached);
    co_await sleep(500ms);
    EXPECT_EQ(limits.waiting(), 3u);
    sig.emit(asio::cancellation_type::terminal);  // waiter 1 was first, for the 1 s slot
    co_await sleep(20s);
  }());
  // 2 takes the 1 s slot of the rate and the window's second place; 3 waits for the window.
  EXPECT_EQ(got, (std::vector<std::pair<int, manual_clock::duration>>{{2, 1s}, {3, 10s}}));
}

TEST(StartLimits, CostsHoldsAndErrors) {
  // 100 tokens a minute; each start costs 30: three at 0, then one as the window frees.
  EXPECT_EQ(starts(
                4, [](vlimits& l) { l.add_window(100, 60s); }, 30),
            (times{0s, 0s, 0s, 60s}));
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    limits.add_window(100, 60s);
    EXPECT_THROW(co_await limits.acquire(101), std::invalid_argument);  // never fits: no hang
    EXPECT_THROW((void)limits.try_acquire(0), std::invalid_argument);
    limits.hold_for(3s);  // a Retry-After
    EXPECT_FALSE(limits.try_acquire());
    co_await limits.acquire();
    EXPECT_EQ(vnow(), 3s);
  }());
}

TEST(StartLimits, ChangedReschedulesTheQueue) {
  times got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    auto& window = limits.add_window(1, 10s);
    for (int i = 0; i < 3; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            co_await limits.acquire();
            got.push_back(vnow());
          },
          asio::detached);
    co_await sleep(1s);  // t=0 started, the next due at 10 s
    window.state().set_window(2s);
    limits.changed();
    co_await sleep(20s);
  }());
  EXPECT_EQ(got, (times{0s, 2s, 4s}));
}

TEST(StartLimits, ARunTakesThemAsItsRateLimiter) {
  int running = 0;
  times got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    limits.add_window(3, 1s);
    std::vector<int> inputs(7);
    co_await sluice::run_on_each<manual_clock>(
        [&](int) -> asio::awaitable<void> {
          ++running;
          got.push_back(vnow());
          co_await sleep(10ms);
          --running;
        },
        inputs, {.max_at_once = 10, .rate_limiter = &limits});
  }());
  EXPECT_EQ(got, (times{0s, 0s, 0s, 1s, 1s, 1s, 2s}));
}

}  // namespace
