// Helpers shared by the tests: run a coroutine to completion in virtual time, sleep on the
// manual clock, and count what is in flight.
#pragma once

#include <sluice/errors.hpp>
#include <sluice/run_sync.hpp>
#include <sluice/testing/manual_clock.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <utility>

namespace sluice::test {

namespace asio = boost::asio;
using sluice::testing::manual_clock;
using vtimer = asio::basic_waitable_timer<manual_clock>;
using namespace std::chrono_literals;

/// Suspends for d of virtual time.
inline asio::awaitable<void> sleep(manual_clock::duration d) {
  vtimer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

/// A task that sleeps for d, counts itself in `cancelled` if it is cancelled (and rethrows),
/// and returns `i`.
inline asio::awaitable<int> sleep_counting_cancel(int i, manual_clock::duration d, int& cancelled) {
  try {
    co_await sleep(d);
  } catch (...) {
    ++cancelled;
    throw;
  }
  co_return i;
}

/// Virtual time now, since the last virtual_time was made.
inline manual_clock::duration vnow() {
  return manual_clock::now().time_since_epoch();
}

/// Runs `aw` on a fresh io_context with `drive(ctx)` and returns its result, rethrowing its
/// exception.
template <class T, class Drive>
T run_to_end(asio::awaitable<T> aw, Drive drive) {
  asio::io_context ctx;
  sluice::detail::spawn_result<T> r;  // (what sluice::run keeps of a coroutine's end)
  asio::co_spawn(ctx, std::move(aw), r.handler());
  drive(ctx);
  return r.take();
}

/// Runs `aw` in virtual time (starting at 0). Throws testing::deadlock if it can never finish.
template <class T>
T run_virtual(asio::awaitable<T> aw) {
  sluice::testing::virtual_time vt;
  return run_to_end(std::move(aw), [&](asio::io_context& ctx) { vt.run(ctx); });
}

/// Runs `aw` in real time (for real threads and processes).
template <class T>
T run_io(asio::awaitable<T> aw) {
  return run_to_end(std::move(aw), [](asio::io_context& ctx) { ctx.run(); });
}

/// Counts tasks in flight and remembers the peak.
struct in_flight {
  int now = 0;
  int peak = 0;
  struct guard {
    in_flight* f;
    explicit guard(in_flight& x) : f(&x) { f->peak = std::max(f->peak, ++f->now); }
    ~guard() { --f->now; }
  };
};

using sluice::is_cancellation;

}  // namespace sluice::test
