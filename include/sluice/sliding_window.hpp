// Sliding-window limit arithmetic, as pure functions of time (no Asio, no clock): at most
// `capacity` units of cost (starts, or tokens) in any window of `window` length, and
// optionally at least `min_gap` between two starts. It is the guarantee of aioextensions'
// rate_limited(max_calls, max_calls_period, min_seconds_between_calls) and of quotas stated
// "500 requests per minute": unlike GCRA at rate N/P with burst N, which lets 2N-1 starts into
// one window, it never admits more than N into any window, and still allows bursts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>

namespace sluice {

/// The state of one sliding-window limit: the starts of the last window (time and cost).
///
/// Exact up to a capacity of `exact_capacity` (65,536) units: a start at t is admitted when
/// the costs of the starts in (t - window, t] plus its own are at most capacity, and t is at
/// least min_gap after the last start. Starts are committed in time order (each at or after
/// the last one). Memory: one entry (16 bytes) per start still inside the window, so at most
/// `capacity` entries (each cost is >= 1, so 1 MiB at most); starts at the same nanosecond
/// share one entry.
///
/// Beyond that capacity the window is bucketed: a start is recorded at the end of its
/// quantum, the least power-of-two number of nanoseconds >= window / 65,536 (so at most
/// window / 32,768), and the starts of one quantum share one entry: at most 65,537 entries
/// whatever the capacity and the rate. The error is one-sided: a start stays in the window
/// at most one quantum longer than it should, so no window ever holds more than capacity
/// (the guarantee is kept), and a start waiting for room may start at most one quantum
/// later than the exact window would let it: a window kept full admits at most one quantum
/// late per window length, its rate at most 1/32,768 (0.003%) below capacity. The quantum is
/// 16.4 us for a 1 s window, 1.05 ms for a minute, 67 ms for an hour; quantum() says which.
///
///     sliding_window w{10, 1s};           // at most 10 starts in any second
///     auto t = w.earliest(now, 1);        // first time >= now at which one more fits
///     w.commit(t, 1);                     // record that start
class sliding_window {
 public:
  using duration = std::chrono::nanoseconds;

  /// Throws std::invalid_argument when capacity is 0, window is not > 0, or min_gap < 0.
  sliding_window(std::uint64_t capacity, duration window, duration min_gap = duration{0});

  /// The earliest time >= now at which a start of `cost` fits. Throws std::invalid_argument
  /// when cost is 0 or above capacity (it would never fit).
  [[nodiscard]] duration earliest(duration now, std::uint64_t cost = 1) const;

  /// Records a start of `cost` at t (>= the last start; the caller checked that it fits).
  void commit(duration t, std::uint64_t cost = 1);

  /// Starts now if it fits; returns whether it did.
  bool try_commit(duration now, std::uint64_t cost = 1);

  /// A start committed at `t` with cost `estimated` cost `actual` instead (the tokens a
  /// response reported): later starts see the corrected cost. No-op when no start is
  /// recorded at t (it has left the window).
  void settle(duration t, std::uint64_t estimated, std::uint64_t actual);

  /// The server says only `remaining` more units fit until `reset`: when that is less than
  /// the room left at `now`, the difference is recorded as used, leaving the window at
  /// `reset` (or at now + window, when reset is further away than one window).
  void agree(duration now, std::uint64_t remaining, duration reset);
  /// No start before t (a server's "not before"); later holds win over earlier ones.
  void hold_until(duration t);

  /// New capacity, window or gap; the starts already made stay in the window.
  void set_capacity(std::uint64_t capacity);
  void set_window(duration window);
  void set_min_gap(duration gap);

  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] duration window() const noexcept { return window_; }
  [[nodiscard]] duration min_gap() const noexcept { return gap_; }
  /// Cost of the starts in (now - window, now], for a `now` at or after the last start.
  [[nodiscard]] std::uint64_t used(duration now) const noexcept;
  /// Entries kept (the memory: 16 bytes each).
  [[nodiscard]] std::size_t entries() const noexcept { return starts_.size(); }
  /// What a start's time is rounded up to: 0 for an exact window (capacity up to
  /// exact_capacity), else a power of two of nanoseconds >= window / 65,536.
  [[nodiscard]] duration quantum() const noexcept { return duration{quantum_}; }

  /// The largest capacity kept exactly; above it the window is bucketed.
  static constexpr std::uint64_t exact_capacity = 65'536;

 private:
  struct start {
    duration at;
    std::uint64_t cost;
  };
  void forget_before(duration t);  // drops starts that no window at or after t contains
  void requantize();               // after a change of capacity or window
  // A start's time as recorded: itself, or the end of its quantum.
  [[nodiscard]] duration recorded(duration t) const noexcept {
    return quantum_ == 0 ? t : duration{(t.count() + quantum_ - 1) & ~(quantum_ - 1)};
  }

  std::uint64_t capacity_;
  duration window_;
  duration gap_;
  std::deque<start> starts_;  // in time order
  std::uint64_t total_ = 0;   // cost of starts_
  duration hold_{duration::min()};
  duration last_{duration::min()};  // the last start (a gap runs from it)
  std::int64_t quantum_ = 0;        // 0, or a power of two (ns)
};

}  // namespace sluice
