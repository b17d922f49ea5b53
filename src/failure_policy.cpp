#include "sluice/detail/failure_policy.hpp"

namespace sluice::detail {

failure_policy::action failure_policy::on_success() {
  ++succeeded_;
  return errors_policy_ == error_policy::halt ? check_halt() : action::go_on;
}

failure_policy::action failure_policy::on_failure(std::size_t index, std::exception_ptr error,
                                                  std::size_t attempts) {
  ++failed_;
  if (delivered_)
    return errors_policy_ == error_policy::fail_fast ? action::stop_and_cancel
           : errors_policy_ == error_policy::halt    ? check_halt()
                                                     : action::go_on;
  if (errors_policy_ == error_policy::fail_fast) {
    set_first_error(std::move(error));
    return action::stop_and_cancel;
  }
  errors_.push_back({index, std::move(error), attempts});
  return errors_policy_ == error_policy::halt ? check_halt() : action::go_on;
}

failure_policy::action failure_policy::check_halt() {
  if (halted_) return action::go_on;
  if (!halt_.met(succeeded_, failed_)) return action::go_on;
  halted_ = true;
  return halt_.when == halt_policy::mode::now ? action::stop_and_cancel : action::stop;
}

void failure_policy::rethrow(std::size_t total, bool keep) {
  if (first_error_) std::rethrow_exception(first_error_);
  if (errors_.empty()) return;
  const bool fail_halt = halted_ && halt_.on == halt_policy::trigger::fail;
  if (keep ? !fail_halt : halted_ && halt_.on == halt_policy::trigger::success) return;
  const std::string context = fail_halt ? "halted (" + halt_.to_string() + ")" : std::string();
  if (keep) throw task_errors(errors_, total, context);
  throw task_errors(std::move(errors_), total, context);
}

}  // namespace sluice::detail
