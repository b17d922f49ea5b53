#include "sluice/process.hpp"
#include "sluice/offload.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/v2/process.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include <fcntl.h>
#include <spawn.h>
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

}  // namespace

std::string find_program(const std::string& name) {
  std::vector<std::string> env;
  if (const char* path = std::getenv("PATH")) env.push_back(std::string("PATH=") + path);
  std::string exe = resolve(name, env);
  if (name.find('/') != std::string::npos && ::access(exe.c_str(), X_OK) != 0)
    start_failed(errno, errno == ENOENT ? "cannot run '" + name + "': no such file"
                                        : "cannot run '" + name + "': permission denied");
  return exe;
}

namespace {

// A pipe whose two ends close on exec; the child gets its end through dup2.
struct os_pipe {
  int fd[2] = {-1, -1};
  os_pipe() {
    if (::pipe2(fd, O_CLOEXEC) != 0)
      throw boost::system::system_error(errno, boost::system::system_category(), "pipe2");
  }
  os_pipe(const os_pipe&) = delete;
  ~os_pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  int take(int i) { return std::exchange(fd[i], -1); }
};

// Starts the child with posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), no page-table
// copy, exec errors returned to us and the failed child reaped). In the child: stdin from
// `in` (or /dev/null), stdout and stderr to `out` and `err`, the working directory, every
// other descriptor closed, a process group of its own, SIGPIPE at its default and an empty
// signal mask.
pid_t spawn_child(const std::string& exe, const std::vector<std::string>& argv,
                  const std::vector<std::string>& env, const process_options& o, int in, int out,
                  int err) {
  struct actions {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    actions() {
      ::posix_spawn_file_actions_init(&fa);
      ::posix_spawnattr_init(&at);
    }
    ~actions() {
      ::posix_spawn_file_actions_destroy(&fa);
      ::posix_spawnattr_destroy(&at);
    }
  } a;
  if (in >= 0)
    ::posix_spawn_file_actions_adddup2(&a.fa, in, STDIN_FILENO);
  else
    ::posix_spawn_file_actions_addopen(&a.fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&a.fa, out, STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&a.fa, err, STDERR_FILENO);
  if (!o.working_directory.empty())
    ::posix_spawn_file_actions_addchdir_np(&a.fa, o.working_directory.c_str());
  ::posix_spawn_file_actions_addclosefrom_np(&a.fa, 3);
  sigset_t defaults, mask;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&mask);
  ::posix_spawnattr_setsigdefault(&a.at, &defaults);
  ::posix_spawnattr_setsigmask(&a.at, &mask);
  ::posix_spawnattr_setpgroup(&a.at, 0);
  ::posix_spawnattr_setflags(
      &a.at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argvp, envp;
  for (const auto& s : argv) argvp.push_back(const_cast<char*>(s.c_str()));
  argvp.push_back(nullptr);
  for (const auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, exe.c_str(), &a.fa, &a.at, argvp.data(), envp.data());
  if (rc != 0) start_failed(rc, "cannot run '" + argv[0] + "': " + std::strerror(rc));
  return pid;
}

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
  const auto env = child_environment(opts);
  const std::string exe = resolve(argv[0], env);

  os_pipe out_pipe, err_pipe;
  std::optional<os_pipe> in_pipe;
  if (opts.stdin_data) in_pipe.emplace();
  const auto t0 = std::chrono::steady_clock::now();
  const int in_fd = in_pipe ? in_pipe->fd[0] : -1;
  // Spawned from a pool thread: glibc's posix_spawn suspends the calling thread until the
  // child has exec'd, and the child starts on the caller's CPU. From the io thread, each new
  // child would then queue behind the io thread on one core (measured: no overlap at all
  // between concurrent children). Not cancellable: once started, the child must be known.
  auto spawned = co_await detail::offload(
      blocking_pool(),
      [&] { return spawn_child(exe, argv, env, opts, in_fd, out_pipe.fd[1], err_pipe.fd[1]); },
      asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
  const pid_t pid = *spawned;
  // Boost.Process v2 waits for it (a pidfd on Linux, through the reactor).
  bp::basic_process<asio::any_io_executor> proc(ex, pid);
  asio::readable_pipe out(ex, out_pipe.take(0)), err(ex, err_pipe.take(0));
  asio::writable_pipe in(ex);
  if (in_pipe) in.assign(in_pipe->take(1));
  in_pipe.reset();  // the parent's copies of the child's ends close here
  ::close(out_pipe.take(1));
  ::close(err_pipe.take(1));

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
    // Cancelled before the wait began (the group threw at once): stop the child and reap it
    // (the kill timer escalates to SIGKILL meanwhile).
    cancelled = true;
    stop_group();
    co_await asio::this_coro::reset_cancellation_state();
    co_await proc.async_wait(asio::as_tuple(asio::use_awaitable));
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
