#include <sluice/amap_results.hpp>
#include <sluice/errors.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <ranges>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::error_policy;

struct boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Sleeps `ms`; a negative value sleeps -ms and then throws.
asio::awaitable<int> sleep_or_throw(int ms) {
  co_await sleep(std::chrono::milliseconds(ms < 0 ? -ms : ms));
  if (ms < 0) throw boom("task " + std::to_string(-ms));
  co_return ms;
}

// "index:value" or "index:!error" per result, in delivery order.
template <class T>
asio::awaitable<std::vector<std::string>> describe_all(sluice::stream<sluice::task_result<T>>& s) {
  std::vector<std::string> out;
  while (auto r = co_await s.next()) {
    std::string d = std::to_string(r->index) + ":";
    if (r->result) {
      d += std::to_string(r->result.value());
    } else {
      try {
        std::rethrow_exception(r->result.error());
      } catch (const std::exception& e) {
        d += std::string("!") + e.what();
      }
    }
    if (r->attempts != 1) d += " x" + std::to_string(r->attempts);
    out.push_back(d);
  }
  co_return out;
}

using strings = std::vector<std::string>;

TEST(AmapResults, DeliversFailuresInCompletionOrderAndNeverThrowsThem) {
  auto r = run_virtual([]() -> asio::awaitable<strings> {
    auto s =
        sluice::amap_results<manual_clock>(sleep_or_throw, std::vector<int>{30, -10, 20, -40},
                                           {.max_at_once = 4, .errors = error_policy::keep_going});
    co_return co_await describe_all(s);
  }());
  EXPECT_EQ(r, (strings{"1:!task 10", "2:20", "0:30", "3:!task 40"}));
}

TEST(AmapResults, OrderedDeliversEveryTaskInInputOrder) {
  auto r = run_virtual([]() -> asio::awaitable<strings> {
    auto s = sluice::amap_results<manual_clock>(
        sleep_or_throw, std::vector<int>{30, -10, 20, -40, 5},
        {.max_at_once = 2, .ordered = true, .errors = error_policy::keep_going});
    co_return co_await describe_all(s);
  }());
  EXPECT_EQ(r, (strings{"0:30", "1:!task 10", "2:20", "3:!task 40", "4:5"}));
}

TEST(AmapResults, FailFastDeliversTheFailureThenEndsWithoutThrowing) {
  auto r = run_virtual([]() -> asio::awaitable<strings> {
    auto s = sluice::amap_results<manual_clock>(
        sleep_or_throw, std::vector<int>{5, -10, 100, 100, 100}, {.max_at_once = 3});
    co_return co_await describe_all(s);
  }());
  // Task 2 (running) is cancelled by the stop and yields nothing; 3 and 4 never start.
  EXPECT_EQ(r, (strings{"0:5", "1:!task 10"}));
  EXPECT_EQ(vnow(), 10ms);
}

TEST(AmapResults, HaltSoonLetsTheRunningFinishAndDeliversThem) {
  sluice::options o{.max_at_once = 2, .errors = error_policy::halt};
  o.halt = sluice::halt_policy::parse("soon,fail=1");
  auto r = run_virtual([&]() -> asio::awaitable<strings> {
    auto s = sluice::amap_results<manual_clock>(sleep_or_throw, std::vector<int>{-10, 30, 1, 1}, o);
    co_return co_await describe_all(s);
  }());
  EXPECT_EQ(r, (strings{"0:!task 10", "1:30"}));
}

TEST(AmapResults, OrderedDeliversWhatCompletedAfterATaskAStopCancelled) {
  sluice::options o{.max_at_once = 3, .ordered = true, .errors = error_policy::halt};
  o.halt = sluice::halt_policy::parse("now,fail=1");
  auto r = run_virtual([&]() -> asio::awaitable<strings> {
    // 0 runs long and is cancelled by the halt at 20 ms; 1 ended at 5 ms.
    auto s =
        sluice::amap_results<manual_clock>(sleep_or_throw, std::vector<int>{100, 5, -20, 100}, o);
    co_return co_await describe_all(s);
  }());
  EXPECT_EQ(r, (strings{"1:5", "2:!task 20"}));
}

TEST(AmapResults, CountsAttemptsOfRetriedTasks) {
  std::vector<int> calls(3);
  auto r = run_virtual([&]() -> asio::awaitable<strings> {
    auto s = sluice::amap_results<manual_clock>(
        [&](int i) -> asio::awaitable<int> {
          co_await sleep(1ms);
          // Task 0 succeeds at its third attempt, task 1 never does, task 2 at once.
          if (++calls[i] < 3 && i == 0) throw boom("flaky");
          if (i == 1) throw boom("always");
          co_return i;
        },
        std::vector<int>{0, 1, 2},
        {.max_at_once = 3,
         .ordered = true,
         .errors = error_policy::keep_going,
         .retry = {.attempts = 3, .base = 1ms, .cap = 1ms, .jitter = [] { return 0.0; }}});
    co_return co_await describe_all(s);
  }());
  EXPECT_EQ(r, (strings{"0:0 x3", "1:!always x3", "2:2"}));
}

TEST(AmapResults, ATimeoutIsATimeoutErrorResult) {
  auto r = run_virtual([]() -> asio::awaitable<strings> {
    auto s = sluice::amap_results<manual_clock>(
        sleep_or_throw, std::vector<int>{10, 500},
        {.max_at_once = 2, .errors = error_policy::keep_going, .timeout = 100ms});
    co_return co_await describe_all(s);
  }());
  EXPECT_EQ(r, (strings{"0:10", "1:!task timed out after 100 ms"}));
}

TEST(AmapResults, VoidTasksToo) {
  int n = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    auto s = sluice::amap_results<manual_clock>(
        [&](int i) -> asio::awaitable<void> {
          co_await sleep(std::chrono::milliseconds(i));
          if (i == 2) throw boom("two");
        },
        std::vector<int>{1, 2, 3}, {.errors = error_policy::keep_going});
    while (auto r = co_await s.next()) n += r->result ? 1 : 10;
  }());
  EXPECT_EQ(n, 12);
}

TEST(AmapResults, ABrokenInputIsThrownAfterTheResultsBeforeIt) {
  auto r = run_virtual([]() -> asio::awaitable<std::string> {
    auto inputs = std::views::iota(0, 10) | std::views::transform([](int i) {
                    if (i == 2) throw boom("input broke");
                    return 1;
                  });
    auto s = sluice::amap_results<manual_clock>(sleep_or_throw, inputs, {.max_at_once = 1});
    std::string seen;
    try {
      while (auto x = co_await s.next()) seen += std::to_string(x->index);
    } catch (const boom& e) {
      seen += std::string(" ") + e.what();
    }
    co_return seen;
  }());
  EXPECT_EQ(r, "01 input broke");
}

}  // namespace
