// sluice's side of the shared benchmark workloads. usage:
//   sluice_bench <workload> <n> <limit> [variant]
//   w1  n no-op tasks, at most `limit` at once, results consumed unordered (variant limits3:
//       with a GCRA rate and a sliding window besides, in one limit set, never waiting;
//       limits3set: the cap in that set too; limits3exact: limits3 with a window kept
//       exactly (65,536 in 1 ms) instead of a bucketed one; limits3tick: limits3 on a
//       clock that costs next to nothing (a counter, 1 ns a read): what the decisions cost
//       beside the clock read; rate1: the run's own GCRA; clock: one clock read)
//       variants: run_on_each (default), amap
//   w2  the same, results in input order (run_all)
//   w3  n tasks from a lazy generator (never materialized), unordered (run_on_each)
//   w4  n tasks each sleeping 10 ms, at most `limit` at once (run_on_each)
//   w5  n no-op tasks rate-limited to `limit` starts per second (run_on_each)
//   scope  n no-op jobs submitted one by one to a task_scope of capacity `limit`, then joined
//   spawn  n runs of /bin/true through run_process, at most `limit` at once; prints
//       us_per_process
//   batch_load  n loads of distinct keys, `limit` coroutines loading at once, through one
//       batch_loader whose batch function returns at once: batches of `limit` keys
//       variants: cache (default), nocache; many: one coroutine, load_many of `limit` keys.
//       Prints ns_per_load and the batch count.
//   in_process  n calls of a function adding two ints, `limit` coroutines calling at once:
//       variants: process (default), through a process_pool of `limit` forked workers;
//       thread, through an executor_pool of `limit` threads (in_pool). Prints us_per_call.
//   resume_scan  N ROW_BYTES [FILE]: create_or_resume over a complete results file of N rows
//       (written first if FILE is missing or of another size); prints mb_per_s
//   append  N ROW_BYTES [default|each_row]: N rows through jsonl_writer with that fsync
//       policy; prints rows_per_s and us_per_row
//   floor  n co_awaits in one coroutine, what a scope job cannot do without (`limit` unused):
//       variants: op (default), an Asio operation of submit's shape, void(exception_ptr, T),
//       completing inside its initiation through detail::complete_soon; immediate, the same
//       as a detail::immediate_operation (submit's shape now: no suspension when it can
//       complete at once); call, a coroutine that returns at once (what every runner's task is)
// Prints one line: peer=sluice-<variant> workload=.. n=.. limit=.. wall_ms=.. ns_per_task=..
// (+ overhead_ms for w4, starts_per_s and max_starts_100ms for w5). Peak RSS is measured
// from outside (/usr/bin/time -f %M).
#include "storage_workloads.hpp"

#include <sluice/detail/complete_soon.hpp>
#include <sluice/detail/immediate_operation.hpp>
#include <sluice/sluice.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <ranges>
#include <string>
#include <vector>

namespace asio = boost::asio;
using clk = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// A clock that costs next to nothing (limits3tick): a counter that moves 1 ns a read, so that
// each start has its own time, as on a real clock. What three limits cost per start beside the
// clock read each exact time limit must make.
struct tick_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<tick_clock>;
  static constexpr bool is_steady = true;
  static inline rep ticks = 0;
  static time_point now() noexcept { return time_point{duration{++ticks}}; }
};

// What in_process calls: a plain function of the program.
std::size_t add_one(std::size_t i) {
  return i + 1;
}

asio::awaitable<std::size_t> noop(std::size_t i) {
  co_return i;
}

asio::awaitable<std::size_t> sleep10(std::size_t i) {
  asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
  co_await t.async_wait(asio::use_awaitable);
  co_return i;
}

// An operation completing at once, in the shape of task_scope::submit with a free place.
auto ready_op(std::size_t i) {
  return asio::async_initiate<const asio::deferred_t&, void(std::exception_ptr, std::size_t)>(
      [](auto&& handler, std::size_t v) {
        sluice::detail::complete_soon(std::move(handler), std::exception_ptr(), v);
      },
      asio::deferred, i);
}

