// sluice::limit: the one concept every limit on starting tasks satisfies (a concurrency cap, a
// GCRA rate, a sliding window, per-key limits, limits shared across machines), so that a
// sluice::limit_set can acquire several of them as one decision and the runners see only
// that. A limit is arithmetic on times it is given (no clock, no Asio): exact on a manual
// clock, and cheap to ask twice.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// What one acquisition asks of a limit: its cost (1 start, or the tokens of a request) and,
/// for per-key limits, whose it is.
struct demand {
  std::uint64_t cost = 1;
  std::string_view key{};
};

/// Told when a limit has more room without time passing (a release, a raised capacity or
/// rate): a limit_set waiting on it looks at its queue again.
class limit_watcher {
 public:
  virtual void limit_changed() = 0;

 protected:
  ~limit_watcher() = default;
};

/// A limit on when tasks may start, and (for a concurrency cap) on how many may hold it.
///
/// A limit_set asks each of its limits for the earliest time a demand fits, moves to the
/// latest answer until no limit moves it, then commits the start to all of them at once. The
/// two hooks at the end are how a limit learns what only the task or the server knows: the
/// real cost of a start, and the quota the server says is left.
///
/// Not thread-safe: used from the thread or strand of the sets it belongs to.
class limit {
 public:
  using duration = std::chrono::nanoseconds;
  /// earliest()'s answer when only a release (or a change) can make room: a full cap.
  static constexpr duration on_release = duration::max();

  limit() = default;
  limit(const limit&) = delete;
  limit& operator=(const limit&) = delete;
  virtual ~limit() = default;

  /// The earliest time >= `after` at which `d` fits, or on_release. Throws
  /// std::invalid_argument when it can never fit (a cost above max_cost()).
  [[nodiscard]] virtual duration earliest(duration after, const demand& d) const = 0;
  /// Records the start: `scheduled` is the time the set computed (>= earliest) and `actual`
  /// the time it happens (later by the timer's latency). An average rate records the
  /// scheduled time (latency never accumulates into a lower rate); a strict count records
  /// the actual one (what a server counts).
  virtual void commit(duration scheduled, duration actual, const demand& d) = 0;
  /// The task that started with `d` has ended: a cap gives its place back (and tells its
  /// watchers). A rate or a window keeps the start: it happened. `at` is no earlier than the
  /// start (the set passes the start's time: no clock is read to release).
  virtual void release(duration /*at*/, const demand& /*d*/) {}
  /// The start committed at `at` with d.cost cost `actual` instead (the tokens a response
  /// reported): later starts see the corrected cost. A limit that cannot correct a past start
  /// records the difference now.
  virtual void settle(duration /*at*/, const demand& /*d*/, std::uint64_t /*actual*/) {}
  /// The server says `remaining` more units fit until `reset` (x-ratelimit-remaining, the
  /// IETF RateLimit header): a limit that counts what the server counts moves to agree with
  /// it, never to more room than it had. The default: with nothing remaining, no start
  /// before `reset`.
  virtual void server_says(duration /*now*/, std::uint64_t remaining, duration reset) {
    if (remaining == 0) hold_until(reset);
  }
  /// No start before t (a server's Retry-After); later holds win over earlier ones.
  virtual void hold_until(duration t) = 0;
  /// The largest cost that can ever fit (a cap, a burst, a window's capacity).
  [[nodiscard]] virtual std::uint64_t max_cost() const = 0;
  /// Whether a start holds something until its release (a cap's place): release() is called
  /// only for such limits.
  [[nodiscard]] virtual bool holds() const noexcept { return false; }
  /// Whether it limits each key on its own (a demand waiting only for its key's limits lets
  /// the demands of other keys go first).
  [[nodiscard]] virtual bool per_key() const noexcept { return false; }
  /// What it is now, for progress lines: "rate 20/s burst 5", "at once 8 (3 held)".
  [[nodiscard]] virtual std::string describe() const = 0;

  /// Time that starts waited with this limit the last to admit them.
  [[nodiscard]] duration waited() const noexcept { return waited_; }
  void add_waited(duration d) noexcept { waited_ += d; }

  /// Sets that wait on this limit (a limit may be shared by several sets).
  void watch(limit_watcher* w) { watchers_.push_back(w); }
  void unwatch(limit_watcher* w) {
    watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), w), watchers_.end());
  }

 protected:
  /// More room now: every set waiting on this limit reschedules.
  void notify() {
    for (std::size_t i = 0; i < watchers_.size(); ++i) watchers_[i]->limit_changed();
  }

 private:
  std::vector<limit_watcher*> watchers_;
  duration waited_{0};
};

/// What a limit counts in a set: each acquisition's cost (the default), or each start as one.
/// "500 requests and 200,000 tokens per minute" is a window of 500 counting starts and one of
/// 200,000 counting cost, acquired with each request's tokens.
enum class counts { cost, starts };

/// A limit and what it counts, as options::limits and limit_set::add_shared take it.
struct limit_ref {
  limit* lim = nullptr;
  counts what = counts::cost;
  limit_ref(limit* l, counts w = counts::cost) : lim(l), what(w) {}  // NOLINT: from a limit*
};

}  // namespace sluice
