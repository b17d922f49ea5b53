// The errors sluice raises on its own account (as opposed to the tasks' own exceptions,
// which it passes through untouched).
#pragma once

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice {

/// One failed task: its position in the input (0-based) and what it threw.
struct task_error {
  std::size_t index;
  std::exception_ptr error;
};

/// Thrown by a keep_going run in which some tasks failed, once every task has finished.
/// Holds every failure in input order; what() counts them and quotes the first.
class task_errors : public std::runtime_error {
 public:
  task_errors(std::vector<task_error> errors, std::size_t total);
  [[nodiscard]] const std::vector<task_error>& errors() const noexcept { return errors_; }

 private:
  std::vector<task_error> errors_;
};

/// The text of an exception_ptr's exception (what() for std::exception), for messages.
std::string describe(const std::exception_ptr& error);

}  // namespace sluice
