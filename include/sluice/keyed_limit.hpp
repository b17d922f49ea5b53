// sluice::keyed_limit: limits per key (per tenant, per host, per user) as one sluice::limit:
// each key gets its own cap, rate and windows, created when the key first starts a task and
// dropped once it is idle again, so memory is bounded by the keys in use, not by the keys
// ever seen.
#pragma once

#include "sluice/gcra.hpp"
#include "sluice/limit.hpp"
#include "sluice/sliding_window.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sluice {

/// What each key may do. Every field is optional (0 = no such limit); at least one is set.
struct per_key_limits {
  /// Tasks of one key holding a place at once.
  std::uint64_t max_at_once = 0;
  /// Starts (units) of one key per second, bursts of `burst`.
  double max_per_second = 0;
  std::uint32_t burst = 1;
  struct window {
    std::uint64_t capacity;
    std::chrono::nanoseconds length;
  };
  /// Sliding windows per key: at most `capacity` in any `length`.
  std::vector<window> windows{};
};

/// Per-key limits. A demand's key selects the state (a demand without a key is of the key
/// "", like any other).
///
/// A key's state exists while it matters: it is created at the key's first start and
/// dropped when it is idle (no place held, its rate and windows back to full room). Idle
/// keys are found by a sweep of the least recently used keys, a few at each start, so a run
/// over millions of distinct keys holds only the ones of the last window.
class keyed_limit final : public limit {
 public:
  /// Throws std::invalid_argument when no limit is set or one is invalid.
  explicit keyed_limit(per_key_limits spec);
  ~keyed_limit() override;

  [[nodiscard]] duration earliest(duration after, const demand& d) const override;
  void commit(duration scheduled, duration actual, const demand& d) override;
  void release(duration now, const demand& d) override;
  void settle(duration at, const demand& d, std::uint64_t actual) override;
  void hold_until(duration t) override;
  [[nodiscard]] std::uint64_t max_cost() const override { return max_cost_; }
  [[nodiscard]] bool per_key() const noexcept override { return true; }
  [[nodiscard]] bool holds() const noexcept override { return spec_.max_at_once > 0; }
  [[nodiscard]] std::string describe() const override;

  /// Keys with state now.
  [[nodiscard]] std::size_t keys() const noexcept { return keys_.size(); }
  [[nodiscard]] const per_key_limits& spec() const noexcept { return spec_; }

 private:
  struct state {
    std::uint64_t held = 0;
    std::optional<gcra> rate;
    std::vector<sliding_window> windows;
    // Least recently used order, for the sweep.
    state* older = nullptr;
    state* newer = nullptr;
    const std::string* key = nullptr;
  };
  state fresh() const;
  duration earliest_in(const state& s, duration after, std::uint64_t cost) const;
  bool idle(const state& s, duration now) const;
  void touch(state& s);
  void unlink(state& s);
  void sweep(duration now, std::size_t budget);

  per_key_limits spec_;
  std::uint64_t max_cost_;
  state prototype_;  // a fresh key's state: what earliest() answers for a key not yet seen
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept {
      return std::hash<std::string_view>{}(k);
    }
  };
  std::unordered_map<std::string, state, hash, std::equal_to<>> keys_;
  state* oldest_ = nullptr;
  state* newest_ = nullptr;
  duration hold_{duration::min()};
};

}  // namespace sluice
