// sluice::basic_rate_limiter bounds how fast tasks start (GCRA, see gcra.hpp), where
// sluice::limiter bounds how many run. Waiters are served FIFO; only the head of the queue
// has a timer armed, so a thousand waiters cost one timer, not a thundering herd of polls.
#pragma once

#include "sluice/detail/head_timer.hpp"
#include "sluice/detail/wait_queue.hpp"
#include "sluice/gcra.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/deferred.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

namespace sluice {

/// What the runners need from a limit on starts, whatever implements it (an in-process GCRA
/// here; a limit shared across machines later).
class rate_limit {
 public:
  /// Suspends until n starts conform, FIFO; see basic_rate_limiter::acquire.
  [[nodiscard]] virtual boost::asio::awaitable<void> acquire(std::uint32_t n = 1) = 0;
  /// Starts n now if they conform and nobody waits; false leaves the limit as it was.
  [[nodiscard]] virtual bool try_acquire(std::uint32_t n = 1) = 0;
  virtual ~rate_limit() = default;
};

/// A GCRA start-rate limiter on clock `Clock`.
///
/// `acquire()` reserves the next conforming slot in arrival order and resumes at that time.
/// The slot a waiter gets is computed from its arrival time, not from when its timer fired,
/// so timer latency never accumulates into a lower rate. Not thread-safe (one thread or
/// strand, as any Asio I/O object).
///
///     sluice::rate_limiter api{ex, 5.0, 10};  // 5 starts/s, bursts of 10
///     co_await api.acquire();                // suspends until the next conforming time
template <class Clock>
class basic_rate_limiter final : public rate_limit {
 public:
  using clock_type = Clock;
  using timer_type = boost::asio::basic_waitable_timer<Clock>;

  /// `rate` in starts per second (fractional allowed: 0.2 = one every 5 s), `burst` >= 1.
  /// Throws std::invalid_argument on a rate that is not finite and > 0, or burst 0.
  basic_rate_limiter(boost::asio::any_io_executor ex, double rate, std::uint32_t burst = 1)
      : impl_(std::make_shared<impl>(std::move(ex), rate, burst)) {}
  basic_rate_limiter(const basic_rate_limiter&) = delete;
  basic_rate_limiter& operator=(const basic_rate_limiter&) = delete;
  /// Waiters still queued complete with operation_aborted.
  ~basic_rate_limiter() override { impl_->shutdown(); }

  /// Suspends until n starts conform and every earlier waiter has started; resumes on the
  /// caller's executor at the reserved time. Cancellation (any type) removes the waiter and
  /// refunds its slot, so later waiters move up; it then throws
  /// boost::system::system_error(operation_aborted).
  /// Throws std::invalid_argument when n is 0 or above the burst.
  [[nodiscard]] boost::asio::awaitable<void> acquire(std::uint32_t n = 1) override {
    impl& s = *impl_;
    const auto now = s.now();
    (void)s.gcra_.earliest(now, n);  // validates n
    if (s.waiters_.empty() && s.gcra_.try_commit(now, n)) co_return;
    auto keep = impl_;
    co_await s.waiters_.wait(waiter{n, now}, &s, boost::asio::deferred);
  }

  /// Starts n now if they conform and nobody waits.
  [[nodiscard]] bool try_acquire(std::uint32_t n = 1) override {
    return impl_->waiters_.empty() && impl_->gcra_.try_commit(impl_->now(), n);
  }

  /// No start for `d` from now, and then no burst: what a server's Retry-After asks of every
  /// task sharing this limiter, so that one 429 does not become a storm of them.
  void hold_for(std::chrono::nanoseconds d) {
    impl_->gcra_.hold_until(impl_->now() + d);
    impl_->reschedule();
  }

  /// Changes the rate or burst; the queue is rescheduled at once.
  void set_rate(double rate) {
    impl_->gcra_.set_rate(rate);
    impl_->reschedule();
  }
  void set_burst(std::uint32_t burst) {
    impl_->gcra_.set_burst(burst);
    impl_->reschedule();
  }
  [[nodiscard]] double rate() const noexcept { return impl_->gcra_.rate(); }
  [[nodiscard]] std::uint32_t burst() const noexcept { return impl_->gcra_.burst(); }
  [[nodiscard]] std::size_t waiting() const noexcept { return impl_->waiters_.size(); }

 private:
  struct waiter {
    std::uint32_t n = 1;
    std::chrono::nanoseconds arrival{};
  };

  // Shared with the pending timer handler, which may run after the limiter is gone.
  struct impl final : detail::wait_owner<waiter>, std::enable_shared_from_this<impl> {
    impl(boost::asio::any_io_executor ex, double rate, std::uint32_t burst)
        : timer_(std::move(ex)), gcra_(rate, burst) {}

    std::chrono::nanoseconds now() const {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch());
    }

    // Grants every head waiter whose slot has come, then arms the timer for the next one.
    void reschedule() {
      while (!waiters_.empty()) {
        const waiter& w = waiters_.front()->data;
        std::chrono::nanoseconds slot;
        try {
          slot = gcra_.earliest(w.arrival, w.n);
        } catch (...) {  // the burst was lowered below this request
          waiters_.complete_front(std::current_exception());
          continue;
        }
        if (slot > now()) {
          timer_.arm(slot, this->shared_from_this());
          return;
        }
        gcra_.reserve(w.arrival, w.n);  // commits at the exact slot
        waiters_.complete_front();
      }
      timer_.disarm();
    }

    void on_cancelled(const waiter&) override { reschedule(); }
    // A lone waiter needs the timer armed; behind others it is served when its turn comes.
    void on_queued() override {
      if (waiters_.size() == 1) reschedule();
    }

    void shutdown() {
      timer_.close();
      waiters_.fail_all(detail::cancelled_error());
    }

    detail::head_timer<Clock> timer_;
    gcra gcra_;
    detail::wait_queue<waiter> waiters_;
  };

  std::shared_ptr<impl> impl_;
};

using rate_limiter = basic_rate_limiter<std::chrono::steady_clock>;

}  // namespace sluice
