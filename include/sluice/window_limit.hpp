// sluice::window_limit: a sliding window (sliding_window.hpp) as a sluice::limit: at most N
// units in any window of a given length, starts at least a gap apart.
#pragma once

#include "sluice/limit.hpp"
#include "sluice/sliding_window.hpp"

#include <cstdint>
#include <string>

namespace sluice {

class window_limit final : public limit {
 public:
  /// Throws std::invalid_argument as sliding_window does.
  window_limit(std::uint64_t capacity, duration window, duration min_gap = duration{0})
      : w_(capacity, window, min_gap) {}

  [[nodiscard]] duration earliest(duration after, const demand& d) const override {
    return w_.earliest(after, d.cost);
  }
  /// At the actual time: a server counts arrivals, and a window must hold at every instant.
  void commit(duration, duration actual, const demand& d) override { w_.commit(actual, d.cost); }
  void settle(duration at, const demand& d, std::uint64_t actual) override {
    w_.settle(at, d.cost, actual);
    if (actual < d.cost) notify();
  }
  /// With `remaining` below the room left now, the difference is taken until `reset`.
  void server_says(duration now, std::uint64_t remaining, duration reset) override {
    w_.agree(now, remaining, reset);
    notify();
  }
  void hold_until(duration t) override { w_.hold_until(t); }
  [[nodiscard]] std::uint64_t max_cost() const override { return w_.capacity(); }
  [[nodiscard]] std::string describe() const override;

  /// The arithmetic, to read or change (then call changed()).
  [[nodiscard]] const sliding_window& state() const noexcept { return w_; }
  void set_capacity(std::uint64_t capacity) {
    w_.set_capacity(capacity);
    notify();
  }
  void set_window(duration window) {
    w_.set_window(window);
    notify();
  }
  void set_min_gap(duration gap) {
    w_.set_min_gap(gap);
    notify();
  }

 private:
  sliding_window w_;
};

}  // namespace sluice
