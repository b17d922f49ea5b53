#include <sluice/run.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <random>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::error_policy;
using sluice::options;

struct boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST(RunOnEach, PeakInFlightNeverExceedsMaxAtOnce) {
  for (std::size_t limit : {1, 2, 5, 10, 20}) {
    in_flight f;
    std::mt19937 rng(limit);
    std::vector<int> durations(30);
    for (auto& d : durations) d = int(rng() % 10) + 1;
    run_virtual(sluice::run_on_each<manual_clock>(
        [&](int ms) -> asio::awaitable<void> {
          in_flight::guard g(f);
          co_await sleep(std::chrono::milliseconds(ms));
        },
        durations, {.max_at_once = limit}));
    EXPECT_GT(f.peak, 0);
    EXPECT_EQ(f.peak, int(limit)) << "limit " << limit;
  }
}

TEST(RunOnEach, PullsInputsOnlyWhenATaskCanStart) {
  // A 10M-element range is never materialized: only what runs is pulled.
  std::size_t pulled = 0, started = 0;
  bool ok = true;
  auto inputs = std::views::iota(0, 10'000'000) | std::views::transform([&](int i) {
                  ++pulled;
                  return i;
                });
  EXPECT_THROW(run_virtual(sluice::run_on_each<manual_clock>(
                   [&](int i) -> asio::awaitable<void> {
                     ++started;
                     if (pulled > started) ok = false;
                     co_await sleep(1ms);
                     if (i == 99) throw boom("stop");  // ends the run early
                   },
                   inputs, {.max_at_once = 10})),
               boom);
  EXPECT_TRUE(ok);
  EXPECT_EQ(pulled, started);
  EXPECT_LE(pulled, 110u);
}

TEST(RunOnEach, LazinessCountsAtEveryObservation) {
  std::size_t pulled = 0, started = 0, worst = 0;
  auto inputs = std::views::iota(0, 1000) | std::views::transform([&](int i) {
                  ++pulled;
                  return i;
                });
  run_virtual(sluice::run_on_each<manual_clock>(
      [&](int) -> asio::awaitable<void> {
        ++started;
        worst = std::max(worst, pulled - started);
        co_await sleep(1ms);
        worst = std::max(worst, pulled - started);
      },
      inputs, {.max_at_once = 7}));
  EXPECT_EQ(worst, 0u);
  EXPECT_EQ(started, 1000u);
}

TEST(RunOnEach, TwentyJobsLimitFiveOneMillisecondEachTakeExactlyFour) {
  run_virtual(
      sluice::run_on_each<manual_clock>([](int) -> asio::awaitable<void> { co_await sleep(1ms); },
                                        std::views::iota(0, 20), {.max_at_once = 5}));
  EXPECT_EQ(vnow(), 4ms);
}

TEST(RunOnEach, DuplicateInputsAreAllProcessed) {
  std::multiset<int> seen;
  run_virtual(sluice::run_on_each<manual_clock>(
      [&](int x) -> asio::awaitable<void> {
        seen.insert(x);
        co_return;
      },
      std::vector<int>{1, 1, 2, 3, 3, 3}, {.max_at_once = 2}));
  EXPECT_EQ(seen, (std::multiset<int>{1, 1, 2, 3, 3, 3}));
}

TEST(RunOnEach, RateLimitStartsAtExactTimes) {
  std::vector<manual_clock::duration> starts;
  run_virtual(sluice::run_on_each<manual_clock>(
      [&](int) -> asio::awaitable<void> {
        starts.push_back(vnow());
        co_return;
      },
      std::views::iota(0, 5), {.max_per_second = 10}));
  EXPECT_EQ(starts, (std::vector<manual_clock::duration>{0ms, 100ms, 200ms, 300ms, 400ms}));
}

TEST(RunOnEach, ConcurrencySlotIsTakenBeforeTheRateSlot) {
  // max_at_once 2, 4/s burst 4: the first two start at once; the next two wait for a free
  // slot (tasks last 1 s), not for the rate.
  std::vector<manual_clock::duration> starts;
  run_virtual(sluice::run_on_each<manual_clock>(
      [&](int) -> asio::awaitable<void> {
        starts.push_back(vnow());
        co_await sleep(1s);
      },
      std::views::iota(0, 4), {.max_at_once = 2, .max_per_second = 4, .burst = 4}));
  EXPECT_EQ(starts, (std::vector<manual_clock::duration>{0s, 0s, 1s, 1s}));
}

