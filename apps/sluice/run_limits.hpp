// The limits of one `sluice run` or `sluice http`, as its flags give them: made once, given to
// the runner (the cap, per-key limits, and for sluice run the starts) or to the requests
// (sluice http takes its starts when a connection is ready), and changed while the run goes
// by --adaptive and --control.
#pragma once

#include "run_config.hpp"

#include <sluice/aimd.hpp>
#include <sluice/limit_set.hpp>
#include <sluice/options.hpp>
#include <sluice/redis_limit.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::cli {

class run_limits {
 public:
  using duration = std::chrono::nanoseconds;

  /// `send_time_starts`: the task kind takes the starts itself (starts() is its set);
  /// `may_hold`: a task may ask every start to hold (a Retry-After), so a set is made even
  /// with no limit on starts.
  run_limits(const run_config& c, const boost::asio::any_io_executor& ex, bool send_time_starts,
             bool may_hold);
  run_limits(const run_limits&) = delete;
  run_limits& operator=(const run_limits&) = delete;
  ~run_limits();

  /// Gives the runner its limits: the cap (with --adaptive or --control), the starts (unless
  /// the kind takes them), the cost and the per-key limits.
  void apply(options& o);
  /// The set a kind that takes its starts itself acquires; null when there is none.
  [[nodiscard]] limit_set* starts() noexcept { return starts_ ? &*starts_ : nullptr; }

  /// An attempt that started at `started` (steady clock) ended: well, or with a sign of
  /// overload (--adaptive lowers its limits), or with a server's Retry-After.
  void succeeded(duration started);
  void overloaded(duration started);
  /// Without --adaptive, every start holds this long (capped by --max-hold); with it, the
  /// rate is lowered instead and only that task's retry waits.
  void hold(duration d);

  /// Applies a --control text: lines `max_at_once=N`, `max_per_second=R`, `burst=N` (blank
  /// lines and # comments skipped). Returns one message per bad line, naming `name` and the
  /// line; the good lines are applied all the same.
  std::vector<std::string> control(std::string_view text, const std::string& name);

  /// The limits now, for the progress line: "-j 8 -r 20/s", with the time waited on each.
  [[nodiscard]] std::string describe() const;

  static duration now();

  /// --redis: checks the server before the first start. A refused password (or any refusal)
  /// throws usage_error; a server not reachable yet is reported, and the tasks wait for it.
  boost::asio::awaitable<void> open();
  /// --redis: gives back what the shared limits hold (leases) and closes the connection (its
  /// I/O would keep the run going). The run's last step.
  boost::asio::awaitable<void> close();
  /// Closes the connection at once (a run that failed or was killed): leases expire.
  void close_now() noexcept;

 private:
  void apply_line(std::string_view field, std::string_view value,
                  const std::function<void(const std::string&)>& complain);
  void set_max_at_once(std::uint64_t n);
  void set_rate(double r);
  void share(const boost::asio::any_io_executor& ex);

  const run_config& c_;
  std::optional<concurrency_limit> cap_;  // -j, when it may change (--adaptive, --control)
  std::optional<gcra_limit> rate_;        // -r
  struct window {
    std::unique_ptr<window_limit> lim;
    counts what;
  };
  std::vector<window> windows_;  // --window, --min-gap, --cost-window
  // --redis: the client, and the limits it keeps (rate and windows count starts as their
  // local versions would; the leases cap tasks across processes). Declared before the set,
  // which goes first and leaves them as it does.
  std::unique_ptr<redis_client> redis_;
  struct shared {
    std::unique_ptr<redis_limit> lim;
    counts what;
    bool cap;  // a lease: the runner holds it for the whole task
  };
  std::vector<shared> shared_;
  redis_rate_limit* shared_rate_ = nullptr;  // -r with --redis (adaptive with --adaptive)
  std::optional<limit_set> starts_;
  std::optional<adaptive_cap> adaptive_cap_;
  std::optional<adaptive_rate> adaptive_rate_;
  std::uint64_t max_at_once_;  // -j as given or last set by --control (the ceiling)
  double max_per_second_;
};

}  // namespace sluice::cli
