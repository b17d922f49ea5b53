// Per-task timeout and retry, halt policies and progress counters, through the runners.
#include <sluice/amap.hpp>
#include <sluice/progress.hpp>
#include <sluice/run.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::error_policy;
using sluice::halt_policy;
using sluice::options;

struct boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<int> iota(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}

template <class F>
sluice::task_errors catch_task_errors(F&& f) {
  try {
    f();
  } catch (const sluice::task_errors& e) {
    return e;
  }
  ADD_FAILURE() << "no task_errors thrown";
  return sluice::task_errors({}, 0);
}

// ---- timeout ---------------------------------------------------------------------------------

TEST(Timeout, CancelsALongTaskAtTheDeadlineWithATimeoutError) {
  std::map<int, manual_clock::duration> ended;
  int cancelled = 0;
  auto e = catch_task_errors([&] {
    run_virtual(sluice::run_on_each<manual_clock>(
        [&](int i) -> asio::awaitable<void> {
          co_await sleep_counting_cancel(i, i % 2 ? 50ms : 10ms, cancelled);
          ended[i] = vnow();
        },
        iota(4), {.max_at_once = 4, .errors = error_policy::keep_going, .timeout = 30ms}));
  });
  ASSERT_EQ(e.errors().size(), 2u);
  for (const auto& f : e.errors()) {
    EXPECT_EQ(f.index % 2, 1u);
    EXPECT_EQ(f.attempts, 1u);
    try {
      std::rethrow_exception(f.error);
    } catch (const sluice::timeout_error& t) {
      EXPECT_EQ(t.code(), asio::error::timed_out);
      EXPECT_STREQ(t.what(), "task timed out after 30 ms");
    }
  }
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[0], 10ms);
}

TEST(Timeout, UnderFailFastTheRunThrowsTheTimeoutAtTheDeadline) {
  manual_clock::duration at{};
  EXPECT_THROW(run_virtual([&]() -> asio::awaitable<void> {
                 try {
                   co_await sluice::run_on_each<manual_clock>(
                       [](int) -> asio::awaitable<void> { co_await sleep(1s); }, iota(3),
                       {.max_at_once = 2, .timeout = 250ms});
                 } catch (...) {
                   at = vnow();
                   throw;
                 }
               }()),
               sluice::timeout_error);
  EXPECT_EQ(at, 250ms);
}

TEST(Timeout, AFastTaskIsUntouchedAndTheWorkerGoesOn) {
  // One worker runs every task: after a timeout its next task must run normally.
  std::vector<int> done;
  auto e = catch_task_errors([&] {
    run_virtual(sluice::run_on_each<manual_clock>(
        [&](int i) -> asio::awaitable<void> {
          co_await sleep(i == 1 ? 100ms : 5ms);
          done.push_back(i);
        },
        iota(4), {.max_at_once = 1, .errors = error_policy::keep_going, .timeout = 20ms}));
  });
  EXPECT_EQ(done, (std::vector<int>{0, 2, 3}));
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].index, 1u);
}

// ---- retry ---------------------------------------------------------------------------------

TEST(Retry, BacksOffOnTheExactFullJitterSchedule) {
  std::vector<manual_clock::duration> starts;
  std::mt19937_64 gen(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  options o{
      .retry = {.attempts = 5, .base = 100ms, .cap = 300ms, .jitter = [&] { return u(gen); }}};
  int calls = 0;
  auto r = run_virtual(sluice::run_all<manual_clock>(
      std::vector{std::function<asio::awaitable<int>()>([&]() -> asio::awaitable<int> {
        starts.push_back(vnow());
        if (++calls < 5) throw boom("flaky");
        co_return 7;
      })},
      o));
  EXPECT_EQ(r, std::vector<int>{7});
  // The same generator, replayed: waits are floor(j * min(cap, base * 2^(k-1))).
  std::mt19937_64 replay(42);
  std::uniform_real_distribution<double> u2(0.0, 1.0);
  std::vector<manual_clock::duration> expected{0ns};
  const std::int64_t ceilings[] = {100'000'000, 200'000'000, 300'000'000, 300'000'000};
  for (auto c : ceilings)
    expected.push_back(expected.back() +
                       std::chrono::nanoseconds(std::int64_t(std::floor(u2(replay) * double(c)))));
  EXPECT_EQ(starts, expected);
}

TEST(Retry, GivesUpAfterTheLastAttemptAndReportsTheCount) {
  int calls = 0;
  auto e = catch_task_errors([&] {
    run_virtual(sluice::run_on_each<manual_clock>(
        [&](int) -> asio::awaitable<void> {
          ++calls;
          co_await sleep(1ms);
          throw boom("always");
        },
        iota(1),
        {.errors = error_policy::keep_going,
         .retry = {.attempts = 3, .base = 10ms, .jitter = [] { return 0.5; }}}));
  });
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.errors()[0].attempts, 3u);
}

