#include "sluice/process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/v2/posix/default_launcher.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace bp = boost::process::v2;
using namespace asio::experimental::awaitable_operators;

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
      ::signal(SIGPIPE, SIG_IGN);
  });
}

[[noreturn]] void start_failed(int err, const std::string& what) {
  throw process_start_error(boost::system::error_code(err, boost::system::system_category()), what,
                            err == ENOENT ? 127 : 126);
}

// The child's environment as NAME=value strings: the parent's (unless replaced), with the
// options' variables set over it.
std::vector<std::string> child_environment(const process_options& o) {
  std::vector<std::string> env;
  auto overridden = [&](std::string_view entry) {
    const auto eq = entry.find('=');
    const auto name = entry.substr(0, eq);
    for (const auto& [k, v] : o.environment)
      if (k == name) return true;
    return false;
  };
  if (o.inherit_environment)
    for (char** e = environ; e && *e; ++e)
      if (!overridden(*e)) env.emplace_back(*e);
  for (const auto& [k, v] : o.environment) {
    if (k.empty() || k.find('=') != std::string::npos)
      throw std::invalid_argument("run_process: bad environment variable name '" + k + "'");
    env.push_back(k + "=" + v);
  }
  return env;
}

// argv[0] as a path: as given when it has a '/', else the first executable match in the
// child's PATH.
std::string resolve(const std::string& name, const std::vector<std::string>& env) {
  if (name.empty()) start_failed(ENOENT, "cannot run '': empty command name");
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  int last_error = ENOENT;
  std::size_t start = 0;
  for (;;) {
    const auto end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? end : end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      last_error = EACCES;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  start_failed(last_error, last_error == ENOENT ? "cannot run '" + name + "': command not found"
                                                : "cannot run '" + name + "': permission denied");
}

// The launcher hooks: environment, working directory, process group and signals.
struct child_setup {
  std::vector<std::string> env;
  std::vector<const char*> envp;
  const std::string* cwd;

  boost::system::error_code on_setup(bp::posix::default_launcher& launcher,
                                     const bp::filesystem::path&, const char* const*) {
    envp.clear();
    for (const auto& e : env) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    launcher.env = envp.data();
    return {};
  }

  // In the child, between fork and exec: only async-signal-safe calls.
  boost::system::error_code on_exec_setup(bp::posix::default_launcher&, const bp::filesystem::path&,
                                          const char* const*) {
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!cwd->empty() && ::chdir(cwd->c_str()) == -1)
      return {errno, boost::system::system_category()};
    return {};
  }

  // In the child when exec failed (the launcher has already reported errno to the parent):
  // leave at once. The launcher would call exit(), running the parent's atexit handlers and
  // flushing its stdio buffers a second time from the child.
  void on_exec_error(bp::posix::default_launcher&, const bp::filesystem::path&, const char* const*,
                     const boost::system::error_code&) {
    ::_exit(127);
  }
  // Boost 1.81 detects the hook with this (mistaken) signature; it is never called.
  void on_exec_error(bp::posix::default_launcher&, const boost::system::error_code&,
                     const bp::filesystem::path&, const char* const*,
                     const boost::system::error_code&);

  void on_success(bp::posix::default_launcher& launcher, const bp::filesystem::path&,
                  const char* const*) {
    ::setpgid(launcher.pid, launcher.pid);  // the child does it too; whoever runs first wins
  }
};

asio::awaitable<void> read_all(asio::readable_pipe& pipe, std::string& into, std::size_t limit,
                               bool& truncated) {
  std::vector<char> chunk(64 * 1024);
  for (;;) {
    auto [ec, n] =
        co_await pipe.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // EOF: every writer (the child and what it started) has closed it
    const std::size_t keep = std::min(n, limit - std::min(limit, into.size()));
    into.append(chunk.data(), keep);
    if (keep < n) truncated = true;
  }
}

asio::awaitable<void> write_all(asio::writable_pipe& pipe, const std::optional<std::string>& data) {
  if (data && !data->empty())
    co_await asio::async_write(pipe, asio::buffer(*data), asio::as_tuple(asio::use_awaitable));
  boost::system::error_code ignored;
  pipe.close(ignored);  // EOF for the child (an early exit of the child is not an error)
}

}  // namespace

