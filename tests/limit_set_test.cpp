// sliding_window (pure arithmetic), the limits (caps, rates, windows, per-key), aimd, and
// basic_limit_set (several limits as one FIFO decision) on virtual time: exact start times.
#include <sluice/aimd.hpp>
#include <sluice/amap.hpp>
#include <sluice/limit_set.hpp>
#include <sluice/run.hpp>
#include <sluice/sliding_window.hpp>
#include <sluice/task_scope.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::sliding_window;
using vlimits = sluice::basic_limit_set<manual_clock>;
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

// A sliding_window beside a plain list of its starts, through thousands of starts (bursts
// that fill it, pauses that empty it), settles that correct or drop an entry, and a server's
// word that puts one in the middle: every answer is the one the list gives.
TEST(SlidingWindow, AnswersAsAPlainListOfItsStartsThroughSettlesAndTheServersWord) {
  struct entry {
    std::chrono::nanoseconds at;
    std::uint64_t cost;
  };
  const std::chrono::nanoseconds window = 1s;
  const std::uint64_t capacity = 400;
  sliding_window w{capacity, window};
  std::vector<entry> list;
  auto forget = [&](std::chrono::nanoseconds t) {
    std::erase_if(list, [&](const entry& e) { return e.at + window <= t; });
  };
  auto used = [&](std::chrono::nanoseconds t) {
    std::uint64_t sum = 0;
    for (const entry& e : list)
      if (e.at <= t && e.at + window > t) sum += e.cost;
    return sum;
  };
  auto earliest = [&](std::chrono::nanoseconds t, std::uint64_t cost) {
    std::vector<std::chrono::nanoseconds> at{t};  // when the room can change: as a start leaves
    for (const entry& e : list)
      if (e.at + window > t) at.push_back(e.at + window);
    std::sort(at.begin(), at.end());
    for (const auto c : at)
      if (used(c) + cost <= capacity) return c;
    return at.back();
  };
  std::mt19937 rng(7);
  std::chrono::nanoseconds now{0};
  std::size_t most = 0, checks = 0;
  for (int i = 0; i < 6000; ++i) {
    // Mostly quick starts (the ring fills), now and then a pause (it empties and shrinks).
    now += (i % 1500 > 1300) ? std::chrono::nanoseconds(rng() % 400'000'000)
                             : std::chrono::nanoseconds(rng() % 3'000'000);
    const std::uint64_t cost = 1 + rng() % 3;
    ASSERT_EQ(w.used(now), used(now)) << "step " << i;
    const auto t = w.earliest(now, cost);
    ASSERT_EQ(t, earliest(now, cost)) << "step " << i;
    ++checks;
    now = t;
    w.commit(now, cost);
    forget(now);
    list.push_back({now, cost});
    most = std::max(most, list.size());
    if (rng() % 7 == 0) {  // a response says what an earlier start cost (0 drops its entry)
      const entry e = list[rng() % list.size()];
      const std::uint64_t actual = rng() % 4;
      w.settle(e.at, e.cost, actual);
      auto it =
          std::find_if(list.begin(), list.end(), [&](const entry& x) { return x.at == e.at; });
      it->cost = it->cost - std::min(it->cost, e.cost) + actual;
      if (it->cost == 0) list.erase(it);
    }
    if (rng() % 50 == 0) {  // the server says fewer remain: an entry goes in the middle
      const auto reset = now + std::chrono::nanoseconds(rng() % 900'000'000) - 600ms;
      const std::uint64_t remaining = rng() % 50;
      w.agree(now, remaining, reset);
      if (reset > now) {
        forget(now);
        const std::uint64_t in_use = used(now);
        const std::uint64_t room = capacity > in_use ? capacity - in_use : 0;
        if (remaining < room) {
          const auto at = std::min(reset - window, now);
          auto it = std::upper_bound(list.begin(), list.end(), at,
                                     [](auto t, const entry& x) { return t < x.at; });
          list.insert(it, {at, room - remaining});
        }
      }
    }
  }
  EXPECT_EQ(checks, 6000u);
  EXPECT_GT(most, 150u);  // the window held many starts at once
  EXPECT_EQ(w.used(now), used(now));
}

