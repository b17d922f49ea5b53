// Runners on real threads: several io_contexts each on its own thread, and one run on a
// multi-threaded io_context through a strand. Run under ThreadSanitizer by the tsan preset.
#include <sluice/detail/block_cache.hpp>
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

TEST(ThreadsRunners, TaskScopeOnAStrandOfAMultiThreadedContext) {
  // Jobs and their handles move between the context's threads, one at a time (the strand).
  asio::io_context ctx(2);
  auto strand = asio::make_strand(ctx);
  long sum = -1;
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        sum = co_await sluice::with_scope({.max_at_once = 8},
                                          [](sluice::task_scope& s) -> asio::awaitable<long> {
                                            std::vector<sluice::job<int>> handles;
                                            for (int i = 0; i < 400; ++i)
                                              handles.push_back(co_await s.submit(tick, i));
                                            long total = 0;
                                            for (auto& h : handles) total += co_await h.result();
                                            co_return total;
                                          });
      },
      asio::detached);
  std::thread other([&] { ctx.run(); });
  ctx.run();
  other.join();
  EXPECT_EQ(sum, 399L * 400 / 2);
}

TEST(ThreadsBlockCache, BlocksFreedOnAnotherThreadJoinThatThreadsCache) {
  using sluice::detail::block_cache;
  std::vector<void*> made;
  for (int i = 0; i < 100; ++i) made.push_back(block_cache::allocate(100));
  std::vector<void*> reused;
  std::thread other([&] {
    for (void* p : made) block_cache::deallocate(p, 100);
    // Same size class (65..128 bytes): served from this thread's cache, last freed first.
    for (int i = 0; i < 100; ++i) reused.push_back(block_cache::allocate(128));
    for (void* p : reused) block_cache::deallocate(p, 128);
  });  // the thread's cache goes back to the heap when it ends
  other.join();
  EXPECT_EQ(std::vector<void*>(made.rbegin(), made.rend()), reused);
  // Another size class never shares blocks with this one.
  void* small = block_cache::allocate(64);
  block_cache::deallocate(small, 64);
  void* larger = block_cache::allocate(128);
  EXPECT_NE(larger, small);
  block_cache::deallocate(larger, 128);
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
