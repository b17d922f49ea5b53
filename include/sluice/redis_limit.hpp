// sluice::redis_rate_limit, redis_window_limit, redis_lease_limit: limits kept on a Redis
// server, shared by every process that names the same limit, as sluice::limit (limit.hpp) so
// that a limit_set (and the runners) take them with their local ones. Each decision is one
// Lua script on the server's clock (redis.call('TIME')), never a worker's: a GCRA rate that
// reserves each start's slot, an exact sliding window, and concurrency leases that expire
// when their holder dies (kill -9) and are renewed while it lives.
#pragma once

#include "sluice/aimd.hpp"
#include "sluice/limit.hpp"
#include "sluice/redis_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

/// What every Redis limit shares: it asks the server for room for the waiter at the head of
/// a set (one script call at a time), and tells the set when the answer is in. While the
/// server cannot be reached, nothing is admitted: tasks wait (never run unlimited), the
/// question is asked again with backoff, and `on_problem` is told (once per new message).
///
/// Its times are the steady clock's (as limit_set's); the server's answers are waits, added to
/// the local time they arrive at. Used from the client's thread or strand; the client must
/// outlive it.
class redis_limit : public limit {
 public:
  ~redis_limit() override;

  [[nodiscard]] duration earliest(duration after, const demand& d) const final;
  void commit(duration scheduled, duration actual, const demand& d) final;
  void hold_until(duration t) final { hold_ = std::max(hold_, t); }
  [[nodiscard]] std::uint64_t max_cost() const override = 0;

  /// Told of trouble reaching the server or of its refusals ("redis: no reply within
  /// 2000 ms; tasks wait"), and of recovery.
  void on_problem(std::function<void(const std::string&)> f) { problem_ = std::move(f); }
  /// The Redis key the limit lives in.
  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  /// Script calls made, and how many of them failed (unreachable, refused).
  [[nodiscard]] std::uint64_t calls() const noexcept { return calls_; }
  [[nodiscard]] std::uint64_t failures() const noexcept { return failures_; }

  /// Suspends until what the limit holds on the server is given back (leases) and its calls
  /// in flight are over; then the client may be closed. Nothing for a rate or a window.
  [[nodiscard]] virtual boost::asio::awaitable<void> close();

 protected:
  /// What the server answered: room (`granted`, usable `wait` from now, and for leases their
  /// ids), or no room until `wait` from now (asked again then).
  struct answer {
    bool granted = false;
    duration wait{0};
    std::vector<std::string> ids;
    /// When the script also gives the server's clock: the time it is usable from and the
    /// time it ran (us since the server's epoch). The slot is then placed on the local clock
    /// through the least delay seen so far, not through this reply's (which a busy process
    /// reads late: its slot would be late, and a server counting arrivals would see it so).
    std::int64_t server_at_us = -1, server_now_us = -1;
    /// An adaptive rate's value now (0: none given).
    double rate = 0;
  };
  redis_limit(redis_client& client, std::string key);
  /// One script call for `cost` more units. Throws redis_unavailable or redis_error. Touches
  /// no member once suspended (the limit may be gone when it resumes).
  virtual boost::asio::awaitable<answer> ask(std::uint64_t cost) = 0;
  /// The server answered (called before the answer is used, the limit alive).
  virtual void answered(const answer& /*a*/) {}
  /// The start took these lease ids (leases keep them until release) and `cost` units of
  /// room, `late` after the time the server gave it.
  virtual void took(std::vector<std::string> /*ids*/, std::uint64_t /*cost*/, duration /*late*/) {}
  /// Tells on_problem, once per new problem; `recovered` ends the current one.
  void tell(const std::string& message, bool recovered = false);
  /// How much before its slot a start may go (the timer's latency is then spent early, where
  /// it is harmless, not late, where it adds up): 0 but for a rate.
  [[nodiscard]] virtual duration lead() const noexcept { return duration{0}; }
  /// Lease ids the server gave that no start took (close() gives them back).
  std::vector<std::string> unused_ids();
  static duration now();
  /// A time of the local clock on the server's (us since its epoch), through the best offset
  /// known; none before the first reply that gave the server's clock.
  [[nodiscard]] std::optional<std::int64_t> server_time(duration local) const;