TEST(SlidingWindow, AboveItsExactCapacityItIsBucketedInMemoryThatDoesNotGrowWithIt) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(sliding_window(65'536, 1s).quantum(), 0ns);       // exact up to 65,536
  EXPECT_EQ(sliding_window(65'537, 1s).quantum(), 16'384ns);  // >= 1 s / 65,536, a power of 2
  EXPECT_EQ(sliding_window(200'000, 1min).quantum(), 1'048'576ns);
  EXPECT_EQ(sliding_window(10'000'000, 1ms).quantum(), 16ns);
  EXPECT_EQ(sliding_window(10'000'000, 65'536ns).quantum(), 0ns);  // a nanosecond: exact
  sliding_window changed{1'000'000, 1s};
  changed.set_capacity(100);
  EXPECT_EQ(changed.quantum(), 0ns);
  changed.set_capacity(1'000'000);
  changed.set_window(1min);
  EXPECT_EQ(changed.quantum(), 1'048'576ns);

  // 1.5M unit starts asked for every 0.7 us against a million a second: the starts of a
  // bucketed window beside those of an exact one (a plain list of start times), from the same
  // arrivals. No second ever holds more than a million (counted on the starts' real times),
  // its memory stays at 65,537 entries where the exact one holds a million, and each start
  // is at most one quantum late per window length the exact one had run.
  const std::uint64_t capacity = 1'000'000;
  sliding_window w{capacity, 1s};
  const nanoseconds q = w.quantum();
  std::deque<nanoseconds> exact;  // start times in the last second
  std::vector<nanoseconds> got;
  nanoseconds exact_at{0};
  std::size_t most_entries = 0;
  for (std::int64_t k = 0; k < 1'500'000; ++k) {
    const nanoseconds arrival{k * 700};
    nanoseconds t = std::max(arrival, got.empty() ? arrival : got.back());
    t = w.earliest(t);
    w.commit(t);
    got.push_back(t);
    most_entries = std::max(most_entries, w.entries());
    exact_at = std::max(arrival, exact_at);
    while (!exact.empty() && exact.front() + 1s <= exact_at) exact.pop_front();
    if (exact.size() == capacity) {
      exact_at = exact.front() + 1s;
      exact.pop_front();
    }
    exact.push_back(exact_at);
    ASSERT_GE(t, exact_at) << "start " << k;  // never earlier than exact
    ASSERT_LE(t, exact_at + q * (1 + exact_at / 1s)) << "start " << k;
  }
  EXPECT_LE(most_entries, 65'537u);
  EXPECT_EQ(most_in_any_window(got, 1s), capacity);
  EXPECT_GT(got.back(), 1s);  // the window was full, and starts waited for it
}

TEST(SlidingWindow, ABucketedWindowSettlesTheStartsOfABucketApart) {
  using std::chrono::nanoseconds;
  sliding_window w{100'000, 1min};  // 100,000 tokens a minute: quantum 1,048,576 ns
  w.commit(7ns, 50'000);
  w.commit(13ns, 50'000);  // the same quantum: one entry
  EXPECT_EQ(w.entries(), 1u);
  EXPECT_EQ(w.used(1s), 100'000u);
  w.settle(7ns, 50'000, 20'000);  // the first said 20,000
  EXPECT_EQ(w.used(1s), 70'000u);
  EXPECT_EQ(w.earliest(1s, 30'000), 1s);
  // The rest leaves at the end of its quantum plus the window, not at 7 ns plus the window.
  EXPECT_EQ(w.earliest(1s, 30'001), 1min + 1'048'576ns);
  w.agree(2s, 0, 2s + 1min);  // the server says nothing remains until a minute from now
  EXPECT_EQ(w.used(2s), 100'000u);
  EXPECT_EQ(w.entries(), 2u);
}

TEST(SlidingWindow, AStartAfterTheQuantumShrankIsRecordedNoEarlierThanTheLastEntry) {
  using std::chrono::nanoseconds;
  sliding_window w{100'000, 1s};  // quantum 16,384 ns
  w.commit(100ns);                // recorded at 16,384 ns
  w.set_capacity(10);             // exact from now on
  w.commit(200ns);                // not before the entry at 16,384 ns: it joins it
  EXPECT_EQ(w.entries(), 1u);
  EXPECT_EQ(w.used(1s), 2u);
  EXPECT_EQ(w.earliest(1s, 9), 1s + 16'384ns);  // both leave together
  w.commit(1s + 20'000ns);                      // after it: exact again
  EXPECT_EQ(w.entries(), 1u);
  EXPECT_EQ(w.earliest(1s + 20'000ns, 10), 2s + 20'000ns);
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
            auto t = co_await limits.acquire(cost);
            out.push_back(vnow());
            ++done;
          },
          asio::detached);
    while (done < count) co_await sleep(100ms);
  }());
  return out;
}

TEST(LimitSet, GcraAtNOverPWithBurstNLets2NMinus1IntoAWindowAndTheWindowDoesNot) {
  // aioextensions' rate_limited(10, 1 s): the quota the GCRA approximation breaks.
  const auto gcra = starts(40, [](vlimits& l) { l.add_rate(10, 10); });
  EXPECT_EQ(most_in_any_window(gcra, 1s), 19u);
  const auto window = starts(40, [](vlimits& l) { l.add_window(10, 1s); });
  EXPECT_EQ(most_in_any_window(window, 1s), 10u);
  EXPECT_EQ(window.back(), 3s);  // 4 bursts of 10: at 0, 1, 2 and 3 s
}

TEST(LimitSet, EveryLimitAdmitsTheStartAndEachRecordsIt) {
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

TEST(LimitSet, ACancelledWaiterTakesNothingFromAnyLimit) {
  std::vector<std::pair<int, manual_clock::duration>> got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    limits.add_rate(1, 1);            // one a second
    limits.add_window(2, 10s);        // two in any 10 s
    (void)co_await limits.acquire();  // t=0
    asio::cancellation_signal sig;
    auto body = [&](int i) -> asio::awaitable<void> {
      (void)co_await limits.acquire();
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

TEST(LimitSet, CostsHoldsAndErrors) {
  // 100 tokens a minute; each start costs 30: three at 0, then one as the window frees.
  EXPECT_EQ(starts(
                4, [](vlimits& l) { l.add_window(100, 60s); }, 30),
            (times{0s, 0s, 0s, 60s}));
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    limits.add_window(100, 60s);
    EXPECT_THROW((void)co_await limits.acquire(101), std::invalid_argument);  // never fits: no hang
    EXPECT_THROW((void)limits.try_acquire(0), std::invalid_argument);
    limits.hold_for(3s);  // a Retry-After
    EXPECT_FALSE(limits.try_acquire());
    (void)co_await limits.acquire();
    EXPECT_EQ(vnow(), 3s);
  }());
}

TEST(LimitSet, ChangedReschedulesTheQueue) {
  times got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    auto& window = limits.add_window(1, 10s);
    for (int i = 0; i < 3; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            auto t = co_await limits.acquire();
            got.push_back(vnow());
          },
          asio::detached);
    co_await sleep(1s);     // t=0 started, the next due at 10 s
    window.set_window(2s);  // tells the set
    co_await sleep(20s);
  }());
  EXPECT_EQ(got, (times{0s, 2s, 4s}));
}

TEST(LimitSet, ARunTakesSharedLimitsInOptions) {
  int running = 0;
  times got;
  run_virtual([&]() -> asio::awaitable<void> {
    sluice::window_limit window{3, 1s};
    std::vector<int> inputs(7);
    sluice::options o{.max_at_once = 10};
    o.limits.push_back(&window);  // (GCC 12 rejects a braced vector inside co_await)
    co_await sluice::run_on_each<manual_clock>(
        [&](int) -> asio::awaitable<void> {
          ++running;
          got.push_back(vnow());
          co_await sleep(10ms);
          --running;
        },
        inputs, o);
  }());
  EXPECT_EQ(got, (times{0s, 0s, 0s, 1s, 1s, 1s, 2s}));
}

}  // namespace

namespace {

using duration = std::chrono::nanoseconds;

TEST(LimitSet, APlaceAndAStartAreTakenAsOneDecision) {
  // At most 2 at once and 10 starts a second; each task holds its place 250 ms. A task that
  // waits for a place takes no start meanwhile: the third starts when a place frees (250 ms),
  // not at its rate slot (200 ms), and the fourth then has its own slot at 350 ms.
  times got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    auto& cap = limits.add_concurrency(2);
    limits.add_rate(10);
    int done = 0;
    for (int i = 0; i < 5; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            auto t = co_await limits.acquire();
            got.push_back(vnow());
            EXPECT_LE(cap.held(), 2u);
            co_await sleep(250ms);
            ++done;
          },
          asio::detached);
    while (done < 5) co_await sleep(50ms);
    EXPECT_EQ(cap.held(), 0u);
  }());
  EXPECT_EQ(got, (times{0ms, 100ms, 250ms, 350ms, 500ms}));
}

TEST(LimitSet, AWaiterCancelledWhileWaitingForAPlaceTookNoStart) {
  // One place, and one start per 10 s with bursts of 2: B waits for the place A holds, and is
  // cancelled. It took no start, so when A ends (5 s) C has the burst's second start at once;
  // had B spent it while waiting, C would wait for the rate until 10 s. D then waits for the
  // rate (10 s).
  std::vector<std::pair<char, manual_clock::duration>> got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    limits.add_concurrency(1);
    limits.add_rate(0.1, 2);
    auto body = [&](char name, manual_clock::duration hold) -> asio::awaitable<void> {
      auto t = co_await limits.acquire();
      got.emplace_back(name, vnow());
      co_await sleep(hold);
    };
    asio::cancellation_signal sig;
    asio::co_spawn(ex, body('A', 5s), asio::detached);
    co_await sleep(10ms);
    asio::co_spawn(ex, body('B', 1s), asio::bind_cancellation_slot(sig.slot(), asio::detached));
    co_await sleep(1s);
    sig.emit(asio::cancellation_type::terminal);
    co_await sleep(3s);
    asio::co_spawn(ex, body('C', 100ms), asio::detached);
    asio::co_spawn(ex, body('D', 100ms), asio::detached);
    co_await sleep(10s);
  }());
  EXPECT_EQ(got, (std::vector<std::pair<char, manual_clock::duration>>{
                     {'A', 0s}, {'C', 5s}, {'D', 10s}}));
}

TEST(LimitSet, AKeyAtItsLimitLetsOtherKeysPass) {
  // One task per key at once, and at most 3 starts in any second overall.
  std::vector<std::pair<std::string, manual_clock::duration>> got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    auto& keys = limits.add_per_key({.max_at_once = 1});
    limits.add_window(3, 1s, {}, sluice::counts::starts);
    int done = 0;
    for (std::string key : {"a", "a", "b", "c", "d"})
      asio::co_spawn(
          ex,
          [&, key]() -> asio::awaitable<void> {
            auto t = co_await limits.acquire(1, key);
            got.emplace_back(key, vnow());
            co_await sleep(500ms);
            t.release();
            ++done;
          },
          asio::detached);
    while (done < 5) co_await sleep(100ms);
    co_await sleep(2s);
    EXPECT_EQ(keys.keys(), 0u);  // idle keys are dropped
  }());
  // The second "a" waits for the first; "b" passes it. "c" takes the window's third place;
  // "d" waits for the window (FIFO behind the global limit), and the second "a" goes at
  // 1 s, when both the key and the window admit it, before "d".
  EXPECT_EQ(got, (std::vector<std::pair<std::string, manual_clock::duration>>{
                     {"a", 0s}, {"b", 0s}, {"c", 0s}, {"a", 1s}, {"d", 1s}}));
}

TEST(LimitSet, PerKeyMemoryIsBoundedByTheKeysInUse) {
  // A million distinct keys, each started once, 1 us apart, at 1,000 starts a second per key
  // (a key is idle 1 ms after its start): at most the keys of the last few ms are kept.
  sluice::keyed_limit keys{{.max_per_second = 1000}};
  std::size_t most = 0;
  for (std::uint64_t i = 0; i < 1'000'000; ++i) {
    const std::string key = std::to_string(i);
    const duration t{i * 1000};
    ASSERT_EQ(keys.earliest(t, {1, key}), t);
    keys.commit(t, t, {1, key});
    most = std::max(most, keys.keys());
  }
  EXPECT_LT(most, 2'000u);
  // And a key seen again within its interval still waits: dropping only idle keys keeps
  // every decision exact.
  keys.commit(duration{2'000'000'000}, duration{2'000'000'000}, {1, "x"});
  EXPECT_EQ(keys.earliest(duration{2'000'000'500}, {1, "x"}), duration{2'001'000'000});
}

TEST(LimitSet, SettleAndTheServersWordMoveTheWindow) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    limits.add_window(100, 60s);           // 100 tokens a minute
    auto t = co_await limits.acquire(80);  // estimated 80 tokens
    EXPECT_FALSE(limits.try_acquire(30));
    t.settle(20);  // the response said 20
    auto u = limits.try_acquire(30);
    EXPECT_TRUE(u);
    // The server says only 10 remain until 30 s from now: 40 more are taken until then.
    limits.server_says(10, 30s, sluice::counts::cost);
    EXPECT_FALSE(limits.try_acquire(11));
    (void)co_await limits.acquire(11);
    EXPECT_EQ(vnow(), 30s);
    // Nothing remains until 40 s: a hold.
    limits.server_says(0, 10s, sluice::counts::cost);
    (void)co_await limits.acquire(1);
    EXPECT_EQ(vnow(), 40s);
  }());
}

TEST(LimitSet, TryAcquireIntoFillsAnEmptyTicketInPlace) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    auto& cap = limits.add_concurrency(1);
    limits.add_per_key({.max_at_once = 1});
    vlimits::ticket t;
    EXPECT_TRUE(limits.try_acquire_into(t, 1, "k1"));
    EXPECT_TRUE(t);
    EXPECT_EQ(t.cost(), 1u);
    EXPECT_EQ(cap.held(), 1u);
    vlimits::ticket u;
    EXPECT_FALSE(limits.try_acquire_into(u, 1, "k2"));  // the cap is full: u stays empty
    EXPECT_FALSE(u);
    // Released, the same ticket takes another key's start: its own key goes with it.
    t.release();
    EXPECT_TRUE(limits.try_acquire_into(t, 1, "k2"));
    EXPECT_FALSE(limits.try_acquire_into(u, 1, "k3"));
    t.release();  // gives k2's per-key place back, not k1's
    EXPECT_TRUE(limits.try_acquire_into(u, 1, "k2"));
    EXPECT_EQ(cap.held(), 1u);
    co_return;
  }());
}

TEST(LimitSet, ALoweredCapFailsAWaiterThatCanNoLongerFit) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimits limits{ex};
    auto& cap = limits.add_concurrency(4, sluice::counts::cost);
    auto held = co_await limits.acquire(2);
    bool failed = false;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          try {
            auto t = co_await limits.acquire(3);
          } catch (const std::invalid_argument&) {
            failed = true;
          }
        },
        asio::detached);
    co_await sleep(1s);
    cap.set_capacity(2);  // 3 never fits now: an error, not a hang
    co_await sleep(1s);
    EXPECT_TRUE(failed);
    EXPECT_THROW((void)limits.try_acquire(5), std::invalid_argument);
  }());
}

