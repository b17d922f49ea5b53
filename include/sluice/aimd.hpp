// sluice::aimd: additive increase, multiplicative decrease of a concurrency cap or a rate,
// between a floor and a ceiling, driven by what the tasks meet: a signal (a 429, a 503, a
// timeout, as the caller classifies it, or a latency above a target) lowers it, successes
// raise it again. The rule TCP congestion control uses, for the same reason: a server's
// capacity is unknown and changes, and the client must find it without overloading it.
#pragma once

#include "sluice/concurrency_limit.hpp"
#include "sluice/gcra_limit.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice {

struct aimd_options {
  /// The least value (a cap >= 1, a rate > 0) and the most (the value it starts at).
  double floor = 1;
  double ceiling = 1;
  /// Added per round: per `value` successes (a cap of c gains `increase` once c tasks have
  /// succeeded; a rate of r/s gains `increase`/s once r starts have succeeded).
  double increase = 1;
  /// The factor a signal applies, in (0, 1).
  double decrease = 0.7;
  /// A success slower than this (start to end) is a signal; 0 = no latency target.
  std::chrono::nanoseconds latency_target{0};
};

/// The controller of one value, with no clock of its own: told when each task started and
/// ended (times on the clock of the limits it steers).
///
/// A signal lowers the value once per round: a signal from a task that started before the
/// last decrease reflects the old value and is not counted again, so a burst of failures
/// from one overload halves the value once, not once per failure.
class aimd {
 public:
  using duration = std::chrono::nanoseconds;
  /// Throws std::invalid_argument when floor is not > 0, ceiling < floor, increase < 0 or
  /// decrease is not in (0, 1).
  explicit aimd(aimd_options o);

  /// A task that started at `started` succeeded at `now`; true when the value changed.
  bool success(duration started, duration now);
  /// A task that started at `started` met a signal at `now`; true when the value changed.
  bool signal(duration started, duration now);
  /// A new ceiling (and floor), as a user changes -j or -r while it runs; the value is
  /// clamped to it.
  void set_bounds(double floor, double ceiling);

  [[nodiscard]] double value() const noexcept { return value_; }
  [[nodiscard]] const aimd_options& options() const noexcept { return o_; }
  [[nodiscard]] std::uint64_t signals() const noexcept { return signals_; }
  [[nodiscard]] std::uint64_t decreases() const noexcept { return decreases_; }

 private:
  aimd_options o_;
  double value_;
  duration last_decrease_{duration::min()};
  std::uint64_t signals_ = 0, decreases_ = 0;
};

namespace detail {
// What a controller's value means to the limit it steers.
void apply_value(concurrency_limit& cap, double value);  // the capacity, rounded down, >= 1
void apply_value(gcra_limit& rate, double value);        // the rate
}  // namespace detail

/// An aimd that steers a limit: a concurrency_limit's capacity (adaptive_cap) or a
/// gcra_limit's rate (adaptive_rate). The limit starts at the ceiling.
template <class Limit>
class adaptive {
 public:
  adaptive(Limit& l, aimd_options o) : limit_(l), a_(o) { apply(); }
  void success(limit::duration started, limit::duration now) {
    if (a_.success(started, now)) apply();
  }
  void signal(limit::duration started, limit::duration now) {
    if (a_.signal(started, now)) apply();
  }
  [[nodiscard]] const aimd& control() const noexcept { return a_; }
  aimd& control() noexcept { return a_; }
  /// Applies the controller's value to the limit (after set_bounds, say).
  void apply() { detail::apply_value(limit_, a_.value()); }

 private:
  Limit& limit_;
  aimd a_;
};

using adaptive_cap = adaptive<concurrency_limit>;
using adaptive_rate = adaptive<gcra_limit>;

}  // namespace sluice
