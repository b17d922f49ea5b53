// The limits a task waits for before each start, as options describe them, shared by the run
// engine and task_scope. The run's own limits (its run slots, max_per_second), the limits of
// options.limits and the per-key limits are one sluice::limit_set: one decision. The older
// shared limiter and rate limiter (options.limiter, options.rate_limiter) are waited for after
// it. A run whose only limit is max_per_second keeps a plain rate limiter (the fast path).
#pragma once

#include "sluice/limit_set.hpp"
#include "sluice/limiter.hpp"
#include "sluice/options.hpp"
#include "sluice/progress.hpp"
#include "sluice/rate_limiter.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace sluice::detail {

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
/// The limits need the task's input (its cost or its key): it is pulled before they are
/// acquired.
inline bool limits_need_input(const options& o) noexcept {
  return static_cast<bool>(o.cost) || static_cast<bool>(o.key);
}

/// A task's cost and key, as options::cost and options::key say of its input.
template <class Input>
void demand_of(const options& o, const Input& in, std::uint64_t& cost, std::string& key) {
  if (o.cost) cost = o.cost(in);
  if (o.key) key = o.key(in);
}

/// What one task holds while it runs, and what it asked for (a retry asks again).
template <class Clock>
struct held_limits {
  typename basic_limit_set<Clock>::ticket ticket;
  permit shared;
  std::uint64_t cost = 1;
  std::string key;
  void release() noexcept {
    ticket.release();
    shared.release();
  }
};

template <class Clock>
class run_limits {
 public:
  using held = held_limits<Clock>;

  void open(const boost::asio::any_io_executor& ex, const options& o) {
    const bool one_set = uses_run_slots(o) || !o.limits.empty() || o.per_key || o.cost;
    if (one_set) {
      auto& s = set_.emplace(ex);
      if (uses_run_slots(o)) slots_ = &s.add_concurrency(o.max_at_once, counts::starts);
      if (o.max_per_second > 0) s.add_rate(o.max_per_second, o.burst, counts::starts);
      if (o.per_key) s.add_per_key(*o.per_key, counts::starts);
      for (const limit_ref& l : o.limits) s.add_shared(*l.lim, l.what);
      if (o.progress) {
        progress_ = o.progress;
        progress_->track(s.limits());
      }
    } else if (o.max_per_second > 0) {
      plain_rate_.emplace(ex, o.max_per_second, o.burst);
    }
    shared_ = o.limiter;
    shared_rate_ = o.rate_limiter;
  }

  /// The run is over (no task holds anything): the set leaves the shared limits, which may
  /// be gone once the caller resumes, while the engine itself lives a little longer.
  void close() noexcept {
    if (progress_) progress_->untrack();  // the owned limits go with the set
    set_.reset();
    plain_rate_.reset();
  }

  [[nodiscard, gnu::always_inline]] bool any() const noexcept {
    return set_ || plain_rate_ || shared_ || shared_rate_;
  }

  /// The run's own places with retry (a task_scope's capacity changes them).
  [[nodiscard]] concurrency_limit* run_slots() noexcept { return slots_; }

  /// Takes what is free now, without suspending: true when every limit is held (the common
  /// case of a run that is not at its limits costs no coroutine); else acquire() waits for
  /// the rest.
  bool try_acquire(held& h) {
    if (set_ && !h.ticket && !set_->try_acquire_into(h.ticket, h.cost, h.key)) return false;
    if (shared_ && !h.shared && !(h.shared = shared_->try_acquire())) return false;
    if ((plain_rate_ || set_) && shared_rate_) return false;  // taken together by acquire()
    if (plain_rate_) return plain_rate_->try_acquire();
    if (shared_rate_) return shared_rate_->try_acquire();
    return true;
  }

  /// Waits for every limit: the set (places and starts in one decision), then the shared
  /// limiter, then the shared rate limiter. Held parts are kept.
  boost::asio::awaitable<void> acquire(held& h, progress* p) {
    record(p, progress::event::rate_wait);
    struct done_waiting {
      progress* p;
      ~done_waiting() { record(p, progress::event::rate_done); }
    } guard{p};
    if (set_ && !h.ticket) h.ticket = co_await set_->acquire(h.cost, h.key);
    if (shared_ && !h.shared) h.shared = co_await shared_->acquire();
    if (plain_rate_) co_await plain_rate_->acquire();
    if (shared_rate_) co_await shared_rate_->acquire();
  }

 private:
  std::optional<basic_limit_set<Clock>> set_;
  concurrency_limit* slots_ = nullptr;
  std::optional<basic_rate_limiter<Clock>> plain_rate_;
  limiter* shared_ = nullptr;
  rate_limit* shared_rate_ = nullptr;
  progress* progress_ = nullptr;  // told which limits the set holds
};

}  // namespace sluice::detail