TEST(LimitSet, ARunTakesEachTasksCostAndKey) {
  struct req {
    std::string tenant;
    std::uint64_t tokens;
  };
  std::vector<std::pair<std::string, manual_clock::duration>> got;
  run_virtual([&]() -> asio::awaitable<void> {
    sluice::window_limit tokens{100, 60s};
    std::vector<req> inputs{{"a", 60}, {"b", 30}, {"a", 5}, {"b", 20}, {"c", 101}};
    sluice::options o{.max_at_once = 10, .errors = sluice::error_policy::keep_going};
    o.limits.push_back(&tokens);
    o.cost = sluice::per_input<req>([](const req& r) { return r.tokens; });
    o.key = sluice::per_input<req>([](const req& r) { return r.tenant; });
    o.per_key = sluice::per_key_limits{.max_per_second = 1};
    try {
      co_await sluice::run_on_each<manual_clock>(
          [&](const req& r) -> asio::awaitable<void> {
            got.emplace_back(r.tenant, vnow());
            co_return;
          },
          inputs, o);
      ADD_FAILURE() << "the task of cost 101 must fail";
    } catch (const sluice::task_errors& e) {
      EXPECT_EQ(e.errors().size(), 1u);  // it never fits: its task fails, the others run
      for (const auto& f : e.errors()) {
        EXPECT_EQ(f.index, 4u);
        EXPECT_NE(sluice::describe(f.error).find("never fits"), std::string::npos);
      }
    }
  }());
  // 60 + 30 tokens at 0; "a" again (5 tokens) when its key allows (1 s); "b"'s 20 must wait
  // for the window (60 s), and its key is long free by then.
  EXPECT_EQ(got, (std::vector<std::pair<std::string, manual_clock::duration>>{
                     {"a", 0s}, {"b", 0s}, {"a", 1s}, {"b", 60s}}));
}

