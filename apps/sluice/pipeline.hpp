// The run that `sluice run` and `sluice http` share: reads the inputs, skips what the results
// file says is done, runs a task of the given kind for the rest within the limits (retries,
// halt policy, keep-order, --dedupe, shards), writes each task's row and job log line as it
// ends, draws the progress line and handles SIGINT/SIGTERM.
#pragma once

#include "run_config.hpp"
#include "task_kind.hpp"

namespace sluice::cli {

/// Runs `c` with tasks of `kind` and returns the exit code (see exit_codes.hpp). Errors that
/// stop it before or while it runs are thrown: usage_error, sluice::jsonl_error (bad input,
/// naming the file, line and field), std::system_error (the output cannot be written).
int run_tasks(const run_config& c, task_kind& kind);

}  // namespace sluice::cli
