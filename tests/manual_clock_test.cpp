#include <sluice/limiter.hpp>
#include <sluice/testing/manual_clock.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

namespace {

using namespace sluice::test;
using sluice::testing::virtual_time;

TEST(ManualClock, TimersFireAtExactVirtualTimesWithoutSleeping) {
  asio::io_context ctx;
  virtual_time vt;
  std::vector<manual_clock::duration> fired;
  vtimer a(ctx, 30s), b(ctx, 10ms), c(ctx, 10ms);
  for (auto* t : {&a, &b, &c}) t->async_wait([&](auto) { fired.push_back(vnow()); });
  const auto real0 = std::chrono::steady_clock::now();
  vt.run(ctx);
  EXPECT_LT(std::chrono::steady_clock::now() - real0, 5s);
  EXPECT_EQ(fired, (std::vector<manual_clock::duration>{10ms, 10ms, 30s}));
  EXPECT_EQ(vt.elapsed(), 30s);
}

TEST(ManualClock, AdvanceRunsOnlyTheTimersOnTheWay) {
  asio::io_context ctx;
  virtual_time vt;
  int fired = 0;
  vtimer a(ctx, 5ms), b(ctx, 50ms);
  a.async_wait([&](auto) { ++fired; });
  b.async_wait([&](auto) { ++fired; });
  vt.advance(ctx, 10ms);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(vnow(), 10ms);
  vt.advance(ctx, 40ms);
  EXPECT_EQ(fired, 2);
}

TEST(ManualClock, DeadlockIsReportedInsteadOfHanging) {
  asio::io_context ctx;
  virtual_time vt;
  sluice::limiter l{1};
  auto held = l.try_acquire();
  asio::co_spawn(
      ctx, [&]() -> asio::awaitable<void> { auto p = co_await l.acquire(); }, asio::detached);
  EXPECT_THROW(vt.run(ctx), sluice::testing::deadlock);
  held.release();  // let it finish so the context can be destroyed cleanly
  vt.run(ctx);
}

TEST(ManualClock, TwentyJobsLimitFiveOneMillisecondEachTakeExactlyFour) {
  asio::io_context ctx;
  virtual_time vt;
  sluice::limiter l{5};
  int done = 0;
  for (int i = 0; i < 20; ++i)
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          auto p = co_await l.acquire();
          co_await sleep(1ms);
          ++done;
        },
        asio::detached);
  vt.run(ctx);
  EXPECT_EQ(done, 20);
  EXPECT_EQ(vt.elapsed(), 4ms);
}

}  // namespace