TEST(TaskScope, ItsCapacityChangesWhileJobsRunAndWait) {
  times got;
  run_virtual([&]() -> asio::awaitable<void> {
    co_await sluice::with_scope<manual_clock>(
        {.max_at_once = 1}, [&](auto& s) -> asio::awaitable<void> {
          for (int i = 0; i < 5; ++i)
            s.spawn([&]() -> asio::awaitable<void> {
              got.push_back(vnow());
              co_await sleep(1s);
            });
          co_await sleep(500ms);
          s.set_capacity(3);  // two more start now
          EXPECT_EQ(s.capacity(), 3u);
          co_await sleep(1s);
          s.set_capacity(1);  // then one at a time again, as the running ones end
        });
  }());
  EXPECT_EQ(got, (times{0ms, 500ms, 500ms, 1000ms, 2000ms}));
}

// AIMD against a simulated server that admits 50 requests a second with bursts of 5 (as
// nginx's limit_req does) and answers 429 beyond; each answer takes 10 ms.
TEST(Aimd, ARateConvergesToTheServersCapacityAndStaysNearIt) {
  sluice::gcra_limit client{400};
  sluice::adaptive_rate control{client, {.floor = 1, .ceiling = 400}};
  sluice::gcra server{50, 5};
  struct answer {
    duration at, started;
    bool ok;
  };
  std::deque<answer> pending;  // in time order (equal latency)
  duration now{0};
  std::size_t sent = 0, rejected = 0, rejected_after_2s = 0;
  std::optional<std::uint64_t> decreases_to_fit;
  duration fitted_at{0};
  double lowest_after_2s = 1e9, highest_after_2s = 0;
  while (now < duration{20'000'000'000}) {
    const duration next = client.earliest(now, {});
    // Answers that arrive before the next start are seen first.
    while (!pending.empty() && pending.front().at <= next) {
      const answer a = pending.front();
      pending.pop_front();
      if (a.ok)
        control.success(a.started, a.at);
      else
        control.signal(a.started, a.at);
    }
    const duration t = client.earliest(now, {});
    client.commit(t, t, {});
    now = t;
    const bool ok = server.try_commit(t);
    ++sent;
    if (!ok) {
      ++rejected;
      if (t >= duration{2'000'000'000}) ++rejected_after_2s;
    }
    pending.push_back({t + duration{10'000'000}, t, ok});
    if (!decreases_to_fit && client.rate() <= 50) {
      decreases_to_fit = control.control().decreases();
      fitted_at = t;
    }
    if (t >= duration{2'000'000'000}) {
      lowest_after_2s = std::min(lowest_after_2s, client.rate());
      highest_after_2s = std::max(highest_after_2s, client.rate());
    }
  }
  // From 400/s to below 50/s in 6 decreases of 0.7 (one per round trip, not one per 429),
  // within the first 200 ms (6 round trips of 10 ms, and the starts between them).
  ASSERT_TRUE(decreases_to_fit);
  EXPECT_EQ(*decreases_to_fit, 6u);
  EXPECT_LT(fitted_at, duration{200'000'000});
  EXPECT_LT(double(rejected) / double(sent), 0.05) << rejected << " of " << sent;
  // After 2 s it stays in a band around the capacity: never below 0.6x, never above 1.1x.
  EXPECT_GE(lowest_after_2s, 0.6 * 50);
  EXPECT_LE(highest_after_2s, 1.1 * 50);
  EXPECT_LT(double(rejected_after_2s) / double(sent), 0.02);
  // And it used the capacity: over 20 s, at least 80% of what the server allows.
  EXPECT_GE(double(sent - rejected), 0.8 * 50 * 20);
}

TEST(Aimd, ACapHalvesOncePerRoundAndClimbsBack) {
  sluice::concurrency_limit cap{32};
  sluice::adaptive_cap control{cap, {.floor = 2, .ceiling = 32, .decrease = 0.5}};
  using namespace std::chrono_literals;
  // Eight overloads of tasks that all started before the first decrease: one decrease.
  for (int i = 0; i < 8; ++i) control.signal(duration{0}, duration{1s});
  EXPECT_EQ(cap.capacity(), 16u);
  // A task started after it: the next round.
  control.signal(duration{2s}, duration{3s});
  EXPECT_EQ(cap.capacity(), 8u);
  for (int i = 0; i < 10; ++i) control.signal(duration{4s + i * 1s}, duration{5s + i * 1s});
  EXPECT_EQ(cap.capacity(), 2u);  // the floor
  // Additive increase: +1/cap per success, so about +1 per round of `cap` successes.
  for (int i = 0; i < 6; ++i) control.success(duration{20s}, duration{21s});
  EXPECT_EQ(cap.capacity(), 4u);
  EXPECT_THROW(sluice::aimd({.floor = 0, .ceiling = 1}), std::invalid_argument);
  EXPECT_THROW(sluice::aimd({.floor = 2, .ceiling = 1}), std::invalid_argument);
  EXPECT_THROW(sluice::aimd({.floor = 1, .ceiling = 2, .decrease = 1}), std::invalid_argument);
}

}  // namespace

namespace {

TEST(LimitSet, ProgressShowsEachLimitAndTheTimeWaitedOnIt) {
  sluice::progress p;
  times got;
  run_virtual([&]() -> asio::awaitable<void> {
    sluice::window_limit window{2, 1s};
    std::vector<int> inputs(4);
    sluice::options o{.max_at_once = 4, .max_per_second = 100, .progress = &p};
    o.limits.push_back(&window);
    co_await sluice::run_on_each<manual_clock>(
        [&](int) -> asio::awaitable<void> {
          got.push_back(vnow());
          co_return;
        },
        inputs, o);
  }());
  EXPECT_EQ(got, (times{0ms, 10ms, 1s, 1010ms}));
  const auto limits = p.limits();  // as they were when the run ended
  ASSERT_EQ(limits.size(), 2u);
  EXPECT_EQ(limits[0].what, "rate 100/s burst 1");
  EXPECT_EQ(limits[1].what, "window 2/1s");
  // Two workers ask at 0: the rate holds the second start 10 ms, the window the third 1 s;
  // the fourth, asked for at 10 ms, waits 1 s for the rate (behind the third, FIFO). And no
  // worker waits for a limit once the input has run out (the run ends at its last start).
  EXPECT_EQ(limits[0].waited, 1010ms);
  EXPECT_EQ(limits[1].waited, 1000ms);
}

}  // namespace

namespace {

TEST(LimitSet, ARateLimitedRunEndsAtItsLastStart) {
  // Three instant tasks at one start a second, four at once: the last starts at 2 s, and the
  // run ends then. (A worker that waited for a start before taking an input kept the run
  // until its slot at 3 s, to find the input empty.)
  manual_clock::duration ended{};
  run_virtual([&]() -> asio::awaitable<void> {
    std::vector<int> inputs(3);
    co_await sluice::run_on_each<manual_clock>([](int) -> asio::awaitable<void> { co_return; },
                                               inputs, {.max_at_once = 4, .max_per_second = 1});
    ended = vnow();
  }());
  EXPECT_EQ(ended, 2s);
}

TEST(LimitSet, ARunOverAStreamEndsAtItsLastStartWhateverItsLimits) {
  // The inputs come from a stream, as the CLI's (read on a thread of its own): the stream's
  // end reaches the workers without a start slot. Ten tasks, sixteen at once: with a burst of
  // ten at one a second they all start at 0 and the run ends at 0; with no burst the last
  // starts at 9 s and the run ends then, not a second later. A 1-per-minute window after a
  // single input: the run ends at once.
  struct run_case {
    double per_second;
    std::uint32_t burst;
    bool window;  // and at most 1 start a minute
    int inputs;
    manual_clock::duration ends_at;
  };
  const run_case cases[] = {
      {1, 10, false, 10, 0s},
      {1, 1, false, 10, 9s},
      {0, 1, true, 1, 0s},
  };
  for (const auto& c : cases) {
    manual_clock::duration ended{};
    run_virtual([&]() -> asio::awaitable<void> {
      sluice::window_limit minute{1, 60s};
      sluice::options o{.max_at_once = 16, .max_per_second = c.per_second, .burst = c.burst};
      if (c.window) o.limits.push_back(&minute);
      std::vector<int> values(static_cast<std::size_t>(c.inputs));
      auto inputs =
          sluice::amap<manual_clock>([](int v) -> asio::awaitable<int> { co_return v; }, values);
      co_await sluice::run_on_each<manual_clock>([](int) -> asio::awaitable<void> { co_return; },
                                                 inputs, o);
      ended = vnow();
    }());
    EXPECT_EQ(ended, c.ends_at) << c.inputs << " inputs";
  }
}

}  // namespace