  redis_client& client_;
  std::string key_;
  std::uint64_t calls_ = 0, failures_ = 0;
  /// Alive while the limit is: coroutines of a destroyed limit touch nothing.
  std::shared_ptr<redis_limit*> self_;
  /// Calls in flight (questions, renewals, releases), and what close() waits on.
  std::size_t in_flight_ = 0;
  boost::asio::steady_timer idle_;
  void call_ended();

 private:
  void start_asking(std::uint64_t cost) const;
  boost::asio::awaitable<void> asking(std::shared_ptr<redis_limit*> alive, std::uint64_t cost);

  // Room the server gave that no start has taken yet (usable from `at`).
  struct grant {
    duration at{0};
    std::uint64_t cost = 0;
    std::vector<std::string> ids;
    std::int64_t server_at_us = -1;  // when the server's clock is known: its slot there
  };
  std::optional<grant> ready_;
  bool asking_ = false;
  duration retry_at_{duration::min()};  // no question before (a "no room until")
  duration backoff_{0};                 // after a failure, doubling
  duration hold_{duration::min()};
  std::string last_problem_;
  std::function<void(const std::string&)> problem_;
  // The local steady clock minus the server's, through the fastest reply seen (a lower bound
  // of the one-way delay), allowed to grow 20 ppm (the clocks' drift).
  std::optional<duration> offset_;
  duration offset_seen_{0};
};

/// A GCRA rate shared through Redis: `rate` units a second with bursts of `burst`, as
/// gcra_limit, its theoretical arrival time in the key. Each call reserves the next slot on
/// the server's clock and returns how long until it: one round trip per start, and starts
/// across machines come in the order they asked. A reserved slot not used (its waiter was
/// cancelled, or its process died) is lost, never given twice.
///
/// A start later than its slot (a busy scheduler, a slow timer) is counted where it happened:
/// the next call moves the shared schedule by the delay while the rate is saturated, by one
/// interval per unit at most. A server counting arrivals at the same rate (nginx's limit_req,
/// an API's bucket) would otherwise see the late start bunched with the next one, and its
/// bucket never gets that slot's room back: at exactly the server's rate, delays add up to a
/// 429. A start later than an interval (held by a Retry-After in its process) is one arrival
/// more than the rate wherever it lands, which one interval pays for: moving the schedule by
/// the whole delay would stop every process for it. The rate given up is the mean delay over
/// the interval (docs/benchmarks.md). So each start aims a little early (half the interval,
/// at most 5 ms): a start that early only borrows from the burst the server allows (half a
/// start, never more, as the next one aims early too), and the timer's usual latency no
/// longer makes it late.
///
/// Adaptive (adapt()): the rate is one AIMD value kept on the server beside the schedule
/// (key + ":aimd"), the arithmetic of sluice::aimd: a signal (a 429, a 503, a timeout) from
/// any process lowers it for all of them, once per round (a signal from a start made before
/// the last decrease is not counted again, on the server's clock), and every success raises
/// it, up to the ceiling. Signals and successes ride on the process's next call: no round
/// trip of their own.
class redis_rate_limit final : public redis_limit {
 public:
  /// Throws std::invalid_argument for a rate that is not finite and > 0, or burst 0. Every
  /// process sharing `key` should give the same rate and burst.
  redis_rate_limit(redis_client& client, std::string key, double rate, std::uint32_t burst = 1);
  [[nodiscard]] std::uint64_t max_cost() const override { return burst_; }
  [[nodiscard]] std::string describe() const override;

