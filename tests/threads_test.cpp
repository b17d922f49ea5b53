// Runners on real threads: several io_contexts each on its own thread, and one run on a
// multi-threaded io_context through a strand. Run under ThreadSanitizer by the tsan preset.
#include <sluice/sluice.hpp>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<int> tick(int i) {
  asio::steady_timer t(co_await asio::this_coro::executor, 100us);
  co_await t.async_wait(asio::use_awaitable);
  co_return i;
}

TEST(ThreadsRunners, IndependentRunsOnSeveralThreads) {
  std::atomic<long> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      asio::io_context ctx;
      asio::co_spawn(
          ctx,
          [&]() -> asio::awaitable<void> {
            auto s = sluice::amap(tick, std::views::iota(0, 200),
                                  {.max_at_once = 16, .max_per_second = 100000, .burst = 10});
            long sum = 0;
            while (auto v = co_await s.next()) sum += *v;
            total += sum;
          },
          asio::detached);
      ctx.run();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(total.load(), 4L * (199 * 200 / 2));
}

TEST(ThreadsRunners, RunOnAStrandOfAMultiThreadedContext) {
  asio::io_context ctx(2);
  auto strand = asio::make_strand(ctx);
  std::atomic<int> peak{0};
  int now = 0;
  std::vector<int> out;
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        std::vector<std::function<asio::awaitable<int>()>> tasks;
        for (int i = 0; i < 300; ++i)
          tasks.push_back([&, i]() -> asio::awaitable<int> {
            peak = std::max(peak.load(), ++now);
            co_await tick(i);
            --now;
            co_return i;
          });
        out = co_await sluice::run_all(tasks, {.max_at_once = 8});
      },
      asio::detached);
  std::thread other([&] { ctx.run(); });
  ctx.run();
  other.join();
  ASSERT_EQ(out.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(out[i], i);
  EXPECT_LE(peak.load(), 8);
}

TEST(ThreadsInThreadPool, LimiterSharedByCoroutinesOnAStrand) {
  asio::thread_pool pool(2);
  auto strand = asio::make_strand(pool);
  sluice::limiter l{3};
  std::atomic<int> done{0};
  int in_use_peak = 0;
  for (int i = 0; i < 50; ++i)
    asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<void> {
          auto p = co_await l.acquire();
          in_use_peak = std::max<int>(in_use_peak, int(l.in_use()));
          asio::steady_timer t(co_await asio::this_coro::executor, 50us);
          co_await t.async_wait(asio::use_awaitable);
          ++done;
        },
        asio::detached);
  pool.join();
  EXPECT_EQ(done.load(), 50);
  EXPECT_EQ(in_use_peak, 3);
}

}  // namespace