TEST(Retry, ThePredicateDecidesAndCancellationIsNeverRetriedByDefault) {
  int calls = 0;
  EXPECT_THROW(run_virtual(sluice::run_on_each<manual_clock>(
                   [&](int) -> asio::awaitable<void> {
                     ++calls;
                     co_await sleep(1ms);
                     throw std::logic_error("a bug, not a glitch");
                   },
                   iota(1),
                   {.retry = {.attempts = 5,
                              .retryable =
                                  [](const std::exception_ptr& e) {
                                    try {
                                      std::rethrow_exception(e);
                                    } catch (const boom&) {
                                      return true;
                                    } catch (...) {
                                      return false;
                                    }
                                  }}})),
               std::logic_error);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(sluice::detail::default_retryable(
      std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted))));
  EXPECT_TRUE(sluice::detail::default_retryable(std::make_exception_ptr(boom("x"))));
}

TEST(Retry, ABackingOffTaskHoldsNoPlace) {
  // One place: while task 0 backs off for 1 s, tasks 1 and 2 run in it.
  in_flight f;
  std::vector<std::pair<int, manual_clock::duration>> starts;
  int calls0 = 0;
  run_virtual(sluice::run_on_each<manual_clock>(
      [&](int i) -> asio::awaitable<void> {
        in_flight::guard g(f);
        starts.emplace_back(i, vnow());
        co_await sleep(10ms);
        if (i == 0 && ++calls0 == 1) throw boom("once");
      },
      iota(3), {.max_at_once = 1, .retry = {.attempts = 2, .base = 1s, .cap = 1s, .jitter = [] {
                                              return 1.0;
                                            }}}));
  EXPECT_EQ(f.peak, 1);
  using P = std::pair<int, manual_clock::duration>;
  EXPECT_EQ(starts, (std::vector<P>{{0, 0ms}, {1, 10ms}, {2, 20ms}, {0, 1010ms}}));
}

TEST(Retry, EveryAttemptIsANewStartForTheRateLimiter) {
  std::vector<manual_clock::duration> starts;
  int calls = 0;
  run_virtual(sluice::run_on_each<manual_clock>(
      [&](int) -> asio::awaitable<void> {
        starts.push_back(vnow());
        if (++calls < 3) throw boom("again");
        co_return;
      },
      iota(1), {.max_per_second = 10, .retry = {.attempts = 3, .jitter = [] { return 0.0; }}}));
  EXPECT_EQ(starts, (std::vector<manual_clock::duration>{0ms, 100ms, 200ms}));
}

TEST(Retry, ATimedOutAttemptIsRetried) {
  int calls = 0;
  auto r = run_virtual(sluice::run_all<manual_clock>(
      std::vector{std::function<asio::awaitable<int>()>([&]() -> asio::awaitable<int> {
        co_await sleep(++calls == 1 ? 1s : 10ms);
        co_return calls;
      })},
      {.timeout = 100ms, .retry = {.attempts = 2, .jitter = [] { return 0.0; }}}));
  EXPECT_EQ(r, std::vector<int>{2});
  EXPECT_EQ(vnow(), 110ms);
}

TEST(Retry, OfOneShotAwaitablesIsRejected) {
  std::vector<asio::awaitable<int>> tasks;
  EXPECT_THROW(sluice::run_all<manual_clock>(std::move(tasks), {.retry = {.attempts = 2}}),
               std::invalid_argument);
}