  /// Makes the shared rate adaptive between o.floor and o.ceiling (o.latency_target is not
  /// used: signals are the caller's). Every process sharing the key should adapt alike.
  /// Throws std::invalid_argument as sluice::aimd does.
  void adapt(const aimd_options& o);
  /// A task that started at `started` (the steady clock) succeeded, or met a signal of
  /// overload: told to the server with the next call.
  void success(duration started);
  void signal(duration started);
  /// The rate now: the shared value as the last reply gave it when adaptive.
  [[nodiscard]] double rate() const noexcept { return value_; }

 private:
  boost::asio::awaitable<answer> ask(std::uint64_t cost) override;
  void answered(const answer& a) override;
  void took(std::vector<std::string> ids, std::uint64_t cost, duration late) override;
  [[nodiscard]] duration lead() const noexcept override;
  double rate_;
  std::uint32_t burst_;
  duration late_{0};  // of starts since the last call: the schedule moves by it
  std::optional<aimd_options> aimd_;
  double value_;                       // the rate in force (the shared one, when adaptive)
  std::uint64_t successes_ = 0;        // since the last call
  std::int64_t signal_start_us_ = -1;  // the latest signalled start since it (server us)
};

/// At most `capacity` units in any `window` (sliding, exact), shared through Redis: a sorted
/// set of the admitted starts (16 to 40 bytes each on the server) and their sum. A start that
/// does not fit is told when the oldest starts leave the window, and asks again then.
class redis_window_limit final : public redis_limit {
 public:
  redis_window_limit(redis_client& client, std::string key, std::uint64_t capacity,
                     duration window);
  [[nodiscard]] std::uint64_t max_cost() const override { return capacity_; }
  [[nodiscard]] std::string describe() const override;

 private:
  boost::asio::awaitable<answer> ask(std::uint64_t cost) override;
  std::uint64_t capacity_;
  duration window_;
  std::string member_prefix_;
  std::uint64_t next_member_ = 0;
};

/// At most `capacity` tasks at once across every process sharing `key`: each start holds a
/// lease (an id in a sorted set, scored by its expiry on the server's clock) until the task
/// ends. A held lease is renewed every ttl/3; a process killed with kill -9 stops renewing,
/// and its places come back ttl later without anyone's help. A full set is asked again every
/// `poll` (or at the first expiry, if sooner).
class redis_lease_limit final : public redis_limit {
 public:
  redis_lease_limit(redis_client& client, std::string key, std::uint64_t capacity,
                    duration ttl = std::chrono::seconds(30),
                    duration poll = std::chrono::milliseconds(25));
  [[nodiscard]] std::uint64_t max_cost() const override { return capacity_; }
  [[nodiscard]] bool holds() const noexcept override { return true; }
  void release(duration at, const demand& d) override;
  [[nodiscard]] std::string describe() const override;
  /// Gives back every lease still held, and waits for the releases in flight.
  [[nodiscard]] boost::asio::awaitable<void> close() override;
  /// Leases this process holds now.
  [[nodiscard]] std::size_t held() const noexcept { return held_.size(); }
  /// Renewals that found a lease gone (expired while the server was unreachable) with no
  /// room to take it again: the task ran on without it.
  [[nodiscard]] std::uint64_t lost() const noexcept { return lost_; }

 private:
  boost::asio::awaitable<answer> ask(std::uint64_t cost) override;
  void took(std::vector<std::string> ids, std::uint64_t cost, duration late) override;
  boost::asio::awaitable<void> give_back(std::shared_ptr<redis_limit*> alive,
                                         std::vector<std::string> ids);
  boost::asio::awaitable<void> renew_while_held(std::shared_ptr<redis_limit*> alive);

  std::uint64_t capacity_;
  duration ttl_, poll_;
  std::string id_prefix_;
  std::uint64_t next_id_ = 0;
  std::deque<std::string> held_;
  std::uint64_t lost_ = 0;
  bool renewing_ = false;
  boost::asio::steady_timer renew_timer_;
};

}  // namespace sluice
