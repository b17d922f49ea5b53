// 10,000 simulated API calls with at most 50 in flight and at most 2,000 starting per second:
// each call "takes" 5 to 25 ms on a timer and fails 1% of the time, as real endpoints do.
// The run keeps going past failures and reports what it achieved.
//
//   build/release/examples/simulated_api [calls] [max_at_once] [max_per_second]
#include <sluice/sluice.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <ranges>

namespace asio = boost::asio;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 10'000;
  const std::size_t max_at_once = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 50;
  const double max_per_second = argc > 3 ? std::atof(argv[3]) : 2000;

  std::mt19937 rng(7);
  int in_flight = 0, peak = 0, ok = 0;
  std::size_t failed = 0;

  // One simulated request: latency on a timer, and an occasional error.
  auto call_api = [&](int id) -> asio::awaitable<void> {
    peak = std::max(peak, ++in_flight);
    asio::steady_timer latency(co_await asio::this_coro::executor,
                               std::chrono::milliseconds(5 + rng() % 21));
    co_await latency.async_wait(asio::use_awaitable);
    --in_flight;
    if (rng() % 100 == 0) throw std::runtime_error("HTTP 503 for request " + std::to_string(id));
    ++ok;
  };

  const auto t0 = std::chrono::steady_clock::now();
  sluice::run([&]() -> asio::awaitable<void> {
    try {
      co_await sluice::run_on_each(call_api, std::views::iota(0, calls),
                                   {.max_at_once = max_at_once,
                                    .max_per_second = max_per_second,
                                    .errors = sluice::error_policy::keep_going});
    } catch (const sluice::task_errors& e) {
      failed = e.errors().size();
      std::printf("failures: %s\n", e.what());
    }
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("calls: %d (ok %d, failed %zu)\n", calls, ok, failed);
  std::printf("limits: max_at_once=%zu max_per_second=%.0f\n", max_at_once, max_per_second);
  std::printf("achieved: %.0f calls/s over %.2f s, peak in flight %d\n", calls / secs, secs, peak);
  return ok + int(failed) == calls && peak <= int(max_at_once) ? 0 : 1;
}
