// How one task of `sluice run` ended, and its two written forms: a row of the results file
// (the schema in docs/cli.md) and a line of GNU parallel's job log.
#pragma once

#include "inputs.hpp"
#include "task_kind.hpp"

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

/// "PROGRAM: exit code N" or "PROGRAM: killed by signal N".
std::string failure_message(const command_run& run);

struct task_report {
  task_status status = task_status::ok;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string out, err;
  bool out_truncated = false, err_truncated = false;
  std::chrono::system_clock::time_point started_at{};
  std::chrono::nanoseconds duration{0};
  std::vector<std::string> argv;

  /// From the last attempt.
  static task_report from_run(command_run run);
};

/// A command's task as the pipeline records it: the columns status, exit_code, signal,
/// stdout, stderr (and stdout_truncated / stderr_truncated when a cap cut them), its start
/// and duration, and the job log's fields.
finished_task finished(std::shared_ptr<const input_item> in, task_report r);

/// The row written for a task, as one line of JSON (no '\n'): key, occurrence, input, its
/// kind's columns, started_at, duration_ms, attempts.
std::string result_line(const finished_task& t, std::size_t attempts);

/// Whether a results row records a success: "status": "ok" (sluice run) or "ok": true
/// (sluice http, whose status is the HTTP code). From the compact JSON text of the row's
/// `ok` and `status` fields (empty when absent), as the results file's key scan gives them.
bool row_ok(std::string_view ok_text, std::string_view status_text) noexcept;
/// A string field's compact JSON text without its quotes (key_b64, started_at: nothing in them
/// is escaped), as the key scan gives it.
std::string_view unquoted(std::string_view json_text) noexcept;
/// A results row's task identity (input_item::identity): its key's text, and the JSON text of
/// its key_b64 and occurrence fields (empty when absent; occurrence 1 then).
fingerprint row_identity(std::string_view key_text, std::string_view key_b64_json,
                         std::string_view occurrence_json);

/// "2026-11-21T16:28:31.780Z"
std::string utc_text(std::chrono::system_clock::time_point t);

/// The row for an input that reuses another input's result (--dedupe): `from` with `in`'s
/// key, occurrence and input.
boost::json::object reused_row(const input_item& in, const boost::json::object& from);

/// GNU parallel's job log.
std::string_view joblog_header() noexcept;
std::string joblog_line(const finished_task& t);

/// The command as one shell-quoted line (for the job log and --dry-run).
std::string command_line(const std::vector<std::string>& argv);

}  // namespace sluice::cli
