// The one options struct shared by every runner and task_scope: how many at once, how fast,
// in what order, how long a task may run, how often it is retried, and what a failure does
// to the rest.
#pragma once

#include "sluice/input_fn.hpp"
#include "sluice/keyed_limit.hpp"
#include "sluice/limit.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class limiter;
class rate_limit;
class progress;

/// What a failing task does to the run.
enum class error_policy {
  /// The first failure stops pulling input, cancels the running siblings, waits for them and
  /// rethrows that first failure.
  fail_fast,
  /// Nothing is cancelled; every task runs. The run then throws sluice::task_errors holding
  /// every failure (wrap the task in sluice::capture to get per-task outcomes instead).
  keep_going,
  /// Like keep_going until options.halt's condition is met, then stop (GNU parallel's --halt).
  halt,
};

/// When a run under error_policy::halt stops: GNU parallel's `--halt when,event=N|P%`.
///
/// - `soon` stops starting tasks and lets the running ones finish; `now` also cancels them.
/// - `fail=N`: after N failures; `fail=P%`: once at least 3 tasks have finished and P% of the
///   finished ones failed. The run then throws sluice::task_errors (every failure so far).
/// - `success=N` / `success=P%`: after N (P%) successes. The run ends normally; failures
///   before that are not thrown (they are still counted and, in a task_scope, listed).
/// - `done=N` / `done=P%`: after N (P%) tasks finished either way. Failures are thrown as
///   with keep_going.
/// Tasks cancelled by `now` count neither as failures nor as successes.
struct halt_policy {
  enum class mode { soon, now };
  enum class trigger { fail, success, done };
  mode when = mode::soon;
  trigger on = trigger::fail;
  /// N; when 0, `percent` is used.
  std::size_t count = 1;
  /// P in (0, 100], used when count is 0.
  double percent = 0;

  /// Parses GNU parallel's syntax: "now,fail=1", "soon,fail=20%", "now,success=1",
  /// "soon,done=100". Throws std::invalid_argument quoting the text and naming the part.
  static halt_policy parse(std::string_view text);
  /// The same text back ("now,fail=20%").
  [[nodiscard]] std::string to_string() const;
  /// Whether the condition holds after these task ends: N of the trigger, or P% of the tasks
  /// ended (once at least 3 have).
  [[nodiscard]] bool met(std::size_t succeeded, std::size_t failed) const noexcept;
};

/// Retries with exponential backoff and full jitter: the wait before attempt k+1 (k >= 1
/// attempts made) is uniform in [0, min(cap, base * 2^(k-1))).
struct retry_policy {
  /// Attempts in all, the first one included; 1 = no retry.
  std::uint32_t attempts = 1;
  std::chrono::nanoseconds base = std::chrono::milliseconds(100);
  std::chrono::nanoseconds cap = std::chrono::seconds(10);
  /// Which errors are worth another attempt; default: every error but cancellation
  /// (operation_aborted). A task timeout (sluice::timeout_error) is retryable by default.
  std::function<bool(const std::exception_ptr&)> retryable{};
  /// The least wait before the next attempt that the error asks for (a server's
  /// Retry-After); the wait is the larger of it and the backoff. Default: none.
  std::function<std::chrono::nanoseconds(const std::exception_ptr&)> wait_at_least{};
  /// The jitter source: uniform in [0, 1). Default: a per-thread std::mt19937_64 seeded from
  /// std::random_device. Tests pass a seeded generator for an exact schedule.
  std::function<double()> jitter{};
};

/// Options for run_on_each, run_all, amap, run_any and task_scope.
///
///     co_await sluice::run_on_each(fetch, urls, {.max_at_once = 50, .max_per_second = 20});
struct options {
  /// Most tasks running at once; 0 = unlimited (task_scope: must be >= 1).
  std::size_t max_at_once = 0;
  /// Most task starts per second (GCRA, fractional allowed); 0 = unlimited. Every retry
  /// attempt is a start.
  double max_per_second = 0;
  /// Starts allowed back to back after idle time (GCRA burst); >= 1.
  std::uint32_t burst = 1;
  /// amap: yield results in input order instead of completion order.
  bool ordered = false;
  /// amap with ordered: results that may wait behind a slow head beyond max_at_once. At most
  /// max_at_once + reorder_window results are held; input is not pulled beyond that window.
  std::size_t reorder_window = 0;
  error_policy errors = error_policy::fail_fast;
  /// With errors = error_policy::halt: when to stop.
  halt_policy halt{};
  /// Per attempt: a task running longer is cancelled and fails with sluice::timeout_error.
  /// 0 = no timeout.
  std::chrono::nanoseconds timeout{0};
  /// Per task: how failed attempts are retried. An attempt that backs off holds no
  /// max_at_once place and no `limiter` permit; it waits for every limit again to restart.
  retry_policy retry{};
  /// More limits, acquired with max_at_once's run slots, max_per_second and per_key as one
  /// decision (a sluice::limit_set): caps, rates and windows shared with other runs, or
  /// changed while the run goes (a concurrency_limit whose capacity is lowered, an adaptive
  /// rate). Each counts a task's cost unless given as {&l, counts::starts}. Not owned; each
  /// must outlive the run.
  std::vector<limit_ref> limits{};
  /// Per task: its cost in the units of `limits` (the tokens of a request); default 1. A
  /// cost above what a limit can ever admit fails that task with std::invalid_argument.
  input_fn<std::uint64_t> cost{};
  /// Per task: its key, for per_key (the tenant, the host).
  input_fn<std::string> key{};
  /// Limits per key, on top of the global ones: each key's starts and places (see
  /// sluice::per_key_limits). Needs `key`. With cost or key set, a task's input is pulled
  /// before its limits are acquired (it waits with its input).
  std::optional<per_key_limits> per_key{};
  /// Older forms of shared limits, waited for after the ones above (so not in the same
  /// decision): each task holds one permit of `limiter` while it runs and takes one start
  /// from `rate_limiter`. Not owned; must outlive the run.
  sluice::limiter* limiter = nullptr;
  sluice::rate_limit* rate_limiter = nullptr;
  /// Counters the run keeps up to date (see sluice::progress). Not owned; must outlive the run.
  sluice::progress* progress = nullptr;
};

/// Throws std::invalid_argument naming the field when `opts` cannot be honoured: a negative,
/// NaN or infinite max_per_second, burst 0, a negative timeout, retry.attempts 0, a retry
/// base or cap <= 0 (when retrying), a halt percent outside (0, 100], per_key without key,
/// or a null entry in limits.
void validate(const options& opts);

}  // namespace sluice