TEST(RunOnEach, FailFastCancelsSiblingsAndRethrowsTheFirst) {
  int cancelled = 0, started = 0;
  EXPECT_THROW(run_virtual(sluice::run_on_each<manual_clock>(
                   [&](int i) -> asio::awaitable<void> {
                     ++started;
                     try {
                       co_await sleep(i == 3 ? 1ms : 1h);
                     } catch (...) {
                       ++cancelled;
                       throw;
                     }
                     if (i == 3) throw boom("task 3");
                   },
                   std::views::iota(0, 100), {.max_at_once = 5})),
               boom);
  EXPECT_EQ(started, 5);    // no input pulled after the failure
  EXPECT_EQ(cancelled, 4);  // every sibling observed cancellation
  EXPECT_EQ(vnow(), 1ms);   // and nobody waited for the hour
}

TEST(RunOnEach, FailFastKeepsTheFirstErrorWhenSeveralFail) {
  try {
    run_virtual(sluice::run_on_each<manual_clock>(
        [&](int i) -> asio::awaitable<void> {
          co_await sleep(std::chrono::milliseconds(10 - i));
          throw boom("task " + std::to_string(i));
        },
        std::views::iota(0, 5), {.max_at_once = 5}));
    FAIL();
  } catch (const boom& e) {
    EXPECT_STREQ(e.what(), "task 4");  // the first to fail, at 6 ms
  }
}

TEST(RunOnEach, KeepGoingRunsEverythingAndReportsEveryFailure) {
  int finished = 0;
  try {
    run_virtual(sluice::run_on_each<manual_clock>(
        [&](int i) -> asio::awaitable<void> {
          co_await sleep(1ms);
          ++finished;
          if (i % 3 == 0) throw boom("bad " + std::to_string(i));
        },
        std::views::iota(0, 10), {.max_at_once = 2, .errors = error_policy::keep_going}));
    FAIL();
  } catch (const sluice::task_errors& e) {
    ASSERT_EQ(e.errors().size(), 4u);
    std::vector<std::size_t> idx;
    for (auto& t : e.errors()) idx.push_back(t.index);
    EXPECT_EQ(idx, (std::vector<std::size_t>{0, 3, 6, 9}));
    EXPECT_EQ(sluice::describe(e.errors()[1].error), "bad 3");
    EXPECT_NE(std::string(e.what()).find("4 of 10 tasks failed"), std::string::npos);
  }
  EXPECT_EQ(finished, 10);
}

TEST(RunOnEach, CancellingTheCallerCancelsEveryChildAndWaits) {
  asio::io_context ctx;
  sluice::testing::virtual_time vt;
  int running = 0, cancelled = 0;
  std::exception_ptr result;
  bool done = false;
  asio::cancellation_signal sig;
  asio::co_spawn(ctx,
                 sluice::run_on_each<manual_clock>(
                     [&](int) -> asio::awaitable<void> {
                       ++running;
                       try {
                         co_await sleep(1h);
                       } catch (...) {
                         ++cancelled;
                       }
                       --running;
                     },
                     std::views::iota(0, 100), {.max_at_once = 3}),
                 asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e) {
                   result = e;
                   done = true;
                 }));
  vt.advance(ctx, 1s);
  EXPECT_EQ(running, 3);
  sig.emit(asio::cancellation_type::terminal);
  vt.run(ctx);
  ASSERT_TRUE(done);
  EXPECT_TRUE(is_cancellation(result));
  EXPECT_EQ(cancelled, 3);
  EXPECT_EQ(running, 0);
}

TEST(RunOnEach, EmptyInputReturnsAtOnce) {
  run_virtual(sluice::run_on_each<manual_clock>([](int) -> asio::awaitable<void> { co_return; },
                                                std::vector<int>{}, {.max_at_once = 3}));
  EXPECT_EQ(vnow(), 0ms);
}

TEST(RunOnEach, InputThatThrowsEndsTheRunWithItsError) {
  auto inputs = std::views::iota(0, 100) | std::views::transform([](int i) {
                  if (i == 7) throw boom("bad input 7");
                  return i;
                });
  int ran = 0;
  EXPECT_THROW(run_virtual(sluice::run_on_each<manual_clock>(
                   [&](int) -> asio::awaitable<void> {
                     ++ran;
                     co_await sleep(1ms);
                   },
                   inputs, {.max_at_once = 2})),
               boom);
  EXPECT_EQ(ran, 7);
}

