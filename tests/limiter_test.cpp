#include <sluice/limiter.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::limiter;

TEST(Limiter, RejectsZeroCapacityAndOversizedRequests) {
  EXPECT_THROW(limiter{0}, std::invalid_argument);
  limiter l{3};
  EXPECT_THROW((void)l.try_acquire(4), std::invalid_argument);
  EXPECT_THROW((void)l.try_acquire(0), std::invalid_argument);
  EXPECT_THROW(l.set_capacity(0), std::invalid_argument);
  try {
    (void)l.try_acquire(4);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the capacity 3"), std::string::npos);
  }
}

TEST(Limiter, PermitsAreRaiiAndMoveOnly) {
  limiter l{2};
  {
    auto a = l.try_acquire();
    ASSERT_TRUE(a);
    auto b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_EQ(l.in_use(), 1u);
    auto c = l.try_acquire();
    EXPECT_TRUE(c);
    EXPECT_FALSE(l.try_acquire());
  }
  EXPECT_EQ(l.in_use(), 0u);
}

TEST(Limiter, WaitersAreServedInArrivalOrderAndABigHeadIsNotOvertaken) {
  std::vector<std::string> order;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    limiter l{3};
    auto held = co_await l.acquire(2);  // 1 free
    auto waiter = [&](std::string name, std::size_t n) -> asio::awaitable<void> {
      auto p = co_await l.acquire(n);
      order.push_back(name);
      co_await sleep(1ms);
    };
    asio::co_spawn(ex, waiter("big3", 3), asio::detached);
    asio::co_spawn(ex, waiter("small1", 1), asio::detached);  // would fit now, must wait
    co_await sleep(1ms);
    EXPECT_TRUE(order.empty());
    EXPECT_EQ(l.waiting(), 2u);
    held.release();
    co_await sleep(5ms);
  }());
  EXPECT_EQ(order, (std::vector<std::string>{"big3", "small1"}));
}

TEST(Limiter, CancelledWaiterLeavesTheQueueWithoutLeakingAPermit) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    limiter l{1};
    auto held = co_await l.acquire();
    asio::cancellation_signal sig;
    bool cancelled = false;
    asio::co_spawn(
        ex, [&]() -> asio::awaitable<void> { auto p = co_await l.acquire(); },
        asio::bind_cancellation_slot(
            sig.slot(), [&](std::exception_ptr e) { cancelled = e && is_cancellation(e); }));
    co_await sleep(1ms);
    EXPECT_EQ(l.waiting(), 1u);
    sig.emit(asio::cancellation_type::terminal);
    co_await sleep(1ms);
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(l.waiting(), 0u);
    held.release();
    EXPECT_EQ(l.in_use(), 0u);
    EXPECT_TRUE(l.try_acquire());
  }());
}

TEST(Limiter, CancellingTheHeadLetsSmallerWaitersThrough) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    limiter l{2};
    auto held = co_await l.acquire(1);
    asio::cancellation_signal sig;
    bool small_got_it = false;
    asio::co_spawn(
        ex, [&]() -> asio::awaitable<void> { auto p = co_await l.acquire(2); },
        asio::bind_cancellation_slot(sig.slot(), asio::detached));
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          auto p = co_await l.acquire(1);
          small_got_it = true;
        },
        asio::detached);
    co_await sleep(1ms);
    EXPECT_FALSE(small_got_it);
    sig.emit(asio::cancellation_type::terminal);
    co_await sleep(1ms);
    EXPECT_TRUE(small_got_it);
  }());
}

TEST(Limiter, RaisingCapacityWakesWaitersAtOnceLoweringWaitsForReturns) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    limiter l{1};
    int got = 0;
    std::vector<sluice::permit> held;
    for (int i = 0; i < 3; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            held.push_back(co_await l.acquire());
            ++got;
          },
          asio::detached);
    co_await sleep(1ms);
    EXPECT_EQ(got, 1);
    l.set_capacity(3);
    co_await sleep(1ms);
    EXPECT_EQ(got, 3);
    l.set_capacity(1);
    EXPECT_EQ(l.in_use(), 3u);  // nothing is taken back
    EXPECT_FALSE(l.try_acquire());
    held.pop_back();
    held.pop_back();
    EXPECT_FALSE(l.try_acquire());  // 1 in use, capacity 1
    held.clear();
    EXPECT_TRUE(l.try_acquire());
  }());
}

TEST(Limiter, LoweringCapacityBelowAWaitersRequestFailsIt) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    limiter l{4};
    auto held = co_await l.acquire(4);
    std::exception_ptr error;
    asio::co_spawn(
        ex, [&]() -> asio::awaitable<void> { auto p = co_await l.acquire(3); },
        [&](std::exception_ptr e) { error = e; });
    co_await sleep(1ms);
    l.set_capacity(2);
    co_await sleep(1ms);
    EXPECT_TRUE(error);
    if (!error) co_return;
    EXPECT_THROW(std::rethrow_exception(error), std::invalid_argument);
  }());
}

}  // namespace