// The same, as an operation that can complete before its caller suspends (task_scope::submit's
// shape since it completes without suspending the coroutine that awaits it).
struct ready_now {
  using result_type = std::size_t;
  std::size_t v;
  std::optional<std::size_t> try_now() { return v; }
  template <class Handler>
  void start(Handler&& h) && {
    sluice::detail::complete_soon(std::move(h), std::exception_ptr(), v);
  }
};

struct result {
  double wall_ns = 0;
  std::size_t count = 0;
  std::vector<clk::time_point> starts;
};

int usage() {
  std::fprintf(
      stderr,
      "usage: sluice_bench w1|w2|w3|w4|w5|scope|spawn|batch_load|floor|resume_scan|append N "
      "LIMIT "
      "[variant]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage();
  const std::string wl = argv[1];
  const std::size_t n = std::strtoull(argv[2], nullptr, 10);
  const std::size_t limit = std::strtoull(argv[3], nullptr, 10);
  if (int rc = run_storage_workload(wl, n, limit, argc > 4 ? argv[4] : ""); rc >= 0) return rc;
  std::string variant = argc > 4 ? argv[4] : (wl == "w2" ? "run_all" : "run_on_each");

  if (wl == "batch_load" && argc <= 4) variant = "cache";
  if (wl == "in_process" && argc <= 4) variant = "process";
  // (made before any thread: the fork server is a copy of the program as it is now)
  std::optional<sluice::process_pool> processes;
  std::optional<sluice::executor_pool> threads;
  if (wl == "in_process" && variant == "process") processes.emplace(limit);
  if (wl == "in_process" && variant == "thread") threads.emplace(limit);
  asio::io_context ctx{1};
  result r;
  std::size_t batches = 0;
  std::vector<std::size_t> ordered;
  auto body = [&]() -> asio::awaitable<void> {
    const auto t0 = clk::now();
    if (wl == "w1" && variant == "amap") {
      auto s = sluice::amap(noop, std::views::iota(std::size_t{0}, n), {.max_at_once = limit});
      while (auto v = co_await s.next()) ++r.count;
    } else if (wl == "w1" && variant == "limits3tick") {
      // limits3 on tick_clock: about one read a start, so the window of 130 us holds about
      // the 130,000 starts the real one holds in 10 ms at ~77 ns a start.
      sluice::gcra_limit rate{1e9, 1000000};
      sluice::window_limit window{1000000000, 130us};
      sluice::options o{.max_at_once = limit};
      o.limits = {&rate, &window};
      co_await sluice::run_on_each<tick_clock>(
          [&](std::size_t i) -> asio::awaitable<std::size_t> {
            ++r.count;
            co_return i;
          },
          std::views::iota(std::size_t{0}, n), o);
    } else if (wl == "w1" &&
               (variant == "limits3" || variant == "limits3set" || variant == "limits3exact")) {
      // Three limits on every start, set so that they never make a task wait (the cost of the
      // decision, not of waiting): a GCRA rate and a sliding window, with the cap as the
      // run's max_at_once (limits3), or all three in the run's one limit set (limits3set: a
      // concurrency_limit there, as a run whose cap changes at run time has it). The window
      // is 10 ms long, so that it holds the starts of 10 ms, not of the whole run; its
      // capacity makes it bucketed (quantum 256 ns). limits3exact: a window of 65,536 (the
      // most kept exactly) in 1 ms, one entry a start.
      sluice::gcra_limit rate{1e9, 1000000};
      std::optional<sluice::window_limit> window;
      if (variant == "limits3exact")
        window.emplace(65536, 1ms);
      else
        window.emplace(1000000000, 10ms);
      sluice::concurrency_limit cap{limit};
      sluice::options o{.max_at_once = limit};
      o.limits = {&rate, &*window};
      if (variant == "limits3set") {
        o.max_at_once = 0;
        o.limits.push_back(&cap);
      }
      co_await sluice::run_on_each(
          [&](std::size_t i) -> asio::awaitable<std::size_t> {
            ++r.count;
            co_return i;
          },
          std::views::iota(std::size_t{0}, n), o);
    } else if (wl == "w1" && (variant == "rate1" || variant == "clock")) {
      // rate1: max_at_once and the run's own GCRA (max_per_second), never waiting. clock: no
      // rate, but each task reads the steady clock once, as every time-based limit must per
      // start (the floor of rate1 and limits3 on this machine).
      std::size_t ticks = 0;
      sluice::options o{.max_at_once = limit};
      if (variant == "rate1") {
        o.max_per_second = 1e9;
        o.burst = 1000000;
      }
      co_await sluice::run_on_each(
          [&](std::size_t i) -> asio::awaitable<std::size_t> {
            ++r.count;
            if (variant == "clock") ticks += clk::now().time_since_epoch().count() & 1;
            co_return i;
          },
          std::views::iota(std::size_t{0}, n), o);
      if (ticks > n) std::abort();  // (keeps the reads)
    } else if (wl == "w1" || wl == "w3") {
      // The task is the no-op itself (one coroutine, returning its index) and counts itself.
      co_await sluice::run_on_each(
          [&](std::size_t i) -> asio::awaitable<std::size_t> {
            ++r.count;
            co_return i;
          },
          std::views::iota(std::size_t{0}, n), {.max_at_once = limit});
    } else if (wl == "scope") {
      co_await sluice::with_scope({.max_at_once = limit},
                                  [&](sluice::task_scope& s) -> asio::awaitable<void> {
                                    for (std::size_t i = 0; i < n; ++i)
                                      (void)co_await s.submit([&r]() -> asio::awaitable<void> {
                                        ++r.count;
                                        co_return;
                                      });
                                  });
      variant = "task_scope";
    } else if (wl == "spawn") {
      co_await sluice::run_on_each(
          [&](std::size_t) -> asio::awaitable<void> {
            std::vector<std::string> argv{"/bin/true"};
            auto res = co_await sluice::run_process(std::move(argv));
            r.count += res.ok();
          },
          std::views::iota(std::size_t{0}, n), {.max_at_once = limit});
    } else if (wl == "in_process") {
      co_await sluice::run_on_each(
          [&](std::size_t i) -> asio::awaitable<void> {
            std::size_t v = 0;  // (no co_await in a conditional expression: GCC 12)
            if (processes)
              v = co_await sluice::in_process(*processes, add_one, i);
            else
              v = co_await sluice::in_pool(*threads, add_one, i);
            r.count += v == i + 1;
          },
          std::views::iota(std::size_t{0}, n), {.max_at_once = limit});
    } else if (wl == "w2") {
      auto tasks = std::views::iota(std::size_t{0}, n) |
                   std::views::transform([](std::size_t i) { return [i] { return noop(i); }; });
      ordered = co_await sluice::run_all(tasks, {.max_at_once = limit});
      r.count = ordered.size();
    } else if (wl == "w4") {
      co_await sluice::run_on_each(
          [&](std::size_t i) -> asio::awaitable<void> {
            (void)co_await sleep10(i);
            ++r.count;
          },
          std::views::iota(std::size_t{0}, n), {.max_at_once = limit});
    } else if (wl == "batch_load") {
      sluice::batch_loader<std::size_t, std::size_t> loader{
          co_await asio::this_coro::executor,
          [](std::vector<std::size_t> keys) -> asio::awaitable<std::vector<std::size_t>> {
            co_return keys;
          },
          {.cache = variant != "nocache"}};
      if (variant == "many") {
        // One coroutine asks for `limit` keys at a time with load_many.
        std::vector<std::size_t> keys(limit);
        for (std::size_t base = 0; base < n; base += limit) {
          keys.resize(std::min(limit, n - base));
          for (std::size_t k = 0; k < keys.size(); ++k) keys[k] = base + k;
          for (std::size_t v : co_await loader.load_many(keys)) r.count += v < n;
        }
      } else {
        // `limit` coroutines each load one key at a time (the DataLoader pattern).
        co_await sluice::run_on_each(
            [&](std::size_t i) -> asio::awaitable<void> {
              r.count += (co_await loader.load(i)) == i;
            },
            std::views::iota(std::size_t{0}, n), {.max_at_once = limit});
      }
      batches = loader.batches();
    } else if (wl == "floor") {
      if (argc <= 4) variant = "op";
      if (variant == "call") {
        for (std::size_t i = 0; i < n; ++i) r.count += co_await noop(i) == i;
      } else if (variant == "immediate") {
        for (std::size_t i = 0; i < n; ++i)
          r.count += co_await sluice::detail::immediate_operation(ready_now{i}) == i;
      } else {
        for (std::size_t i = 0; i < n; ++i) r.count += co_await ready_op(i) == i;
      }
    } else if (wl == "w5") {
      r.starts.reserve(n);
      co_await sluice::run_on_each(
          [&](std::size_t) -> asio::awaitable<void> {
            r.starts.push_back(clk::now());
            ++r.count;
            co_return;
          },
          std::views::iota(std::size_t{0}, n), {.max_per_second = double(limit)});
    }
    r.wall_ns = std::chrono::duration<double, std::nano>(clk::now() - t0).count();
  };
  if (wl != "w1" && wl != "w2" && wl != "w3" && wl != "w4" && wl != "w5" && wl != "batch_load" &&
      wl != "scope" && wl != "spawn" && wl != "floor" && wl != "in_process")
    return usage();
  asio::co_spawn(ctx, body(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  ctx.run();

  if (r.count != n) {
    std::fprintf(stderr, "count %zu != %zu\n", r.count, n);
    return 1;
  }
  if (wl == "w2" && n > 0 && (ordered[n - 1] != n - 1 || ordered[n / 2] != n / 2)) {
    std::fprintf(stderr, "ordered results wrong\n");
    return 1;
  }
  if (wl == "batch_load") {
    std::printf(
        "peer=sluice-%s workload=batch_load n=%zu batch=%zu wall_ms=%.1f ns_per_load=%.1f "
        "batches=%zu\n",
        variant.c_str(), n, limit, r.wall_ns / 1e6, r.wall_ns / double(n), batches);
    return 0;
  }
  if (wl == "in_process") {
    std::printf(
        "peer=sluice-in_process-%s workload=in_process n=%zu limit=%zu wall_ms=%.1f "
        "us_per_call=%.2f ns_per_call=%.0f\n",
        variant.c_str(), n, limit, r.wall_ns / 1e6, r.wall_ns / 1e3 / double(n),
        r.wall_ns / double(n));
    return 0;
  }
  if (wl == "spawn") {
    std::printf(
        "peer=sluice-run_process workload=spawn n=%zu limit=%zu wall_ms=%.1f us_per_process=%.1f\n",
        n, limit, r.wall_ns / 1e6, r.wall_ns / 1e3 / double(n));
    return 0;
  }
  std::printf("peer=sluice-%s workload=%s n=%zu limit=%zu wall_ms=%.1f ns_per_task=%.1f",
              variant.c_str(), wl.c_str(), n, limit, r.wall_ns / 1e6, r.wall_ns / double(n));
  if (wl == "w4") {
    const double ideal = double((n + limit - 1) / limit) * 10.0;
    std::printf(" overhead_ms=%.1f", r.wall_ns / 1e6 - ideal);
  }
  if (wl == "w5" && n > 1) {
    const double span = std::chrono::duration<double>(r.starts.back() - r.starts.front()).count();
    std::size_t best = 0, lo = 0;
    for (std::size_t hi = 0; hi < r.starts.size(); ++hi) {
      while (r.starts[hi] - r.starts[lo] >= 100ms) ++lo;
      best = std::max(best, hi - lo + 1);
    }
    std::printf(" starts_per_s=%.1f max_starts_100ms=%zu", double(n - 1) / span, best);
  }
  std::printf("\n");
  return 0;
}
