// The limits a task waits for before each start, as options describe them: a run slot (when
// retries make workers outnumber max_at_once), the shared limiter, the per-run rate limiter
// and the shared rate limiter. Shared by the run engine and task_scope.
#pragma once

#include "sluice/limiter.hpp"
#include "sluice/options.hpp"
#include "sluice/progress.hpp"
#include "sluice/rate_limiter.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <optional>

namespace sluice::detail {

/// The permits one task holds while it runs.
struct held_limits {
  permit slot;
  permit shared;
  void release() noexcept {
    slot.release();
    shared.release();
  }
};

/// With retry, a task that backs off gives its max_at_once place up: run slots bound the
/// running tasks, and up to max_at_once more tasks may be held (workers of a run, places of
/// a scope) while others wait to retry.
inline bool uses_run_slots(const options& o) noexcept {
  return o.retry.attempts > 1 && o.max_at_once > 0;
}
/// Tasks a run or scope may hold at once: max_at_once, doubled with run slots.
inline std::size_t tasks_held(const options& o) noexcept {
  return uses_run_slots(o) ? 2 * o.max_at_once : o.max_at_once;
}

template <class Clock>
class run_limits {
 public:
  void open(const boost::asio::any_io_executor& ex, const options& o) {
    if (o.max_per_second > 0) rate_.emplace(ex, o.max_per_second, o.burst);
    if (uses_run_slots(o)) slots_.emplace(o.max_at_once);
    shared_ = o.limiter;
    shared_rate_ = o.rate_limiter;
  }

  [[nodiscard, gnu::always_inline]] bool any() const noexcept {
    return slots_ || shared_ || rate_ || shared_rate_;
  }

  /// Takes what is free now, in acquire()'s order, without suspending: true when every limit
  /// is held (the common case of a run that is not at its limits costs no coroutine); else
  /// acquire() waits for the rest. (With both a run and a shared rate limiter, the rates are
  /// left to acquire(), which takes them together.)
  bool try_acquire(held_limits& held) {
    if (slots_ && !held.slot && !(held.slot = slots_->try_acquire())) return false;
    if (shared_ && !held.shared && !(held.shared = shared_->try_acquire())) return false;
    if (rate_ && shared_rate_) return false;
    if (rate_) return rate_->try_acquire();
    if (shared_rate_) return shared_rate_->try_acquire();
    return true;
  }

  /// Waits for every limit, in a fixed order (places before rates, so that a start taken
  /// from a rate limiter is used at once). Permits already in `held` are kept.
  boost::asio::awaitable<void> acquire(held_limits& held, progress* p) {
    if (slots_ && !held.slot) held.slot = co_await slots_->acquire();
    if (shared_ && !held.shared) held.shared = co_await shared_->acquire();
    if (rate_ || shared_rate_) {
      record(p, progress::event::rate_wait);
      struct done_waiting {
        progress* p;
        ~done_waiting() { record(p, progress::event::rate_done); }
      } guard{p};
      if (rate_) co_await rate_->acquire();
      if (shared_rate_) co_await shared_rate_->acquire();
    }
  }

 private:
  std::optional<limiter> slots_;
  limiter* shared_ = nullptr;
  std::optional<basic_rate_limiter<Clock>> rate_;
  rate_limit* shared_rate_ = nullptr;
};

}  // namespace sluice::detail