// ---- halt ----------------------------------------------------------------------------------

// Task i sleeps i+1 ms and fails when fails(i).
template <class Fails>
auto staggered(Fails fails, int& cancelled, std::vector<int>& started) {
  return [&started, &cancelled, fails](int i) -> asio::awaitable<void> {
    started.push_back(i);
    co_await sleep_counting_cancel(i, std::chrono::milliseconds(i + 1), cancelled);
    if (fails(i)) throw boom("task " + std::to_string(i));
  };
}

TEST(Halt, NowFailNCancelsTheRunningAndThrowsEveryFailure) {
  int cancelled = 0;
  std::vector<int> started;
  auto e = catch_task_errors([&] {
    run_virtual(sluice::run_on_each<manual_clock>(
        staggered([](int i) { return i == 1 || i == 2; }, cancelled, started), iota(20),
        {.max_at_once = 4,
         .errors = error_policy::halt,
         .halt = halt_policy::parse("now,fail=2")}));
  });
  EXPECT_EQ(e.errors().size(), 2u);
  EXPECT_NE(std::string(e.what()).find("halted (now,fail=2)"), std::string::npos) << e.what();
  EXPECT_EQ(started.size(), 6u);  // 0..3, then 4 after 0 and 5 after 1
  EXPECT_EQ(cancelled, 3);        // 3, 4, 5 were running at 3 ms
}

TEST(Halt, SoonLetsTheRunningFinishAndStartsNothingMore) {
  int cancelled = 0;
  std::vector<int> started;
  auto e = catch_task_errors([&] {
    run_virtual(sluice::run_on_each<manual_clock>(
        staggered([](int i) { return i == 0; }, cancelled, started), iota(20),
        {.max_at_once = 4,
         .errors = error_policy::halt,
         .halt = halt_policy::parse("soon,fail=1")}));
  });
  EXPECT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(cancelled, 0);
  EXPECT_EQ(vnow(), 4ms);
}

TEST(Halt, SoonStillRecordsTheFailuresOfTasksLeftToFinish) {
  // 0 fails at 1 ms (the halt); 2 and 3, left running, fail at 3 and 4 ms: all three count.
  int cancelled = 0;
  std::vector<int> started;
  auto e = catch_task_errors([&] {
    run_virtual(sluice::run_on_each<manual_clock>(
        staggered([](int i) { return i != 1; }, cancelled, started), iota(20),
        {.max_at_once = 4,
         .errors = error_policy::halt,
         .halt = halt_policy::parse("soon,fail=1")}));
  });
  EXPECT_EQ(e.errors().size(), 3u);
  EXPECT_EQ(started.size(), 4u);
}

TEST(Halt, SuccessEndsTheRunNormallyDespiteEarlierFailures) {
  int cancelled = 0;
  std::vector<int> started;
  run_virtual(sluice::run_on_each<manual_clock>(
      staggered([](int i) { return i < 2; }, cancelled, started), iota(20),
      {.max_at_once = 3,
       .errors = error_policy::halt,
       .halt = halt_policy::parse("now,success=1")}));
  EXPECT_EQ(vnow(), 3ms);   // task 2 succeeds at 3 ms
  EXPECT_EQ(cancelled, 2);  // 3 and 4 were running
}

TEST(Halt, FailPercentWaitsForThreeFinishedTasks) {
  // Every other task fails: 50% is reached at the 2nd task, but only counted from the 3rd.
  int cancelled = 0;
  std::vector<int> started;
  auto e = catch_task_errors([&] {
    run_virtual(sluice::run_on_each<manual_clock>(
        staggered([](int i) { return i % 2 == 0; }, cancelled, started), iota(20),
        {.max_at_once = 1,
         .errors = error_policy::halt,
         .halt = halt_policy::parse("soon,fail=60%")}));
  });
  // 0 fails (1/1), 1 ok (1/2), 2 fails (2/3 = 67% >= 60%): halt after 3 tasks.
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(e.errors().size(), 2u);
}

