// yield_now: the coroutine resumes after what was already queued on its executor.
#include <sluice/run_sync.hpp>
#include <sluice/yield_now.hpp>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <string>

namespace asio = boost::asio;

TEST(YieldNow, ResumesAfterWhatWasQueuedBefore) {
  asio::io_context ctx;
  std::string order;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        order += "a";
        asio::post(ctx, [&] { order += "p"; });  // queued before the yield
        co_await sluice::yield_now();
        order += "c";
      },
      asio::detached);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        order += "b";
        co_return;
      },
      asio::detached);
  ctx.run();
  EXPECT_EQ(order, "abpc");
}

TEST(YieldNow, TwoLoopsThatNeverWaitTakeTurns) {
  // Without the yield one loop would run to its end before the other starts.
  std::string order;
  auto loop = [&](char c) -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      order += c;
      co_await sluice::yield_now();
    }
  };
  asio::io_context ctx;
  asio::co_spawn(ctx, loop('x'), asio::detached);
  asio::co_spawn(ctx, loop('y'), asio::detached);
  ctx.run();
  EXPECT_EQ(order, "xyxyxy");
}

TEST(YieldNow, OneTurnIsOneHandler) {
  // The coroutine is resumed by exactly one handler of its executor.
  asio::io_context ctx;
  bool done = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await sluice::yield_now();
        done = true;
      },
      asio::detached);
  std::size_t handlers = 0;
  while (!done && ctx.run_one() != 0) ++handlers;
  EXPECT_TRUE(done);
  EXPECT_EQ(handlers, 2u);  // the spawn's first resumption, then the yield's
}
