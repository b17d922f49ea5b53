// GCRA (generic cell rate algorithm) arithmetic for start-rate limits, as pure functions of
// time: no Asio, no clock, no waiting. basic_rate_limiter builds its waiting queue on it.
//
// Emission interval T = 1/rate, tolerance tau = (burst - 1) * T. A start at t conforms when
// t >= TAT - tau; it then moves TAT to max(TAT, t) + T. Times are integer nanoseconds and T is
// kept as an exact fraction of a nanosecond, so millions of starts never drift.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

/// The state of one GCRA limit: its rate, its burst and its theoretical arrival time (TAT).
///
/// Rates are quantized to 1e-6 starts per second (so 0.2 means exactly one start every 5 s and
/// 1000 exactly one every 1 ms); the slowest accepted rate is 1e-6/s.
///
///     gcra g{1000.0, 5};            // 1000 starts/s, bursts of up to 5
///     auto t = g.earliest(now, 1);  // first time >= now at which one start conforms
///     g.commit(t, 1);               // record that start
class gcra {
 public:
  using duration = std::chrono::nanoseconds;

  /// Throws std::invalid_argument when rate is not finite and > 0 (or below 1e-6/s or absurdly
  /// large), or burst is 0.
  gcra(double rate, std::uint32_t burst = 1);

  /// The earliest time >= now at which `n` starts at once conform (rounded up to whole ns).
  /// Throws std::invalid_argument when n is 0 or larger than the burst (it would never conform).
  [[nodiscard]] duration earliest(duration now, std::uint32_t n = 1) const;

  /// Records `n` starts at time t: TAT = max(TAT, t) + n*T. The caller checked conformance.
  void commit(duration t, std::uint32_t n = 1);

  /// earliest() then commit() at that exact (sub-ns) time: the slot a FIFO waiter reserves.
  /// Returns it rounded up to whole ns.
  duration reserve(duration now, std::uint32_t n = 1);

  /// Starts now if they conform; returns whether they did.
  bool try_commit(duration now, std::uint32_t n = 1);

  /// No start before `t`, and none in a burst right after it: the server said "not before t"
  /// (HTTP Retry-After), so the starts resume at t at the plain rate. Earlier holds and
  /// later starts already reserved are kept.
  void hold_until(duration t);

  /// New rate or burst; the starts already made keep their place (TAT is kept).
  void set_rate(double rate);
  void set_burst(std::uint32_t burst);

  [[nodiscard]] double rate() const noexcept;
  [[nodiscard]] std::uint32_t burst() const noexcept { return burst_; }
  /// The emission interval T, rounded down to whole ns.
  [[nodiscard]] duration interval() const noexcept { return duration{interval_.ns}; }

 private:
  // A time or duration as ns + frac/den_ ns, 0 <= frac < den_, where den_ is the rate in
  // micro-starts per second: T = 1e15 / den_ ns exactly.
  struct fixed {
    std::int64_t ns = 0;
    std::uint64_t frac = 0;
  };
  fixed times(fixed d, std::uint64_t n) const;
  fixed add(fixed a, fixed b) const;
  fixed sub(fixed a, fixed b) const;  // a - b, may go negative in ns
  static bool less(fixed a, fixed b) { return a.ns < b.ns || (a.ns == b.ns && a.frac < b.frac); }
  void recompute();
  fixed earliest_exact(duration now, std::uint32_t n) const;
  static duration round_up(fixed t);  // to whole ns
  void commit_exact(fixed t, std::uint32_t n);

  std::uint64_t den_ = 1;  // rate in micro-starts per second
  std::uint32_t burst_ = 1;
  fixed interval_{};   // T
  fixed tolerance_{};  // tau = (burst - 1) * T
  fixed tat_{};
  bool started_ = false;  // no start yet: the first one is immediate
};

}  // namespace sluice
