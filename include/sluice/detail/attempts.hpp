// One task under options::timeout and options::retry: each attempt is cancelled when it runs
// longer than the timeout (and then fails with timeout_error); a failed attempt that the
// retry policy accepts backs off (full jitter) holding no permit, waits for the limits again
// and runs again. Shared by the run engine and task_scope.
#pragma once

#include "sluice/errors.hpp"
#include "sluice/options.hpp"
#include "sluice/progress.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace sluice::detail {

/// Default retry predicate: every error but cancellation.
bool default_retryable(const std::exception_ptr& error) noexcept;
/// Uniform in [0, 1) from a per-thread generator seeded from std::random_device.
double default_jitter();
/// The wait before attempt `made + 1`: jitter * min(cap, base * 2^(made-1)), in whole ns.
std::chrono::nanoseconds backoff_delay(const retry_policy& policy, std::size_t made);

/// True when a task needs the attempt loop (else it is awaited directly).
inline bool needs_attempts(const options& o) noexcept {
  return o.timeout.count() > 0 || o.retry.attempts > 1;
}

/// Per worker coroutine: the signal its cancellation slot is bound to (the run emits on it to
/// cancel the worker's task), and a timer for the timeout and the backoff.
template <class Clock>
struct worker_context : std::enable_shared_from_this<worker_context<Clock>> {
  explicit worker_context(const boost::asio::any_io_executor& ex) : timer(ex) {}

  boost::asio::cancellation_signal signal;
  boost::asio::basic_waitable_timer<Clock> timer;
  unsigned generation = 0;
  bool timed_out = false;
  /// Attempts made for the current task.
  std::size_t attempts = 0;

  /// Cancels this worker's task (through its slot) once `timeout` has passed.
  void arm(std::chrono::nanoseconds timeout) {
    timer.expires_after(std::chrono::duration_cast<typename Clock::duration>(timeout));
    timer.async_wait([self = this->shared_from_this(), g = ++generation](auto ec) {
      if (ec || g != self->generation) return;  // disarmed, or already a later attempt
      self->timed_out = true;
      self->signal.emit(boost::asio::cancellation_type::terminal);
    });
  }
  void disarm() {
    ++generation;
    timer.cancel();
  }
};

/// What the attempt loop needs from the run around it.
///   bool stopping()                       the run is stopping: do not retry
///   void release()                        drop the permits held for the attempt
///   awaitable<void> reacquire()           take the limits again before the next attempt
template <class Clock, class Attempt, class Hooks>
auto run_attempts(worker_context<Clock>& w, const options& o, Attempt& attempt, Hooks& hooks)
    -> boost::asio::awaitable<typename std::invoke_result_t<Attempt&>::value_type> {
  using R = typename std::invoke_result_t<Attempt&>::value_type;
  const bool timed = o.timeout.count() > 0;
  for (w.attempts = 1;; ++w.attempts) {
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
    if (timed) w.arm(o.timeout);
    try {
      if constexpr (std::is_void_v<R>) {
        co_await attempt();
        value.emplace();
      } else {
        value.emplace(co_await attempt());
      }
    } catch (...) {
      error = std::current_exception();
    }
    if (timed) w.disarm();
    if (w.timed_out) {
      // The timeout cancelled this coroutine; clear that so that what follows can suspend.
      w.timed_out = false;
      co_await boost::asio::this_coro::reset_cancellation_state();
      value.reset();
      error = std::make_exception_ptr(
          timeout_error("task timed out after " + duration_text(o.timeout)));
    }
    if (value) {
      if constexpr (std::is_void_v<R>)
        co_return;
      else
        co_return std::move(*value);
    }
    const bool retryable = o.retry.retryable ? o.retry.retryable(error) : default_retryable(error);
    if (w.attempts >= o.retry.attempts || hooks.stopping() || !retryable)
      std::rethrow_exception(error);
    record(o.progress, progress::event::retried);
    hooks.release();
    auto wait = backoff_delay(o.retry, w.attempts);
    if (o.retry.wait_at_least) wait = std::max(wait, o.retry.wait_at_least(error));
    w.timer.expires_after(std::chrono::duration_cast<typename Clock::duration>(wait));
    co_await w.timer.async_wait(boost::asio::use_awaitable);
    co_await hooks.reacquire();
    if (hooks.stopping()) throw boost::system::system_error(boost::asio::error::operation_aborted);
    record(o.progress, progress::event::started);
  }
}

}  // namespace sluice::detail
