// aiometer's test catalogue (tests/test_aiometer.py) and README examples, translated where
// they apply to sluice; where sluice decides differently (run_any cancels its losers, leaving
// a stream cancels its tasks, 0 means unlimited) the test asserts sluice's behaviour.
#include <sluice/sluice.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <random>
#include <ranges>
#include <set>
#include <stdexcept>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::options;

struct failure : std::runtime_error {
  failure() : std::runtime_error("failure") {}
};

// TestMaxAtOnce: 30 tasks sleeping up to 10 ms; 0 < max_running <= max_at_once, for every
// runner. (With these durations sluice reaches the limit exactly.)
class MaxAtOnce : public ::testing::TestWithParam<std::size_t> {
 protected:
  in_flight f;
  std::vector<int> durations = [] {
    std::mt19937 rng(1);
    std::vector<int> d(30);
    for (auto& x : d) x = int(rng() % 10) + 1;
    return d;
  }();
  // A member coroutine, not a lambda: a temporary closure would dangle under its frame.
  asio::awaitable<int> task(int ms) {
    in_flight::guard g(f);
    co_await sleep(std::chrono::milliseconds(ms));
    co_return ms;
  }
  auto tasks() {
    std::vector<std::function<asio::awaitable<int>()>> t;
    for (int d : durations) t.push_back([this, d] { return task(d); });
    return t;
  }
};

TEST_P(MaxAtOnce, RunOnEach) {
  run_virtual(sluice::run_on_each<manual_clock>([this](int ms) { return task(ms); }, durations,
                                                {.max_at_once = GetParam()}));
  EXPECT_GT(f.peak, 0);
  EXPECT_LE(f.peak, int(GetParam()));
}

TEST_P(MaxAtOnce, RunAll) {
  auto r = run_virtual(sluice::run_all<manual_clock>(tasks(), {.max_at_once = GetParam()}));
  EXPECT_EQ(r, durations);
  EXPECT_GT(f.peak, 0);
  EXPECT_LE(f.peak, int(GetParam()));
}

TEST_P(MaxAtOnce, Amap) {
  std::multiset<int> got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto s = sluice::amap<manual_clock>([this](int ms) { return task(ms); }, durations,
                                        {.max_at_once = GetParam()});
    while (auto v = co_await s.next()) got.insert(*v);
  }());
  EXPECT_EQ(got, std::multiset<int>(durations.begin(), durations.end()));
  EXPECT_GT(f.peak, 0);
  EXPECT_LE(f.peak, int(GetParam()));
}

TEST_P(MaxAtOnce, RunAny) {
  (void)run_virtual(sluice::run_any<manual_clock>(tasks(), {.max_at_once = GetParam()}));
  EXPECT_GT(f.peak, 0);
  EXPECT_LE(f.peak, int(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Aiometer, MaxAtOnce, ::testing::Values(1, 2, 5, 10, 20));

// TestMaxPerSecond: 3 instant tasks; the gap between consecutive starts is 1/rate (aiometer
// checks it approximately; on the manual clock it is exact to the nanosecond).
class MaxPerSecond : public ::testing::TestWithParam<int> {
 protected:
  std::vector<manual_clock::duration> starts;
  asio::awaitable<int> task() {
    starts.push_back(vnow());
    co_return 0;
  }
  void expect_gaps() {
    ASSERT_GE(starts.size(), 2u);
    const auto period = std::chrono::nanoseconds(1'000'000'000 / GetParam());
    for (std::size_t i = 1; i < starts.size(); ++i) {
      const auto gap = starts[i] - starts[i - 1];
      EXPECT_GE(gap, period);
      EXPECT_LE(gap, period + 1ns);
    }
  }
  options opts() const { return {.max_per_second = double(GetParam())}; }
};

TEST_P(MaxPerSecond, RunOnEach) {
  run_virtual(sluice::run_on_each<manual_clock>([this](int) { return task(); },
                                                std::vector<int>{1, 2, 3}, opts()));
  EXPECT_EQ(starts.size(), 3u);
  expect_gaps();
}

TEST_P(MaxPerSecond, RunAll) {
  std::vector<std::function<asio::awaitable<int>()>> t(3, [this] { return task(); });
  (void)run_virtual(sluice::run_all<manual_clock>(t, opts()));
  expect_gaps();
}

TEST_P(MaxPerSecond, Amap) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto s = sluice::amap<manual_clock>([this](int) { return task(); }, std::vector<int>{1, 2, 3},
                                        opts());
    while (co_await s.next()) {
    }
  }());
  expect_gaps();
}

TEST_P(MaxPerSecond, RunAnyOfFailingTasksStartsEachAtTheRate) {
  // aiometer's run_any waits for all tasks, so 3 start; sluice's returns at the first success,
  // so the first two fail here to make three starts.
  int n = 0;
  std::vector<std::function<asio::awaitable<int>()>> t(3, [&]() -> asio::awaitable<int> {
    starts.push_back(vnow());
    if (++n < 3) throw failure();
    co_return 0;
  });
  (void)run_virtual(sluice::run_any<manual_clock>(t, opts()));
  expect_gaps();
}

INSTANTIATE_TEST_SUITE_P(Aiometer, MaxPerSecond, ::testing::Values(5, 10, 20, 30, 40, 50, 70, 100));

TEST(AiometerCatalogue, AmapTaskExceptionPropagatesItself) {
  EXPECT_THROW(run_virtual([]() -> asio::awaitable<void> {
                 auto s = sluice::amap<manual_clock>(
                     [](int i) -> asio::awaitable<int> {
                       if (i == 2) throw failure();
                       co_return i;
                     },
                     std::views::iota(0, 5));
                 while (co_await s.next()) {
                 }
               }()),
               failure);
}

TEST(AiometerCatalogue, AmapIgnoringResultsCancelsInsteadOfWaiting) {
  // aiometer waits for every task when the context is left without iterating; a sluice stream
  // that is dropped before its first next() never started anything.
  int called = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    {
      auto s = sluice::amap<manual_clock>(
          [&](int i) -> asio::awaitable<int> {
            ++called;
            co_return i;
          },
          std::views::iota(0, 4));
    }
    co_return;
  }());
  EXPECT_EQ(called, 0);
}

TEST(AiometerReadme, QueriesAtMostTenAtOnceAndFivePerSecond) {
  // run_on_each(make_query, queries, max_at_once=10, max_per_second=5)
  std::vector<manual_clock::duration> starts;
  in_flight f;
  run_virtual(sluice::run_on_each<manual_clock>(
      [&](int) -> asio::awaitable<void> {
        in_flight::guard g(f);
        starts.push_back(vnow());
        co_await sleep(3s);
      },
      std::views::iota(0, 30), {.max_at_once = 10, .max_per_second = 5}));
  EXPECT_LE(f.peak, 10);
  for (std::size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], 200ms);
}

TEST(AiometerReadme, RunAllKeepsTheOrderOfFunctions) {
  // results = await aiometer.run_all([partial(fetch, url) for url in urls], max_at_once=2)
  std::vector<std::function<asio::awaitable<std::string>()>> fetches;
  for (std::string url : {"a", "bb", "ccc"})
    fetches.push_back([url]() -> asio::awaitable<std::string> {
      co_await sleep(std::chrono::milliseconds(10 / url.size()));
      co_return url + "!";
    });
  EXPECT_EQ(run_virtual(sluice::run_all<manual_clock>(fetches, {.max_at_once = 2})),
            (std::vector<std::string>{"a!", "bb!", "ccc!"}));
}

}  // namespace
