// `sluice run`: reads the inputs, skips what the results file says is done, runs the command
// for the rest within the limits, and writes each task's result as it ends.
#pragma once

#include "run_config.hpp"

namespace sluice::cli {

/// Runs `c` and returns the exit code (see exit_codes.hpp). Errors that stop it before or
/// while it runs are thrown: usage_error, sluice::jsonl_error (bad input, naming the file,
/// line and field), std::system_error (the output cannot be written).
int run_command(const run_config& c);

}  // namespace sluice::cli
