#include <sluice/run_bounded.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <ranges>
#include <stdexcept>
#include <vector>

namespace {

using namespace sluice::test;

TEST(RunBounded, OutcomesInCompletionOrderAndTheRunGoesOnPastFailures) {
  std::vector<std::string> seen;
  run_virtual([&]() -> asio::awaitable<void> {
    auto tasks = std::views::iota(0, 6) | std::views::transform([](int i) {
                   return [i]() -> asio::awaitable<int> {
                     co_await sleep(std::chrono::milliseconds(10 * (6 - i)));
                     if (i == 4) throw std::runtime_error("four");
                     co_return i;
                   };
                 });
    auto s = sluice::run_bounded<manual_clock>(tasks, 6);
    while (auto r = co_await s.next()) {
      if (r->has_value())
        seen.push_back(std::to_string(r->value()));
      else
        seen.push_back("error:" + sluice::describe(r->error()));
    }
  }());
  EXPECT_EQ(seen, (std::vector<std::string>{"5", "error:four", "3", "2", "1", "0"}));
}

TEST(RunBounded, AtMostLimitRunAndInputsArePulledLazily) {
  in_flight f;
  std::size_t pulled = 0, started = 0, worst = 0;
  auto tasks = std::views::iota(0, 50) | std::views::transform([&](int) {
                 ++pulled;
                 return [&]() -> asio::awaitable<int> {
                   in_flight::guard g(f);
                   ++started;
                   worst = std::max(worst, pulled - started);
                   co_await sleep(1ms);
                   co_return 0;
                 };
               });
  run_virtual([&]() -> asio::awaitable<void> {
    auto s = sluice::run_bounded<manual_clock>(tasks, 3);
    int n = 0;
    while (co_await s.next()) ++n;
    EXPECT_EQ(n, 50);
  }());
  EXPECT_EQ(f.peak, 3);
  EXPECT_EQ(worst, 0u);
}

TEST(RunBounded, EmptyInputYieldsNothingAndLimitZeroIsRejected) {
  using F = std::function<asio::awaitable<int>()>;
  run_virtual([&]() -> asio::awaitable<void> {
    auto s = sluice::run_bounded<manual_clock>(std::vector<F>{}, 2);
    EXPECT_FALSE(co_await s.next());
  }());
  EXPECT_THROW((void)sluice::run_bounded(std::vector<F>{}, 0), std::invalid_argument);
}

TEST(RunBounded, CancellationOfATaskIsItsOutcomeNotTheRunsEnd) {
  run_virtual([&]() -> asio::awaitable<void> {
    std::vector<std::function<asio::awaitable<int>()>> tasks{
        []() -> asio::awaitable<int> {
          throw boost::system::system_error(asio::error::operation_aborted);
          co_return 0;
        },
        []() -> asio::awaitable<int> { co_return 7; }};
    auto s = sluice::run_bounded<manual_clock>(std::move(tasks), 1);
    auto a = co_await s.next();
    auto b = co_await s.next();
    EXPECT_TRUE(is_cancellation(a->error()));
    EXPECT_EQ(b->value(), 7);
    EXPECT_FALSE(co_await s.next());
  }());
}

}  // namespace
