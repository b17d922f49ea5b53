// The exit codes of `sluice`, as GNU parallel has them for failed jobs, plus codes of its own
// above 100 for errors that are sluice's (documented in docs/cli.md).
#pragma once

#include <algorithm>
#include <cstddef>

namespace sluice::cli {

enum exit_code : int {
  all_ok = 0,
  // 1..100: that many tasks failed (100: 100 or more).
  max_failures = 100,
  bad_usage = 101,   // a bad option, a bad command template, a command that cannot be found
  bad_input = 102,   // the input cannot be read, a bad row, a missing field
  bad_output = 103,  // the output or job log cannot be written
  internal_failure = 104,
  output_in_use = 105,  // another run holds the results file's lock (sluice::file_in_use)
  interrupted = 130,    // SIGINT or SIGTERM: stopped early; the output is resumable
};

/// The exit code for a run in which `failed` tasks failed.
inline int failures_exit_code(std::size_t failed) {
  return static_cast<int>(std::min<std::size_t>(failed, max_failures));
}

}  // namespace sluice::cli
