// sluice::testing::manual_clock is a clock that moves only when a test says so, usable with
// Asio timers (asio::basic_waitable_timer<manual_clock>), and run_virtual is the loop that
// drives an io_context in virtual time: run what is ready, jump to the next timer, repeat, and
// fail on deadlock instead of hanging. Tests of timing logic use them and never sleep.
//
//     sluice::testing::virtual_time vt;        // resets the clock to 0
//     co_spawn(ctx, twenty_jobs_limit_five(), detached);
//     vt.run(ctx);                             // throws sluice::testing::deadlock on a hang
//     EXPECT_EQ(vt.elapsed(), 4ms);
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/wait_traits.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>

namespace sluice::testing {

/// A process-wide virtual clock (Clock requirements of <chrono>; steady). Starts at 0.
/// Single-threaded test support: one virtual timeline per process.
struct manual_clock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<manual_clock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept;
  /// Moves time forward by d (never backwards).
  static void advance(duration d);
  /// Sets the time; `reset()` sets it to 0. Only between runs: timers already armed keep their
  /// expiry times.
  static void set(time_point t) noexcept;
  static void reset() noexcept { set(time_point{}); }
};

/// Thrown by virtual_time when the io_context still has work but nothing can run and no
/// manual_clock timer is pending: the code under test would hang forever.
class deadlock : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Drives an io_context in virtual time.
class virtual_time {
 public:
  /// Resets manual_clock to 0.
  virtual_time();

  /// Runs every handler that is ready at the current virtual time, including timers that are
  /// due, until nothing more is ready. Does not advance time.
  void settle(boost::asio::io_context& ctx);

  /// Runs until the io_context has no work left, advancing virtual time to each next timer.
  /// Throws deadlock when work remains but nothing can ever run, and std::runtime_error when
  /// virtual time would pass `limit` (a run that does not end).
  void run(boost::asio::io_context& ctx,
           manual_clock::duration limit = std::chrono::hours(24 * 365));

  /// Like run, but stops as soon as `done()` holds after settling.
  void run_until(boost::asio::io_context& ctx, const std::function<bool()>& done,
                 manual_clock::duration limit = std::chrono::hours(24 * 365));

  /// Settles, then advances by d in steps to each timer on the way, settling at each.
  void advance(boost::asio::io_context& ctx, manual_clock::duration d);

  /// Virtual time since construction.
  [[nodiscard]] manual_clock::duration elapsed() const;

  /// The expiry of the earliest pending manual_clock timer, as last seen by Asio's reactor.
  [[nodiscard]] static std::optional<manual_clock::time_point> next_timer();

 private:
  manual_clock::time_point start_;
};

}  // namespace sluice::testing

namespace boost::asio {

/// Wait traits that never make the reactor block for virtual time: a due manual_clock timer
/// reports zero (so Asio collects it at once), a future one a long real wait (the driver
/// re-arms by kicking). Each query is also how the driver learns the next expiry.
template <>
struct wait_traits<sluice::testing::manual_clock> {
  using clock = sluice::testing::manual_clock;
  static clock::duration to_wait_duration(const clock::duration& d);
  static clock::duration to_wait_duration(const clock::time_point& t);
};

}  // namespace boost::asio
