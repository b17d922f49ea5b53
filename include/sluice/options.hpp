// The one options struct shared by every runner: how many at once, how fast, in what order,
// and what a failure does to the rest.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

class limiter;
class rate_limit;

/// What a failing task does to the run.
enum class error_policy {
  /// The first failure stops pulling input, cancels the running siblings, waits for them and
  /// rethrows that first failure.
  fail_fast,
  /// Nothing is cancelled; every task runs. The run then throws sluice::task_errors holding
  /// every failure (wrap the task in sluice::capture to get per-task outcomes instead).
  keep_going,
};

/// Options for run_on_each, run_all, amap and run_any.
///
///     co_await sluice::run_on_each(fetch, urls, {.max_at_once = 50, .max_per_second = 20});
struct options {
  /// Most tasks running at once; 0 = unlimited.
  std::size_t max_at_once = 0;
  /// Most task starts per second (GCRA, fractional allowed); 0 = unlimited.
  double max_per_second = 0;
  /// Starts allowed back to back after idle time (GCRA burst); >= 1.
  std::uint32_t burst = 1;
  /// amap: yield results in input order instead of completion order.
  bool ordered = false;
  /// amap with ordered: results that may wait behind a slow head beyond max_at_once. At most
  /// max_at_once + reorder_window results are held; input is not pulled beyond that window.
  std::size_t reorder_window = 0;
  error_policy errors = error_policy::fail_fast;
  /// Limits shared with other runs (one API quota for many calls). Each task holds one permit
  /// of `limiter` while it runs and takes one start from `rate_limiter`, on top of the
  /// per-call limits above. Not owned; must outlive the run.
  sluice::limiter* limiter = nullptr;
  sluice::rate_limit* rate_limiter = nullptr;
};

/// Throws std::invalid_argument naming the field when `opts` cannot be honoured: a negative,
/// NaN or infinite max_per_second, or burst 0.
void validate(const options& opts);

}  // namespace sluice
