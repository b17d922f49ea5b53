// What failures (and, for halt, successes) do to a run: the bookkeeping that run engines and
// task_scope share, so that fail_fast, keep_going and halt mean the same thing everywhere.
#pragma once

#include "sluice/errors.hpp"
#include "sluice/options.hpp"

#include <cstddef>
#include <exception>
#include <vector>

namespace sluice::detail {

class failure_policy {
 public:
  /// What the run must do after a task ended.
  enum class action { go_on, stop, stop_and_cancel };

  /// With `delivered`, the run hands every failure to its caller as it happens: none is
  /// kept (memory stays flat over any number of failures) and rethrow() throws only errors
  /// that are not a task's.
  explicit failure_policy(const options& opts, bool delivered = false)
      : errors_policy_(opts.errors), halt_(opts.halt), delivered_(delivered) {}

  action on_success();
  action on_failure(std::size_t index, std::exception_ptr error, std::size_t attempts);
  /// An error that is not a task's (a broken input, a scope deadline): stops at once.
  void set_first_error(std::exception_ptr error) noexcept {
    if (!first_error_) first_error_ = std::move(error);
  }

  [[nodiscard]] std::exception_ptr first_error() const noexcept { return first_error_; }
  [[nodiscard]] std::vector<task_error>& errors() noexcept { return errors_; }
  /// The halt condition was met.
  [[nodiscard]] bool halted() const noexcept { return halted_; }
  [[nodiscard]] const halt_policy& halt() const noexcept { return halt_; }

  /// Throws what a finished run owes its caller: the first error (fail_fast or not a task's),
  /// then the recorded failures (keep_going; halt unless it halted on success). `total` is
  /// the number of tasks for the message. With `keep` (task_scope, whose failures stay
  /// listed), only a fail halt throws them, as a copy.
  void rethrow(std::size_t total, bool keep = false);

 private:
  action check_halt();

  error_policy errors_policy_;
  halt_policy halt_;
  std::size_t succeeded_ = 0;
  std::size_t failed_ = 0;
  bool halted_ = false;
  bool delivered_;
  std::exception_ptr first_error_;
  std::vector<task_error> errors_;
};

}  // namespace sluice::detail
