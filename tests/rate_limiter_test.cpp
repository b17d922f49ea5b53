#include <sluice/rate_limiter.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace sluice::test;
using vlimiter = sluice::basic_rate_limiter<manual_clock>;

// The virtual start times of `count` coroutines that all ask the limiter at time 0.
std::vector<manual_clock::duration> starts(double rate, std::uint32_t burst, int count) {
  std::vector<manual_clock::duration> out;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimiter rl{ex, rate, burst};
    int done = 0;
    for (int i = 0; i < count; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            co_await rl.acquire();
            out.push_back(vnow());
            ++done;
          },
          asio::detached);
    while (done < count) co_await sleep(100ms);
  }());
  return out;
}

TEST(RateLimiter, ExactStartTimesAt1000PerSecond) {
  auto s = starts(1000, 1, 5);
  EXPECT_EQ(s, (std::vector<manual_clock::duration>{0ms, 1ms, 2ms, 3ms, 4ms}));
  s = starts(1000, 5, 7);
  EXPECT_EQ(s, (std::vector<manual_clock::duration>{0ms, 0ms, 0ms, 0ms, 0ms, 1ms, 2ms}));
}

TEST(RateLimiter, ExactStartTimesAt3PerSecond) {
  auto s = starts(3, 1, 4);
  EXPECT_EQ(s, (std::vector<manual_clock::duration>{0ns, 333'333'334ns, 666'666'667ns, 1s}));
  s = starts(3, 5, 6);
  EXPECT_EQ(s, (std::vector<manual_clock::duration>{0s, 0s, 0s, 0s, 0s, 333'333'334ns}));
}

TEST(RateLimiter, ExactStartTimesAtOneEveryFiveSeconds) {
  EXPECT_EQ(starts(0.2, 1, 3), (std::vector<manual_clock::duration>{0s, 5s, 10s}));
  EXPECT_EQ(starts(0.2, 5, 6), (std::vector<manual_clock::duration>{0s, 0s, 0s, 0s, 0s, 5s}));
}

TEST(RateLimiter, HoldForMovesTheWaitersBack) {
  std::vector<manual_clock::duration> at;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimiter rl{ex, 2, 1};  // one start every 500 ms
    co_await rl.acquire();  // t=0
    int done = 0;
    for (int i = 0; i < 3; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            co_await rl.acquire();
            at.push_back(vnow());
            ++done;
          },
          asio::detached);
    co_await sleep(100ms);
    rl.hold_for(3s);  // a Retry-After: 3 seen at t=100ms
    while (done < 3) co_await sleep(100ms);
  }());
  EXPECT_EQ(at, (std::vector<manual_clock::duration>{3100ms, 3600ms, 4100ms}));
}

TEST(RateLimiter, FifoAndACancelledWaiterRefundsItsSlot) {
  std::vector<std::pair<int, manual_clock::duration>> got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimiter rl{ex, 1, 1};  // one start per second
    co_await rl.acquire();  // t=0
    asio::cancellation_signal sig;
    auto body = [&](int i) -> asio::awaitable<void> {
      co_await rl.acquire();
      got.emplace_back(i, vnow());
    };
    asio::co_spawn(ex, body(1), asio::bind_cancellation_slot(sig.slot(), asio::detached));
    asio::co_spawn(ex, body(2), asio::detached);
    asio::co_spawn(ex, body(3), asio::detached);
    co_await sleep(500ms);
    EXPECT_EQ(rl.waiting(), 3u);
    sig.emit(asio::cancellation_type::terminal);  // waiter 1 held the 1 s slot
    co_await sleep(5s);
  }());
  EXPECT_EQ(got, (std::vector<std::pair<int, manual_clock::duration>>{{2, 1s}, {3, 2s}}));
}

TEST(RateLimiter, SetRateWhileWaitersQueue) {
  std::vector<manual_clock::duration> s;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimiter rl{ex, 1, 1};
    for (int i = 0; i < 4; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            co_await rl.acquire();
            s.push_back(vnow());
          },
          asio::detached);
    co_await sleep(100ms);  // t=0 started; next due at 1 s
    rl.set_rate(10);        // the 1 s slot was reserved at T = 1 s; later ones every 100 ms
    co_await sleep(3s);
  }());
  EXPECT_EQ(s, (std::vector<manual_clock::duration>{0ms, 1000ms, 1100ms, 1200ms}));
}

TEST(RateLimiter, TryAcquireDoesNotOvertakeWaiters) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimiter rl{ex, 10, 2};
    EXPECT_TRUE(rl.try_acquire());
    EXPECT_TRUE(rl.try_acquire());
    EXPECT_FALSE(rl.try_acquire());
    asio::co_spawn(ex, rl.acquire(), asio::detached);
    co_await sleep(50ms);
    EXPECT_EQ(rl.waiting(), 1u);
    co_await sleep(60ms);  // t=110 ms: the waiter started at 100 ms
    EXPECT_EQ(rl.waiting(), 0u);
    EXPECT_THROW((void)rl.try_acquire(3), std::invalid_argument);
  }());
}

TEST(RateLimiter, LateTimersDoNotLowerTheRate) {
  // 2000 waiters arrive at 0; each is granted at its GCRA slot, so just before 1 s exactly
  // the starts at 0, 1, ..., 999 ms have been made, and no more.
  int n = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    vlimiter rl{ex, 1000, 1};
    for (int i = 0; i < 2000; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            co_await rl.acquire();
            ++n;
          },
          asio::detached);
    co_await sleep(999'500us);
    EXPECT_EQ(n, 1000);
    co_await sleep(1s);
  }());
  EXPECT_EQ(n, 2000);
}

}  // namespace
