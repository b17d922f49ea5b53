// The errors sluice raises on its own account (as opposed to the tasks' own exceptions,
// which it passes through untouched).
#pragma once

#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice {

/// One failed task: its position in the input (0-based; a task_scope's job id) and what its
/// last attempt threw, after `attempts` attempts.
struct task_error {
  std::size_t index;
  std::exception_ptr error;
  std::size_t attempts = 1;
};

/// Thrown by a keep_going or halted run in which some tasks failed, once every task has
/// finished. Holds every failure in input order; what() counts them and quotes the first.
class task_errors : public std::runtime_error {
 public:
  /// `context`, if any, leads the message ("halted (now,fail=3)").
  task_errors(std::vector<task_error> errors, std::size_t total, const std::string& context = {});
  [[nodiscard]] const std::vector<task_error>& errors() const noexcept { return errors_; }

 private:
  std::vector<task_error> errors_;
};

/// A task ran longer than options::timeout, or a task_scope outlived its deadline. Its code
/// is asio::error::timed_out; what() is the message alone (not the code's "Connection timed
/// out").
class timeout_error : public boost::system::system_error {
 public:
  explicit timeout_error(const std::string& what);
  [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

/// Bad input in a JSON Lines file, or a results file that does not match what was asked of
/// it. what() is "file:line: what is wrong" (just "file: ..." when it is about the whole
/// file); field() names the JSON field concerned, if any.
class jsonl_error : public std::runtime_error {
 public:
  jsonl_error(std::string file, std::size_t line, std::string field, const std::string& what);
  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  /// 1-based; 0 when the error is about the file as a whole.
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  [[nodiscard]] const std::string& field() const noexcept { return field_; }
  /// What is wrong, without the file and line.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::string file_;
  std::size_t line_;
  std::string field_;
  std::string reason_;
};

namespace detail {
/// "250 ms", "1.5 s", "40 us", "7 ns": a duration for messages.
std::string duration_text(std::chrono::nanoseconds d);
}  // namespace detail

/// run_all under error_policy::halt stopped before every task ran, so it has no complete
/// result vector to return.
class halted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The text of an exception_ptr's exception (what() for std::exception), for messages.
std::string describe(const std::exception_ptr& error);

/// True when `error` is Asio's operation_aborted (cancellation).
bool is_cancellation(const std::exception_ptr& error) noexcept;

}  // namespace sluice
