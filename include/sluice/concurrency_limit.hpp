// sluice::concurrency_limit: at most N units held at once (tasks running, connections open),
// as a sluice::limit, so that a limit_set decides a place and a start together: a task that
// waits for a rate holds no place, and one that waits for a place takes no start.
#pragma once

#include "sluice/limit.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice {

/// A cap on what is held at once. A start of cost c holds c places until its ticket is
/// released. The capacity can change while tasks run and wait: raising it admits waiters at
/// once; lowering it takes effect as places come back.
class concurrency_limit final : public limit {
 public:
  /// Throws std::invalid_argument when capacity is 0.
  explicit concurrency_limit(std::uint64_t capacity);

  [[nodiscard]] duration earliest(duration after, const demand& d) const override;
  void commit(duration, duration, const demand& d) override { held_ += d.cost; }
  void release(duration, const demand& d) override;
  void hold_until(duration t) override;
  [[nodiscard]] std::uint64_t max_cost() const override { return capacity_; }
  [[nodiscard]] bool holds() const noexcept override { return true; }
  [[nodiscard]] std::string describe() const override;

  /// Throws std::invalid_argument when capacity is 0.
  void set_capacity(std::uint64_t capacity);
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  /// Places held now (may exceed capacity right after it was lowered).
  [[nodiscard]] std::uint64_t held() const noexcept { return held_; }

 private:
  std::uint64_t capacity_;
  std::uint64_t held_ = 0;
  duration hold_{duration::min()};
};

}  // namespace sluice
