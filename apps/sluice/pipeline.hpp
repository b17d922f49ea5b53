// The run that `sluice run` and `sluice http` share: reads the inputs, skips what the results
// file says is done, runs a task of the given kind for the rest within the limits (retries,
// halt policy, keep-order, --dedupe, shards), writes each task's row and job log line as it
// ends, draws the progress line and handles SIGINT/SIGTERM.
#pragma once

#include "inputs.hpp"
#include "run_config.hpp"
#include "task_kind.hpp"

#include <sluice/fingerprint_set.hpp>
#include <sluice/jsonl_writer.hpp>
#include <sluice/stream.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>

namespace sluice::cli {

/// Where a run's inputs come from instead of its input file: a work queue (sluice worker).
class input_source {
 public:
  virtual ~input_source() = default;
  /// The inputs, on the run's executor. Those whose identity is in `done` (their rows are in
  /// the results file already) are the source's to settle, not to yield.
  virtual stream<std::shared_ptr<const input_item>> items(const boost::asio::any_io_executor& ex,
                                                          const fingerprint_set& done) = 0;
  /// The row of `in` was written to `out` (not synced yet).
  virtual void written(const input_item& in, jsonl_writer& out) = 0;
  /// The run is over (or stopping): what was written is synced and settled.
  virtual boost::asio::awaitable<void> close() = 0;
  /// The run's executor has stopped (however the run ended): what lives on it (timers,
  /// connections) goes now, before its io_context does.
  virtual void run_over() noexcept = 0;
};

/// Runs `c` with tasks of `kind` and returns the exit code (see exit_codes.hpp). Errors that
/// stop it before or while it runs are thrown: usage_error, sluice::jsonl_error (bad input,
/// naming the file, line and field), std::system_error (the output cannot be written). With a
/// `source`, the inputs come from it (c's input is not read).
int run_tasks(const run_config& c, task_kind& kind, input_source* source = nullptr);

}  // namespace sluice::cli
