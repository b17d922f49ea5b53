// sluice::basic_start_limits: several limits on when tasks start (GCRA rates, sliding windows)
// acquired as one decision. A start is admitted when every limit admits it, and then all of
// them record it at once: FIFO across the set, with one timer for the whole queue, and a
// waiter that is cancelled has taken nothing from any limit. Awaiting one rate limiter after
// another instead spends a slot of the first while waiting for the second (and loses it when
// cancelled there).
#pragma once

#include "sluice/detail/head_timer.hpp"
#include "sluice/detail/wait_queue.hpp"
#include "sluice/gcra.hpp"
#include "sluice/rate_limiter.hpp"
#include "sluice/sliding_window.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/deferred.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice {

/// A limit on when starts may happen, as a function of time alone: what basic_start_limits
/// composes. (A concurrency limit, which waits for releases, is sluice::limiter.)
class timed_limit {
 public:
  using duration = std::chrono::nanoseconds;
  virtual ~timed_limit() = default;
  /// The earliest time >= `after` at which a start of `cost` fits. Throws
  /// std::invalid_argument when it never fits (cost above the limit's capacity).
  [[nodiscard]] virtual duration earliest(duration after, std::uint64_t cost) const = 0;
  /// Records that start: `scheduled` is the time the caller computed (>= earliest) and
  /// `actual` the time it happens (>= scheduled, later by the timer's latency). An average
  /// rate records the scheduled time (latency never accumulates into a lower rate); a strict
  /// count records the actual one (what a server counts).
  virtual void commit(duration scheduled, duration actual, std::uint64_t cost) = 0;
  /// No start before t.
  virtual void hold_until(duration t) = 0;
  /// The largest cost that can ever fit (a burst, a window's capacity).
  [[nodiscard]] virtual std::uint64_t max_cost() const = 0;
};

/// A GCRA rate (gcra.hpp) as a timed_limit: `rate` starts per second, bursts of `burst`.
class rate_limit_of final : public timed_limit {
 public:
  rate_limit_of(double rate, std::uint32_t burst = 1) : g_(rate, burst) {}
  [[nodiscard]] duration earliest(duration after, std::uint64_t cost) const override {
    return g_.earliest(after, checked(cost));
  }
  void commit(duration scheduled, duration, std::uint64_t cost) override {
    g_.commit(scheduled, checked(cost));
  }
  void hold_until(duration t) override { g_.hold_until(t); }
  [[nodiscard]] std::uint64_t max_cost() const override { return g_.burst(); }
  /// The arithmetic, to read or change (then call basic_start_limits::changed()).
  gcra& state() noexcept { return g_; }

 private:
  std::uint32_t checked(std::uint64_t cost) const {
    if (cost > g_.burst())
      throw std::invalid_argument("rate limit: a start of cost " + std::to_string(cost) +
                                  " never fits a burst of " + std::to_string(g_.burst()));
    return static_cast<std::uint32_t>(cost);
  }
  gcra g_;
};

/// A sliding window (sliding_window.hpp) as a timed_limit: at most `capacity` units in any
/// window of `window`, starts at least `min_gap` apart.
class window_limit final : public timed_limit {
 public:
  window_limit(std::uint64_t capacity, duration window, duration min_gap = duration{0})
      : w_(capacity, window, min_gap) {}
  [[nodiscard]] duration earliest(duration after, std::uint64_t cost) const override {
    return w_.earliest(after, cost);
  }
  void commit(duration, duration actual, std::uint64_t cost) override { w_.commit(actual, cost); }
  void hold_until(duration t) override { w_.hold_until(t); }
  [[nodiscard]] std::uint64_t max_cost() const override { return w_.capacity(); }
  sliding_window& state() noexcept { return w_; }

 private:
  sliding_window w_;
};

/// What a limit of a start_limits counts: each start as one, or its cost (acquire(cost)).
enum class counts { cost, starts };

/// Several timed limits, acquired as one FIFO decision, on clock `Clock`. It is a rate_limit,
/// so a run takes it as options::rate_limiter (each start acquires cost 1, or the task's
/// cost). Not thread-safe (one thread or strand, as any Asio I/O object).
///
///     sluice::start_limits api{ex};
///     api.add_rate(10.0, 5);            // 10 starts/s, bursts of 5
///     api.add_window(500, 60s);         // and at most 500 in any minute
///     co_await api.acquire();           // both admit it, then both record it
///
/// A limit counts the cost of each acquisition (the default), or each start as one
/// (counts::starts): "500 requests and 200,000 tokens per minute" is add_window(500, 1min,
/// {}, counts::starts) and add_window(200000, 1min), acquired with each request's tokens.
template <class Clock>
class basic_start_limits final : public rate_limit {
 public:
  using clock_type = Clock;
  using timer_type = boost::asio::basic_waitable_timer<Clock>;
  using duration = std::chrono::nanoseconds;

  explicit basic_start_limits(boost::asio::any_io_executor ex)
      : impl_(std::make_shared<impl>(std::move(ex))) {}
  basic_start_limits(const basic_start_limits&) = delete;
  basic_start_limits& operator=(const basic_start_limits&) = delete;
  /// Waiters still queued complete with operation_aborted.
  ~basic_start_limits() override { impl_->shutdown(); }

