#include "sluice/testing/manual_clock.hpp"

#include <boost/asio/basic_waitable_timer.hpp>

#include <atomic>
#include <limits>
#include <string>

namespace sluice::testing {
namespace {

std::atomic<std::int64_t> now_ns{0};

// The earliest pending expiry the reactor last asked about; none_pending when its queue was
// empty at that moment (the reactor only asks for non-empty queues, so the driver clears it
// before each kick).
constexpr std::int64_t none_pending = std::numeric_limits<std::int64_t>::min();
std::atomic<std::int64_t> next_expiry_ns{none_pending};

using timer = boost::asio::basic_waitable_timer<manual_clock>;

}  // namespace

manual_clock::time_point manual_clock::now() noexcept {
  return time_point{duration{now_ns.load(std::memory_order_relaxed)}};
}

void manual_clock::advance(duration d) {
  if (d.count() < 0) throw std::invalid_argument("manual_clock::advance: negative duration");
  now_ns.fetch_add(d.count(), std::memory_order_relaxed);
}

void manual_clock::set(time_point t) noexcept {
  now_ns.store(t.time_since_epoch().count(), std::memory_order_relaxed);
}

virtual_time::virtual_time() {
  manual_clock::reset();
  start_ = manual_clock::now();
}

manual_clock::duration virtual_time::elapsed() const {
  return manual_clock::now() - start_;
}

std::optional<manual_clock::time_point> virtual_time::next_timer() {
  const std::int64_t v = next_expiry_ns.load(std::memory_order_relaxed);
  if (v == none_pending) return std::nullopt;
  return manual_clock::time_point{manual_clock::duration{v}};
}

void virtual_time::settle(boost::asio::io_context& ctx) {
  for (;;) {
    if (ctx.stopped()) ctx.restart();
    ctx.poll();
    if (ctx.stopped()) ctx.restart();
    // Asio checks its timer queues only when its timerfd fires, and re-arms the timerfd only
    // for a new timer that is strictly the earliest. A kick from far in the past is that
    // timer: it makes the timerfd fire at once; in that pass the reactor collects every due
    // timer and then asks the wait traits for the earliest remaining one, which is how
    // next_timer() learns it. (Half of the minimum: no overflow in the traits' arithmetic.)
    timer kick(ctx, manual_clock::time_point(manual_clock::duration::min() / 2));
    bool fired = false;
    kick.async_wait([&](auto) { fired = true; });
    next_expiry_ns.store(none_pending, std::memory_order_relaxed);
    std::size_t ran = 0;
    while (!fired) ran += ctx.run_one();
    ran += ctx.poll();
    if (ran == 1) return;  // only the kick ran: nothing else is ready at this time
  }
}

void virtual_time::run_until(boost::asio::io_context& ctx, const std::function<bool()>& done,
                             manual_clock::duration limit) {
  const auto deadline = manual_clock::now() + limit;
  for (;;) {
    settle(ctx);
    if (done()) return;
    const auto next = next_timer();
    if (!next)
      throw deadlock("virtual_time: deadlock at t=" +
                     std::to_string(manual_clock::now().time_since_epoch().count()) +
                     "ns: work remains, nothing can run and no timer is pending");
    if (*next > deadline)
      throw std::runtime_error("virtual_time: the run did not end within the virtual limit");
    if (*next > manual_clock::now()) manual_clock::set(*next);
  }
}

void virtual_time::run(boost::asio::io_context& ctx, manual_clock::duration limit) {
  run_until(
      ctx, [&] { return ctx.stopped(); }, limit);
}

void virtual_time::advance(boost::asio::io_context& ctx, manual_clock::duration d) {
  const auto target = manual_clock::now() + d;
  for (;;) {
    settle(ctx);
    const auto next = next_timer();
    if (!next || *next > target) break;
    if (*next > manual_clock::now()) manual_clock::set(*next);
  }
  manual_clock::set(target);
  settle(ctx);
}

}  // namespace sluice::testing

namespace boost::asio {

using sluice::testing::manual_clock;

manual_clock::duration wait_traits<manual_clock>::to_wait_duration(
    const manual_clock::duration& d) {
  sluice::testing::next_expiry_ns.store((manual_clock::now() + d).time_since_epoch().count(),
                                        std::memory_order_relaxed);
  if (d.count() <= 0) return manual_clock::duration::zero();
  return std::chrono::minutes(5);
}

manual_clock::duration wait_traits<manual_clock>::to_wait_duration(
    const manual_clock::time_point& t) {
  return to_wait_duration(t - manual_clock::now());
}

}  // namespace boost::asio
