#include "sluice/errors.hpp"

#include <algorithm>

namespace sluice {
namespace {

std::string summarize(std::vector<task_error>& errors, std::size_t total) {
  std::sort(errors.begin(), errors.end(),
            [](const task_error& a, const task_error& b) { return a.index < b.index; });
  std::string s = std::to_string(errors.size()) + " of " + std::to_string(total) +
                  (total == 1 ? " task failed" : " tasks failed");
  if (!errors.empty())
    s += "; first: task " + std::to_string(errors.front().index) + ": " +
         describe(errors.front().error);
  return s;
}

}  // namespace

task_errors::task_errors(std::vector<task_error> errors, std::size_t total)
    : std::runtime_error(summarize(errors, total)), errors_(std::move(errors)) {}

std::string describe(const std::exception_ptr& error) {
  if (!error) return "no error";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace sluice
