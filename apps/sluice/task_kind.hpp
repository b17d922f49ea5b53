// What one kind of task (a command, an HTTP request) does with an input. The rest of a run
// (reading the inputs, limits, retries, resume, the results file, the job log, progress and
// signals) is the pipeline's (pipeline.hpp), the same for every kind.
#pragma once

#include "inputs.hpp"

#include <sluice/limit_set.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::cli {

/// The memory of one task's columns: an arena, so that they cost two allocations (the arena
/// and its first block) instead of one per value, and nothing to free value by value.
inline boost::json::storage_ptr new_row_storage() {
  return boost::json::make_shared_resource<boost::json::monotonic_resource>();
}

/// How one attempt of a task ended.
struct finished_task {
  std::shared_ptr<const input_item> input;
  bool ok = true;
  /// The row's columns after key, occurrence and input (the pipeline adds started_at,
  /// duration_ms and attempts after them), in an arena of their own.
  boost::json::object columns{new_row_storage()};
  /// Printed when there is no results file (stdout and stderr, each whole).
  std::string out, err;
  /// The last attempt's start and run time (in the row and the job log).
  std::chrono::system_clock::time_point started_at{};
  std::chrono::nanoseconds duration{0};
  /// For the job log (GNU parallel's columns).
  int exitval = 0, signal = 0;
  std::size_t received = 0;
  std::string command;
  /// A failure worth another attempt.
  bool retryable = false;
  /// The server asked for no new start this long (Retry-After): the shared rate limit holds.
  std::optional<std::chrono::nanoseconds> hold;
  /// A sign of overload for --adaptive: HTTP 429 or 503, or a timeout.
  bool overload = false;
  /// When the request went out (steady clock), when the kind knows it: --adaptive counts a
  /// 429 against the rate in force then, not when the attempt began waiting for its start.
  std::optional<std::chrono::nanoseconds> sent;
};

/// Thrown by an attempt that failed, so that retries and halt policies see it.
class task_failed : public std::runtime_error {
 public:
  task_failed(std::string what, finished_task t)
      : std::runtime_error(std::move(what)), task(std::move(t)) {}
  finished_task task;
};

class task_kind {
 public:
  virtual ~task_kind() = default;
  /// The JSON Lines fields the templates use: every input row must have them.
  [[nodiscard]] virtual std::vector<std::string> fields() const = 0;
  /// The command line that -X and -m fill with arguments, if the kind has one.
  [[nodiscard]] virtual const command_template* command() const { return nullptr; }
  /// The input turned out to be text lines, not JSON Lines: a template naming a field is a
  /// usage error now.
  virtual void inputs_are_lines() = 0;
  /// One attempt for `in` in slot `slot` ({%}); throws task_failed when it failed.
  virtual boost::asio::awaitable<finished_task> attempt(std::shared_ptr<const input_item> in,
                                                        std::size_t slot) = 0;
  /// What --dry-run prints for `in` (one line, no newline).
  [[nodiscard]] virtual std::string describe(const input_item& in) const = 0;
  /// Whether a task may ask every start to hold (finished_task::hold): then the run keeps a
  /// rate limiter even without -r.
  [[nodiscard]] virtual bool may_hold() const { return false; }
  /// Whether the kind takes the run's limits on starts itself, at the moment its work leaves
  /// (an HTTP request once its connection is ready), where a server counts it; then the
  /// runner leaves them to it. Else the runner takes them before each attempt.
  virtual bool takes_starts() const { return false; }
  /// The set it takes them from (when takes_starts()).
  virtual void starts_from(limit_set* /*starts*/) {}
  /// The run is over and its executor is about to be destroyed: drop the I/O objects made
  /// on it.
  virtual void run_over() {}
};

}  // namespace sluice::cli