  /// Adds a limit (owned); returns it, to read or change at run time (then call changed()).
  template <class Limit>
  Limit& add(std::unique_ptr<Limit> limit, counts what = counts::cost) {
    Limit& l = *limit;
    impl_->limits_.push_back({std::move(limit), what});
    changed();
    return l;
  }
  rate_limit_of& add_rate(double rate, std::uint32_t burst = 1, counts what = counts::cost) {
    return add(std::make_unique<rate_limit_of>(rate, burst), what);
  }
  window_limit& add_window(std::uint64_t capacity, duration window, duration min_gap = {},
                           counts what = counts::cost) {
    return add(std::make_unique<window_limit>(capacity, window, min_gap), what);
  }
  [[nodiscard]] bool empty() const noexcept { return impl_->limits_.empty(); }

  /// Suspends until a start of `cost` fits every limit and every earlier waiter has started;
  /// resumes on the caller's executor. Cancellation (any type) removes the waiter, which has
  /// taken nothing, so later waiters move up; it then throws
  /// boost::system::system_error(operation_aborted). Throws std::invalid_argument when cost
  /// is 0 or never fits one of the limits.
  [[nodiscard]] boost::asio::awaitable<void> acquire(std::uint32_t cost = 1) override {
    impl& s = *impl_;
    const duration now = s.now();
    s.check(cost);
    if (s.waiters_.empty() && s.try_start(now, now, cost)) co_return;
    auto keep = impl_;
    co_await s.waiters_.wait(waiter{cost, now}, &s, boost::asio::deferred);
  }

  /// Starts now if every limit admits it and nobody waits.
  [[nodiscard]] bool try_acquire(std::uint32_t cost = 1) override {
    impl& s = *impl_;
    s.check(cost);
    const duration now = s.now();
    return s.waiters_.empty() && s.try_start(now, now, cost);
  }

  /// No start for `d` from now, in any limit (a server's Retry-After), even with none added.
  void hold_for(duration d) {
    const duration until = impl_->now() + d;
    impl_->held_until_ = std::max(impl_->held_until_, until);
    for (auto& l : impl_->limits_) l.limit->hold_until(until);
    impl_->reschedule();
  }

  /// A limit was changed (its state() set): the queue is rescheduled at once.
  void changed() {
    impl& s = *impl_;
    s.max_cost_ = std::uint64_t(-1);
    for (const auto& l : s.limits_)
      if (l.what == counts::cost) s.max_cost_ = std::min(s.max_cost_, l.limit->max_cost());
    s.reschedule();
  }

  [[nodiscard]] std::size_t waiting() const noexcept { return impl_->waiters_.size(); }

 private:
  struct waiter {
    std::uint32_t cost = 1;
    duration arrival{};
  };

  struct impl final : detail::wait_owner<waiter>, std::enable_shared_from_this<impl> {
    explicit impl(boost::asio::any_io_executor ex) : timer_(std::move(ex)) {}

    duration now() const {
      return std::chrono::duration_cast<duration>(Clock::now().time_since_epoch());
    }
    void check(std::uint32_t cost) const {
      if (cost == 0) throw std::invalid_argument("start_limits: a start's cost must be >= 1");
      if (cost <= max_cost_) return;
      for (const auto& l : limits_) (void)l.limit->earliest(duration{0}, l.of(cost));  // which
    }
    // When a start of `cost` that arrived at `arrival` fits every limit.
    duration slot(duration arrival, std::uint32_t cost) const {
      duration t = std::max(arrival, held_until_);
      // Each limit's earliest time from the latest so far, until none moves it: a later time
      // can only make room in a rate or a window, but a gap or a hold may push it again.
      for (bool moved = true; moved;) {
        moved = false;
        for (const auto& l : limits_) {
          const duration e = l.limit->earliest(t, l.of(cost));
          if (e > t) {
            t = e;
            moved = true;
          }
        }
      }
      return t;
    }
    bool try_start(duration arrival, duration now, std::uint32_t cost) {
      const duration t = slot(arrival, cost);
      if (t > now) return false;
      for (auto& l : limits_) l.limit->commit(t, now, l.of(cost));
      return true;
    }

    // Starts every head waiter whose slot has come, then arms the timer for the next one.
    void reschedule() {
      while (!waiters_.empty()) {
        const waiter& w = waiters_.front()->data;
        duration t;
        try {
          t = slot(w.arrival, w.cost);
        } catch (...) {  // a limit was lowered below this request
          waiters_.complete_front(std::current_exception());
          continue;
        }
        const duration at = now();
        if (t > at) {
          timer_.arm(t, this->shared_from_this());
          return;
        }
        for (auto& l : limits_) l.limit->commit(t, at, l.of(w.cost));
        waiters_.complete_front();
      }
      timer_.disarm();
    }

    void on_cancelled(const waiter&) override { reschedule(); }
    void on_queued() override {
      if (waiters_.size() == 1) reschedule();
    }

    void shutdown() {
      timer_.close();
      waiters_.fail_all(detail::cancelled_error());
    }

    struct counted_limit {
      std::unique_ptr<timed_limit> limit;
      counts what;
      [[nodiscard]] std::uint64_t of(std::uint32_t cost) const {
        return what == counts::starts ? 1 : cost;
      }
    };
    detail::head_timer<Clock> timer_;
    std::vector<counted_limit> limits_;
    detail::wait_queue<waiter> waiters_;
    duration held_until_{duration::min()};
    std::uint64_t max_cost_ = std::uint64_t(-1);  // the least of the limits' max_cost()
  };

  std::shared_ptr<impl> impl_;
};

using start_limits = basic_start_limits<std::chrono::steady_clock>;

}  // namespace sluice