asio::awaitable<process_result> run_process(std::vector<std::string> argv, process_options opts) {
  if (argv.empty()) throw std::invalid_argument("run_process: argv is empty");
  ignore_sigpipe_once();
  auto ex = co_await asio::this_coro::executor;
  if (!opts.working_directory.empty()) {
    struct stat st {};
    if (::stat(opts.working_directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      start_failed(ENOENT, "cannot run '" + argv[0] + "' in '" + opts.working_directory +
                               "': no such directory");
  }
  child_setup setup{child_environment(opts), {}, &opts.working_directory};
  const std::string exe = resolve(argv[0], setup.env);
  const std::vector<std::string> args(argv.begin() + 1, argv.end());

  asio::readable_pipe out(ex), err(ex);
  asio::writable_pipe in(ex);
  // fork, not Boost's vfork launcher: that one notifies the io_context of a fork and calls
  // exit() inside a child that shares our memory.
  bp::posix::default_launcher launcher;
  boost::system::error_code ec;
  const auto t0 = std::chrono::steady_clock::now();
  auto proc = opts.stdin_data
                  ? launcher(ex, ec, exe, args, bp::process_stdio{in, out, err}, setup)
                  : launcher(ex, ec, exe, args, bp::process_stdio{nullptr, out, err}, setup);
  if (ec) {
    // The child reported its exec failure and exited: reap it.
    if (launcher.pid > 0) ::waitpid(launcher.pid, nullptr, 0);
    start_failed(ec.value(), "cannot run '" + argv[0] + "': " + ec.message());
  }

  process_result r;
  r.pid = proc.id();
  const pid_t group = r.pid;
  asio::steady_timer deadline(ex), kill_timer(ex);
  bool killing = false;
  // SIGTERM to the whole group now, SIGKILL after the grace period.
  auto stop_group = [&] {
    if (killing) return;
    killing = true;
    ::kill(-group, SIGTERM);
    kill_timer.expires_after(opts.grace);
    kill_timer.async_wait([group](boost::system::error_code e) {
      if (!e) ::kill(-group, SIGKILL);
    });
  };
  if (opts.timeout.count() > 0) {
    deadline.expires_after(opts.timeout);
    deadline.async_wait([&r, &stop_group](boost::system::error_code e) {
      if (e) return;
      r.timed_out = true;
      stop_group();
    });
  }

  // The exit, waited for until it happens: a cancellation stops the group and waits on.
  bool cancelled = false;
  auto wait_exit = [&]() -> asio::awaitable<void> {
    for (;;) {
      auto [e, code] = co_await proc.async_wait(asio::as_tuple(asio::use_awaitable));
      if (e == asio::error::operation_aborted) {
        cancelled = true;
        stop_group();
        co_await asio::this_coro::reset_cancellation_state();
        continue;
      }
      co_return;
    }
  };
  auto output = read_all(out, r.out, opts.stdout_limit, r.out_truncated) &&
                read_all(err, r.err, opts.stderr_limit, r.err_truncated) &&
                write_all(in, opts.stdin_data);
  std::exception_ptr output_error;
  try {
    auto both = std::move(output) && wait_exit();
    co_await std::move(both);
  } catch (...) {
    output_error = std::current_exception();
  }
  if (output_error) {
    // Cancelled while reading: the readers are gone; make sure the child is too.
    cancelled = true;
    stop_group();
    co_await asio::this_coro::reset_cancellation_state();
    boost::system::error_code ignored;
    proc.wait(ignored);
  }
  deadline.cancel();
  kill_timer.cancel();
  r.duration = std::chrono::steady_clock::now() - t0;
  const int status = static_cast<int>(proc.native_exit_code());
  if (WIFEXITED(status))
    r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    r.signal = WTERMSIG(status);
  // The leader is reaped; take down what it left running in its group.
  if (killing || cancelled) ::kill(-group, SIGKILL);
  if (cancelled) throw boost::system::system_error(asio::error::operation_aborted);
  co_return r;
}

}  // namespace sluice