TEST(RunOnEach, InvalidOptionsThrowBeforeAnythingRuns) {
  int ran = 0;
  auto fn = [&](int) -> asio::awaitable<void> {
    ++ran;
    co_return;
  };
  std::vector<int> in{1, 2};
  EXPECT_THROW((void)sluice::run_on_each(fn, in, {.max_per_second = -1}), std::invalid_argument);
  EXPECT_THROW((void)sluice::run_on_each(fn, in, {.max_per_second = std::nan("")}),
               std::invalid_argument);
  EXPECT_THROW((void)sluice::run_on_each(fn, in, {.burst = 0}), std::invalid_argument);
  EXPECT_EQ(ran, 0);
}

TEST(RunOnEach, SharedLimitsBoundSeveralRunsTogether) {
  in_flight f;
  std::vector<manual_clock::duration> starts;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    sluice::limiter shared{3};
    sluice::basic_rate_limiter<manual_clock> quota{ex, 100};
    auto task = [&](int) -> asio::awaitable<void> {
      in_flight::guard g(f);
      starts.push_back(vnow());
      co_await sleep(50ms);
    };
    options o{.max_at_once = 10, .limiter = &shared, .rate_limiter = &quota};
    int finished = 0;
    for (int r = 0; r < 3; ++r)
      asio::co_spawn(ex, sluice::run_on_each<manual_clock>(task, std::views::iota(0, 4), o),
                     [&](std::exception_ptr) { ++finished; });
    while (finished < 3) co_await sleep(10ms);
  }());
  EXPECT_EQ(f.peak, 3);  // three runs of 10 each, one shared limit of 3
  ASSERT_EQ(starts.size(), 12u);
  for (std::size_t i = 1; i < starts.size(); ++i)
    EXPECT_GE(starts[i] - starts[i - 1], 10ms);  // 100/s shared by all three runs
}

TEST(RunAll, ReturnsResultsInInputOrderWhateverTheDurations) {
  std::mt19937 rng(42);
  std::vector<int> durations(50);
  for (auto& d : durations) d = int(rng() % 20);
  std::vector<std::function<asio::awaitable<int>()>> tasks;
  for (int i = 0; i < 50; ++i)
    tasks.push_back([i, d = durations[i]]() -> asio::awaitable<int> {
      co_await sleep(std::chrono::milliseconds(d));
      co_return i* i;
    });
  for (std::size_t limit : {0, 1, 7}) {
    auto r = run_virtual(sluice::run_all<manual_clock>(tasks, {.max_at_once = limit}));
    ASSERT_EQ(r.size(), 50u);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(r[i], i * i);
  }
}

TEST(RunAll, FastSlowAndSlowFast) {
  auto task = [](int v, int ms) {
    return [v, ms]() -> asio::awaitable<int> {
      co_await sleep(std::chrono::milliseconds(ms));
      co_return v;
    };
  };
  using F = std::function<asio::awaitable<int>()>;
  EXPECT_EQ(run_virtual(sluice::run_all<manual_clock>(std::vector<F>{task(1, 1), task(2, 5)})),
            (std::vector<int>{1, 2}));
  EXPECT_EQ(run_virtual(sluice::run_all<manual_clock>(std::vector<F>{task(1, 5), task(2, 1)})),
            (std::vector<int>{1, 2}));
}

TEST(RunAll, AcceptsAwaitablesVoidTasksAndEmptyInput) {
  auto r = run_virtual([]() -> asio::awaitable<std::vector<std::string>> {
    std::vector<asio::awaitable<std::string>> aws;
    for (int i = 0; i < 3; ++i)
      aws.push_back([](int i) -> asio::awaitable<std::string> { co_return std::to_string(i); }(i));
    co_return co_await sluice::run_all<manual_clock>(std::move(aws), {.max_at_once = 2});
  }());
  EXPECT_EQ(r, (std::vector<std::string>{"0", "1", "2"}));

  int n = 0;
  std::vector<std::function<asio::awaitable<void>()>> voids(4, [&]() -> asio::awaitable<void> {
    ++n;
    co_return;
  });
  run_virtual(sluice::run_all<manual_clock>(voids));
  EXPECT_EQ(n, 4);

  EXPECT_TRUE(run_virtual(sluice::run_all<manual_clock>(
                              std::vector<std::function<asio::awaitable<int>()>>{}))
                  .empty());
}

