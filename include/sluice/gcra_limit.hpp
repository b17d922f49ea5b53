// sluice::gcra_limit: a GCRA start rate (gcra.hpp) as a sluice::limit.
#pragma once

#include "sluice/gcra.hpp"
#include "sluice/limit.hpp"

#include <cstdint>
#include <string>

namespace sluice {

/// `rate` units per second, bursts of `burst` (each start is 1 unit, or its cost).
class gcra_limit final : public limit {
 public:
  /// Throws std::invalid_argument as gcra does (a rate that is not finite and > 0, burst 0).
  explicit gcra_limit(double rate, std::uint32_t burst = 1) : g_(rate, burst) {}

  [[nodiscard]] duration earliest(duration after, const demand& d) const override {
    return g_.earliest(after, checked(d.cost));
  }
  /// At the scheduled time: the rate is an average, and timer latency must not lower it.
  void commit(duration scheduled, duration, const demand& d) override {
    g_.commit(scheduled, checked(d.cost));
  }
  /// A start that cost more takes the difference now; one that cost less gives nothing back
  /// (GCRA keeps no history to correct).
  void settle(duration at, const demand& d, std::uint64_t actual) override;
  void hold_until(duration t) override { g_.hold_until(t); }
  [[nodiscard]] std::uint64_t max_cost() const override { return g_.burst(); }
  [[nodiscard]] std::string describe() const override;

  /// Changes take effect for the waiters at once.
  void set_rate(double rate);
  void set_burst(std::uint32_t burst);
  [[nodiscard]] double rate() const noexcept { return g_.rate(); }
  [[nodiscard]] std::uint32_t burst() const noexcept { return g_.burst(); }

 private:
  std::uint32_t checked(std::uint64_t cost) const;
  gcra g_;
};

}  // namespace sluice
