#include "sluice/errors.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace sluice {
namespace {

std::string summarize(std::vector<task_error>& errors, std::size_t total,
                      const std::string& context) {
  std::sort(errors.begin(), errors.end(),
            [](const task_error& a, const task_error& b) { return a.index < b.index; });
  std::string s = context.empty() ? std::string() : context + ": ";
  s += std::to_string(errors.size()) + " of " + std::to_string(total) +
       (total == 1 ? " task failed" : " tasks failed");
  if (!errors.empty())
    s += "; first: task " + std::to_string(errors.front().index) + ": " +
         describe(errors.front().error);
  return s;
}

}  // namespace

task_errors::task_errors(std::vector<task_error> errors, std::size_t total,
                         const std::string& context)
    : std::runtime_error(summarize(errors, total, context)), errors_(std::move(errors)) {}

timeout_error::timeout_error(const std::string& what)
    : boost::system::system_error(boost::asio::error::timed_out, what), what_(what) {}

namespace {
std::string located(const std::string& file, std::size_t line, const std::string& what) {
  return line == 0 ? file + ": " + what : file + ":" + std::to_string(line) + ": " + what;
}
}  // namespace

jsonl_error::jsonl_error(std::string file, std::size_t line, std::string field,
                         const std::string& what)
    : std::runtime_error(located(file, line, what)),
      file_(std::move(file)),
      line_(line),
      field_(std::move(field)),
      reason_(what) {}

std::string detail::duration_text(std::chrono::nanoseconds d) {
  struct unit {
    std::int64_t ns;
    const char* name;
  };
  static constexpr unit units[] = {{1'000'000'000, "s"}, {1'000'000, "ms"}, {1'000, "us"}};
  for (const auto& u : units)
    if (d.count() >= u.ns) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "%g %s", static_cast<double>(d.count()) / double(u.ns),
                    u.name);
      return buf;
    }
  return std::to_string(d.count()) + " ns";
}

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

bool is_cancellation(const std::exception_ptr& error) noexcept {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

}  // namespace sluice