TEST(RunAll, NonDefaultConstructibleResults) {
  struct v {
    explicit v(int x) : x(x) {}
    int x;
  };
  std::vector<std::function<asio::awaitable<v>()>> tasks;
  for (int i = 0; i < 5; ++i)
    tasks.push_back([i]() -> asio::awaitable<v> {
      co_await sleep(std::chrono::milliseconds(5 - i));
      co_return v{i};
    });
  auto r = run_virtual(sluice::run_all<manual_clock>(tasks, {.max_at_once = 5}));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r[i].x, i);
}

TEST(RunAny, ReturnsTheFastestAndTheLosersObserveCancellation) {
  int cancelled = 0;
  auto task = [&](std::string v, int ms) {
    return [&, v, ms]() -> asio::awaitable<std::string> {
      try {
        co_await sleep(std::chrono::milliseconds(ms));
      } catch (...) {
        ++cancelled;
        throw;
      }
      co_return v;
    };
  };
  using F = std::function<asio::awaitable<std::string>()>;
  auto r = run_virtual(sluice::run_any<manual_clock>(
      std::vector<F>{task("slow", 100), task("fast", 10), task("slower", 200)}));
  EXPECT_EQ(r, "fast");
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(vnow(), 10ms);  // the losers were cancelled, not waited out
}

TEST(RunAny, SkipsFailuresAndThrowsTheLastWhenAllFail) {
  auto task = [](int ms, bool ok) {
    return [ms, ok]() -> asio::awaitable<int> {
      co_await sleep(std::chrono::milliseconds(ms));
      if (!ok) throw boom("failed after " + std::to_string(ms));
      co_return ms;
    };
  };
  using F = std::function<asio::awaitable<int>()>;
  EXPECT_EQ(run_virtual(sluice::run_any<manual_clock>(
                std::vector<F>{task(1, false), task(5, true), task(3, false)})),
            5);
  try {
    run_virtual(sluice::run_any<manual_clock>(
        std::vector<F>{task(1, false), task(5, false), task(3, false)}));
    FAIL();
  } catch (const boom& e) {
    EXPECT_STREQ(e.what(), "failed after 5");
  }
  EXPECT_THROW((void)sluice::run_any<manual_clock>(std::vector<F>{}), std::invalid_argument);
}

TEST(RunAny, RespectsMaxAtOnce) {
  in_flight f;
  std::vector<std::function<asio::awaitable<int>()>> tasks;
  for (int i = 0; i < 10; ++i)
    tasks.push_back([&, i]() -> asio::awaitable<int> {
      in_flight::guard g(f);
      co_await sleep(std::chrono::milliseconds(10 + i));
      if (i < 6) throw boom("no");
      co_return i;
    });
  EXPECT_EQ(run_virtual(sluice::run_any<manual_clock>(tasks, {.max_at_once = 2})), 6);
  EXPECT_EQ(f.peak, 2);
}

}  // namespace

namespace {

TEST(RunOnEach, SharedLimiterAndRateChangedWhileRunning) {
  in_flight f;
  std::vector<int> peaks;
  std::vector<manual_clock::duration> starts;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    sluice::limiter shared{2};
    sluice::basic_rate_limiter<manual_clock> rate{ex, 1000};
    bool done = false;
    asio::co_spawn(ex,
                   sluice::run_on_each<manual_clock>(
                       [&](int) -> asio::awaitable<void> {
                         in_flight::guard g(f);
                         starts.push_back(vnow());
                         co_await sleep(10ms);
                       },
                       std::views::iota(0, 60),
                       {.max_at_once = 10, .limiter = &shared, .rate_limiter = &rate}),
                   [&](std::exception_ptr) { done = true; });
    co_await sleep(50ms);
    peaks.push_back(std::exchange(f.peak, 0));
    shared.set_capacity(6);  // raising: more tasks start at once
    co_await sleep(50ms);
    peaks.push_back(std::exchange(f.peak, 0));
    rate.set_rate(10);  // slower starts from now on
    const auto before = starts.size();
    co_await sleep(500ms);
    EXPECT_LE(starts.size() - before, 6u);  // ~10/s for 0.5 s, plus the slot already due
    while (!done) co_await sleep(100ms);
  }());
  EXPECT_EQ(peaks, (std::vector<int>{2, 6}));
}

}  // namespace
