// How one task of `sluice run` ended, and its two written forms: a row of the results file
// (the schema in docs/cli.md) and a line of GNU parallel's job log.
#pragma once

#include "inputs.hpp"

#include <sluice/process.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::cli {

enum class task_status { ok, failed, timeout, killed };
std::string_view to_string(task_status s) noexcept;

/// One attempt's run of the command.
struct command_run {
  std::shared_ptr<const input_item> input;
  std::vector<std::string> argv;
  std::chrono::system_clock::time_point started_at;
  process_result result;
  /// The command could not be started (result.exit_code is 127 or 126, result.err says why).
  bool start_error = false;
};

/// Thrown by an attempt whose command did not exit with 0, so that retries and halt policies
/// see it; it carries the run.
class command_failed : public std::runtime_error {
 public:
  explicit command_failed(command_run run);
  command_run run;
};

struct task_report {
  task_status status = task_status::ok;
  std::size_t attempts = 1;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string out, err;
  bool out_truncated = false, err_truncated = false;
  std::chrono::system_clock::time_point started_at{};
  std::chrono::nanoseconds duration{0};
  std::vector<std::string> argv;

  /// From the last attempt.
  static task_report from_run(command_run run, std::size_t attempts);
};

/// The row written for `in`: key, occurrence, input, status, exit_code, signal, stdout,
/// stderr, started_at, duration_ms, attempts (and stdout_truncated / stderr_truncated when
/// a cap cut them).
boost::json::object result_row(const input_item& in, const task_report& r);

/// The row for an input that reuses another input's result (--dedupe): `from` with `in`'s
/// key, occurrence and input.
boost::json::object reused_row(const input_item& in, const boost::json::object& from);

/// GNU parallel's job log.
std::string_view joblog_header() noexcept;
std::string joblog_line(std::size_t seq, const task_report& r);

/// The command as one shell-quoted line (for the job log and --dry-run).
std::string command_line(const std::vector<std::string>& argv);

}  // namespace sluice::cli
