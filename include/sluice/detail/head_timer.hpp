// The one timer of a queue whose waiters are served at computed times (rate_limiter,
// limit_set): armed for the head's time, re-armed only when that time changes, and a
// wake-up that a re-arm, a disarm or a close made stale is ignored.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/basic_waitable_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

namespace sluice::detail {

template <class Clock>
class head_timer {
 public:
  explicit head_timer(boost::asio::any_io_executor ex) : timer_(std::move(ex)) {}

  /// Wakes `owner->reschedule()` at t (a time since the clock's epoch), unless it is already
  /// armed for t. The handler keeps the owner alive, and may run after the owner's handle is
  /// gone: `this` must be a member of the owner.
  template <class Owner>
  void arm(std::chrono::nanoseconds t, std::shared_ptr<Owner> owner) {
    if (closed_ || (armed_ && armed_at_ == t)) return;
    armed_ = true;
    armed_at_ = t;
    timer_.expires_at(
        typename Clock::time_point(std::chrono::duration_cast<typename Clock::duration>(t)));
    timer_.async_wait([this, owner = std::move(owner), gen = ++generation_](auto ec) {
      if (ec || gen != generation_ || closed_) return;
      armed_ = false;
      owner->reschedule();
    });
  }

  /// Nothing to wake for (the queue is empty).
  void disarm() {
    if (armed_) {
      armed_ = false;
      timer_.cancel();
    }
  }

  /// The owner is closing: no wake-up runs its reschedule() any more, and nothing is armed
  /// again (a pending wait would keep the owner, and its io_context, alive until it fires).
  void close() {
    closed_ = true;
    timer_.cancel();
  }

 private:
  boost::asio::basic_waitable_timer<Clock> timer_;
  bool armed_ = false;
  bool closed_ = false;
  std::chrono::nanoseconds armed_at_{};
  std::uint64_t generation_ = 0;
};

}  // namespace sluice::detail