TEST(Halt, DoneNThrowsFailuresLikeKeepGoing) {
  int cancelled = 0;
  std::vector<int> started;
  auto e = catch_task_errors([&] {
    run_virtual(sluice::run_on_each<manual_clock>(
        staggered([](int i) { return i == 1; }, cancelled, started), iota(20),
        {.max_at_once = 1,
         .errors = error_policy::halt,
         .halt = halt_policy::parse("soon,done=3")}));
  });
  EXPECT_EQ(started.size(), 3u);
  EXPECT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(std::string(e.what()).find("halted"), std::string::npos);
}

TEST(Halt, RunAllThatHaltsEarlyHasNoCompleteResult) {
  auto tasks = std::vector<std::function<asio::awaitable<int>()>>(
      5, []() -> asio::awaitable<int> { co_return 1; });
  EXPECT_THROW(run_virtual(sluice::run_all<manual_clock>(
                   tasks, {.max_at_once = 1,
                           .errors = error_policy::halt,
                           .halt = halt_policy::parse("soon,success=2")})),
               sluice::halted);
}

TEST(Halt, AmapStreamEndsAfterTheHalt) {
  auto r = run_virtual([]() -> asio::awaitable<std::vector<int>> {
    auto s = sluice::amap<manual_clock>(
        [](int i) -> asio::awaitable<int> {
          co_await sleep(std::chrono::milliseconds(i + 1));
          co_return i;
        },
        iota(100),
        {.max_at_once = 2,
         .errors = error_policy::halt,
         .halt = halt_policy::parse("soon,success=5")});
    std::vector<int> out;
    while (auto v = co_await s.next()) out.push_back(*v);
    co_return out;
  }());
  // 0 and 1 start; 5 successes (0..4) halt it; 5 was running and finishes ("soon").
  EXPECT_EQ(r, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

// ---- progress --------------------------------------------------------------------------------

TEST(Progress, CountsEveryStageOfARun) {
  sluice::progress p;
  std::size_t max_waiting = 0, max_running = 0, changes = 0;
  p.on_change = [&](const sluice::progress& p) {
    ++changes;
    auto c = p.snapshot();
    max_waiting = std::max(max_waiting, c.waiting_on_rate);
    max_running = std::max(max_running, c.running);
  };
  int calls3 = 0;
  EXPECT_THROW(run_virtual(sluice::run_on_each<manual_clock>(
                   [&](int i) -> asio::awaitable<void> {
                     co_await sleep(50ms);
                     if (i == 3 && ++calls3 == 1) throw boom("retry me");
                     if (i == 7) throw boom("always");
                   },
                   iota(10),
                   {.max_at_once = 3,
                    .max_per_second = 100,
                    .errors = error_policy::keep_going,
                    .retry = {.attempts = 2, .jitter = [] { return 0.0; }},
                    .progress = &p})),
               sluice::task_errors);
  auto c = p.snapshot();
  EXPECT_EQ(c.pulled, 10u);
  EXPECT_EQ(c.started, 12u);  // 3 and 7 twice
  EXPECT_EQ(c.running, 0u);
  EXPECT_EQ(c.succeeded, 9u);
  EXPECT_EQ(c.failed, 1u);
  EXPECT_EQ(c.retried, 2u);
  EXPECT_EQ(c.cancelled, 0u);
  EXPECT_EQ(c.waiting_on_rate, 0u);
  EXPECT_EQ(max_running, 3u);
  EXPECT_GE(max_waiting, 1u);
  EXPECT_GT(changes, 40u);
}

TEST(Progress, CountsTasksCancelledByAFailFastStop) {
  sluice::progress p;
  EXPECT_THROW(run_virtual(sluice::run_on_each<manual_clock>(
                   [&](int i) -> asio::awaitable<void> {
                     co_await sleep(std::chrono::milliseconds(i + 1));
                     if (i == 0) throw boom("first");
                   },
                   iota(10), {.max_at_once = 4, .progress = &p})),
               boom);
  auto c = p.snapshot();
  EXPECT_EQ(c.failed, 1u);
  EXPECT_EQ(c.cancelled, 3u);
  EXPECT_EQ(c.running, 0u);
  EXPECT_EQ(c.started, 4u);
}

}  // namespace
