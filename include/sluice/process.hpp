// sluice::run_process: one child process as an awaitable, with its output captured (bounded),
// a timeout that stops its whole process group (SIGTERM, then SIGKILL after a grace period),
// and no zombie left behind, whatever happens to the caller.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

struct process_options {
  /// Written to the child's stdin, which is then closed; std::nullopt: stdin is /dev/null.
  std::optional<std::string> stdin_data{};
  /// Start from the parent's environment (true) or from an empty one (false)...
  bool inherit_environment = true;
  /// ...then set these variables (NAME, value), replacing inherited ones of the same name.
  std::vector<std::pair<std::string, std::string>> environment{};
  /// The child's working directory; empty: the parent's.
  std::string working_directory{};
  /// Bytes of stdout / stderr kept; the rest is read (the child never blocks on a full pipe)
  /// and dropped, and the result says so.
  std::size_t stdout_limit = 16u << 20;
  std::size_t stderr_limit = 16u << 20;
  /// The child's process group gets SIGTERM after this long (0 = never), then SIGKILL after
  /// `grace`. The result then has timed_out set.
  std::chrono::nanoseconds timeout{0};
  std::chrono::nanoseconds grace = std::chrono::seconds(5);
};

struct process_result {
  int pid = 0;
  /// The exit status when the child exited, or std::nullopt when a signal ended it.
  std::optional<int> exit_code;
  /// The signal that ended it, if one did.
  std::optional<int> signal;
  std::string out;
  std::string err;
  bool out_truncated = false;
  bool err_truncated = false;
  bool timed_out = false;
  std::chrono::nanoseconds duration{0};

  /// Exited with status 0.
  [[nodiscard]] bool ok() const noexcept { return exit_code && *exit_code == 0; }
  /// A shell-style status: the exit code, or 128 + signal.
  [[nodiscard]] int status() const noexcept { return exit_code ? *exit_code : 128 + *signal; }
};

/// The command could not be started: not found, not executable, a bad working directory.
/// what() names the command; exit_code() is what a shell would report (127 not found, 126
/// found but not runnable).
class process_start_error : public boost::system::system_error {
 public:
  process_start_error(boost::system::error_code ec, const std::string& what, int exit_code)
      : boost::system::system_error(ec, what), what_(what), exit_code_(exit_code) {}
  /// The message alone ("cannot run 'x': command not found"); the errno is in code().
  [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }
  [[nodiscard]] int exit_code() const noexcept { return exit_code_; }

 private:
  std::string what_;
  int exit_code_;
};

/// The program run_process would start for `name` with this process's PATH (a name with a
/// '/' is taken as a path and must be executable). Throws process_start_error as
/// run_process would: to check a command once before running it many times.
std::string find_program(const std::string& name);

/// Runs argv[0] (looked up in PATH unless it contains a '/') with argv[1..] as its arguments,
/// never through a shell, and returns how it ended with its captured output. The child leads
/// a process group of its own.
///
/// Cancelling the caller stops the group (SIGTERM, SIGKILL after opts.grace), waits for the
/// child to be reaped, then throws operation_aborted. A command that cannot be started
/// throws process_start_error; an empty argv throws std::invalid_argument.
///
/// Process-wide effect: the first call sets SIGPIPE to ignored if it was at its default (a
/// child closing its stdin early must not kill the parent); children get it back at default.
///
///     std::vector<std::string> argv{"gzip", "-9"};  // (named: GCC 12 rejects a braced list
///     auto r = co_await sluice::run_process(argv, {.stdin_data = text});  // of literals here)
///     if (!r.ok()) throw std::runtime_error("gzip: " + r.err);
boost::asio::awaitable<process_result> run_process(std::vector<std::string> argv,
                                                   process_options opts);

/// run_process with default options. (An overload, not a default argument: GCC 12 destroys
/// a default argument's temporary twice when the call is the operand of co_await.)
inline boost::asio::awaitable<process_result> run_process(std::vector<std::string> argv) {
  return run_process(std::move(argv), process_options{});
}

}  // namespace sluice
