// sluice::progress: the counters a run or task_scope keeps while it works, for progress bars
// and dashboards. Readable from any thread; a subscriber is told of every change.
#pragma once

#include "sluice/limit.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace sluice {

/// Live counters of one run (pass `&p` as options::progress) or of a task_scope.
///
/// The run updates them from its executor; `snapshot()` may be called from any thread (each
/// counter is read atomically, the set is not one instant). `on_change`, when set, is called
/// on the run's executor after every update: keep it cheap, or have it post elsewhere.
///
///     sluice::progress p;
///     p.on_change = [&](const sluice::progress& p) { bar.draw(p.snapshot()); };
///     co_await sluice::run_on_each(fetch, urls, {.max_at_once = 8, .progress = &p});
class progress {
 public:
  struct counts {
    std::size_t pulled = 0;           ///< inputs taken (tasks submitted, in a scope)
    std::size_t started = 0;          ///< attempts started, retries included
    std::size_t running = 0;          ///< attempts running now
    std::size_t succeeded = 0;        ///< tasks that ended with a value
    std::size_t failed = 0;           ///< tasks that ended with an error (after their last attempt)
    std::size_t retried = 0;          ///< attempts that failed and were retried
    std::size_t cancelled = 0;        ///< tasks cancelled because the run stopped or was cancelled
    std::size_t waiting_on_rate = 0;  ///< tasks waiting for their limits now
    friend bool operator==(const counts&, const counts&) = default;
  };

  progress() = default;
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

  [[nodiscard]] counts snapshot() const noexcept {
    return {pulled_.load(std::memory_order_relaxed),    started_.load(std::memory_order_relaxed),
            running_.load(std::memory_order_relaxed),   succeeded_.load(std::memory_order_relaxed),
            failed_.load(std::memory_order_relaxed),    retried_.load(std::memory_order_relaxed),
            cancelled_.load(std::memory_order_relaxed), waiting_.load(std::memory_order_relaxed)};
  }

  std::function<void(const progress&)> on_change;

  /// One limit of the run, as it is now: what it is (its current values: an adaptive rate
  /// shows the rate it has reached) and the time starts waited with it the last to admit.
  struct limit_state {
    std::string what;
    std::chrono::nanoseconds waited{0};
  };
  /// The limits of the run's limit set (options::limits, per_key, max_per_second...), read
  /// on the run's thread or strand (unlike snapshot(), not from any thread); after the run,
  /// as they were when it ended.
  [[nodiscard]] std::vector<limit_state> limits() const {
    if (limits_.empty()) return final_;
    std::vector<limit_state> out;
    for (const limit* l : limits_) out.push_back({l->describe(), l->waited()});
    return out;
  }
  /// The run says which limits it takes.
  void track(std::vector<const limit*> limits) {
    limits_ = std::move(limits);
    final_.clear();
  }
  /// The run has ended: its limits are kept as they are now (they may be gone next).
  void untrack() {
    final_ = limits();
    limits_.clear();
  }

  // Updates, by the run (one writer at a time: a plain load and store, no locked RMW).
  enum class event {
    pulled,
    started,
    succeeded,
    failed,
    retried,
    cancelled,         // a running task
    pulled_cancelled,  // a task cancelled before it started
    rate_wait,
    rate_done
  };
  // (Inlined, so that a run's fixed events fold into a store or two.)
  [[gnu::always_inline]] void record(event e) noexcept {
    count(e);
    if (on_change) on_change(*this);
  }

 private:
  [[gnu::always_inline]] void count(event e) noexcept {
    switch (e) {
      case event::pulled:
        bump(pulled_, 1);
        break;
      case event::started:
        bump(started_, 1);
        bump(running_, 1);
        break;
      case event::succeeded:
        bump(running_, -1);
        bump(succeeded_, 1);
        break;
      case event::failed:
        bump(running_, -1);
        bump(failed_, 1);
        break;
      case event::retried:
        bump(running_, -1);
        bump(retried_, 1);
        break;
      case event::cancelled:
        bump(running_, -1);
        bump(cancelled_, 1);
        break;
      case event::pulled_cancelled:
        bump(cancelled_, 1);
        break;
      case event::rate_wait:
        bump(waiting_, 1);
        break;
      case event::rate_done:
        bump(waiting_, -1);
        break;
    }
  }
  [[gnu::always_inline]] static void bump(std::atomic<std::size_t>& c, int by) noexcept {
    c.store(c.load(std::memory_order_relaxed) + static_cast<std::size_t>(by),
            std::memory_order_relaxed);
  }
  std::atomic<std::size_t> pulled_{0}, started_{0}, running_{0}, succeeded_{0}, failed_{0},
      retried_{0}, cancelled_{0}, waiting_{0};
  std::vector<const limit*> limits_;
  std::vector<limit_state> final_;
};

/// Records `e` if the run has a progress object.
[[gnu::always_inline]] inline void record(progress* p, progress::event e) noexcept {
  if (p) p->record(e);
}

}  // namespace sluice
