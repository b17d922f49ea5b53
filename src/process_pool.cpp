// The process pool: a fork server (a single-threaded copy of the program made by the
// constructor) forks the workers and reaps them; the parent talks to each worker over a Unix
// socket with Asio. Frames: a request is [u64 length][u64 thunk][u64 function][arguments], a
// reply [u64 length][u8 status][result, or the error's text].
#include "sluice/process_pool.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <cxxabi.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <typeinfo>

namespace sluice {
namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), std::string("process_pool: ") + what);
}

// Whole reads and writes on a blocking descriptor, retried on EINTR. false at EOF or error.
bool read_full(int fd, void* p, std::size_t n) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = ::read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= std::size_t(r);
  }
  return true;
}

bool write_full(int fd, const void* p, std::size_t n) {
  const auto* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t r = ::send(fd, c, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= std::size_t(r);
  }
  return true;
}

std::string type_name(const std::type_info& t) {
  int status = 0;
  char* d = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string name = status == 0 && d ? d : t.name();
  std::free(d);
  return name;
}

// ---- the worker: a fork of the fork server --------------------------------------------------

[[noreturn]] void worker_loop(int fd) {
  std::string args, result;
  for (;;) {
    std::array<std::uint64_t, 3> head{};
    if (!read_full(fd, head.data(), sizeof head)) ::_exit(0);  // the pool is gone
    args.resize(head[0]);
    if (!read_full(fd, args.data(), args.size())) ::_exit(0);
    result.clear();
    std::uint8_t status = 0;
    try {
      reinterpret_cast<detail::process_thunk>(head[1])(head[2], args, result);
    } catch (const std::exception& e) {
      status = 1;
      result = type_name(typeid(e)) + ": " + e.what();
    } catch (...) {
      status = 1;
      result = "an exception of unknown type";
    }
    const std::uint64_t len = result.size();
    if (!write_full(fd, &len, sizeof len) || !write_full(fd, &status, 1) ||
        !write_full(fd, result.data(), result.size()))
      ::_exit(0);
  }
}

// ---- the fork server: syscalls only (it is a fork of a possibly multi-threaded program) -----

// Replies to a spawn: the worker's pid (or -errno) and its socket as SCM_RIGHTS.
void send_spawned(int ctl, std::int32_t pid, int fd) {
  msghdr m{};
  iovec iov{&pid, sizeof pid};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  while (::sendmsg(ctl, &m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void serve(int ctl) {
  const pid_t self = ::getpid();
  for (;;) {
    char cmd = 0;
    if (!read_full(ctl, &cmd, 1)) break;
    if (cmd == 'S') {
      int p[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
        send_spawned(ctl, -errno, -1);
        continue;
      }
      const pid_t w = ::fork();
      if (w == 0) {
        ::close(ctl);
        ::close(p[0]);
        ::setpgid(0, 0);  // its own group: a cancelled call kills whatever it started
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != self) ::_exit(0);
        worker_loop(p[1]);
      }
      ::close(p[1]);
      if (w > 0) ::setpgid(w, w);  // (both sides: the group exists before anyone signals it)
      send_spawned(ctl, w < 0 ? -errno : w, w < 0 ? -1 : p[0]);
      ::close(p[0]);
    } else if (cmd == 'W') {
      std::int32_t pid = 0;
      if (!read_full(ctl, &pid, sizeof pid)) break;
      std::array<std::int32_t, 2> reply{-1, 0};
      int status = 0;
      pid_t r;
      while ((r = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
      }
      if (r == pid) reply = {0, status};
      if (!write_full(ctl, reply.data(), sizeof reply)) break;
    } else {
      break;
    }
  }
  // The pool is gone: its workers' sockets are closed, so they end; reap them.
  while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
  ::_exit(0);
}

std::string signal_text(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  std::string s = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
  if (const char* d = ::sigdescr_np(sig)) s += std::string(" (") + d + ")";
  return s;
}

}  // namespace

// ---- the parent's side ----------------------------------------------------------------------

struct process_pool::state {
  struct worker {
    int pid = 0;
    int fd = -1;
  };

  explicit state(std::size_t n) : size(n) {}
  ~state() {
    // Busy workers belong to calls given up on (their coroutines destroyed): kill them. Idle
    // ones end when their socket closes. Then the server, its socket closed, reaps them all.
    for (int pid : busy) ::kill(-pid, SIGKILL);
    for (auto& w : idle) ::close(w.fd);
    if (ctl >= 0) ::close(ctl);
    if (server > 0)
      while (::waitpid(server, nullptr, 0) < 0 && errno == EINTR) {
      }
  }

  worker spawn() {
    const char cmd = 'S';
    if (!write_full(ctl, &cmd, 1)) throw_errno("the fork server is gone");
    std::int32_t pid = 0;
    msghdr m{};
    iovec iov{&pid, sizeof pid};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t r;
    while ((r = ::recvmsg(ctl, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    if (r != sizeof pid) throw_errno("the fork server did not answer");
    if (pid < 0) {
      errno = -pid;
      throw_errno("cannot fork a worker");
    }
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (c == nullptr || c->cmsg_type != SCM_RIGHTS) throw_errno("no socket came with the worker");
    worker w;
    w.pid = pid;
    std::memcpy(&w.fd, CMSG_DATA(c), sizeof w.fd);
    ++started;
    return w;
  }

  // How a worker that is gone ended, from the server, which reaps it.
  std::optional<int> wait_status(int pid) {
    const char cmd = 'W';
    const std::int32_t p = pid;
    std::array<std::int32_t, 2> reply{};
    if (!write_full(ctl, &cmd, 1) || !write_full(ctl, &p, sizeof p) ||
        !read_full(ctl, reply.data(), sizeof reply) || reply[0] != 0)
      return std::nullopt;
    return reply[1];
  }

  process_crashed crashed(int pid) {
    const auto st = wait_status(pid);
    std::string what = "in_process: the worker (pid " + std::to_string(pid) + ") ";
    if (st && WIFSIGNALED(*st)) {
      const int sig = WTERMSIG(*st);
      what += "was killed by " + signal_text(sig);
      if (sig == SIGKILL) what += "; the kernel's OOM killer sends it too";
      return process_crashed(what, pid, sig, std::nullopt);
    }
    if (st && WIFEXITED(*st)) {
      what += "exited with status " + std::to_string(WEXITSTATUS(*st)) + " during the call";
      return process_crashed(what, pid, std::nullopt, WEXITSTATUS(*st));
    }
    return process_crashed(what + "ended during the call", pid, std::nullopt, std::nullopt);
  }

  std::size_t size;
  int ctl = -1;
  int server = 0;
  std::size_t started = 0;
  std::vector<worker> idle;
  std::vector<int> busy;
};

process_pool::process_pool(std::size_t size)
    : s_(size == 0 ? throw std::invalid_argument("process_pool: size must be >= 1, got 0")
                   : std::make_shared<state>(size)),
      slots_(size) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw_errno("cannot fork the fork server");
  }
  if (pid == 0) {
    // The fork server. Signals back to their defaults (a parent's handler, Asio's signal_set
    // among them, must not run here), SIGPIPE ignored; every descriptor but stdio and its
    // socket closed; it dies with the parent.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    const int ctl = sv[1];
    if (ctl > 3) ::close_range(3, unsigned(ctl) - 1, 0);
    ::close_range(unsigned(ctl) + 1, ~0U, 0);
    serve(ctl);
  }
  ::close(sv[1]);
  s_->ctl = sv[0];
  s_->server = pid;
}

process_pool::~process_pool() = default;

std::size_t process_pool::size() const noexcept {
  return s_->size;
}
std::size_t process_pool::workers_started() const noexcept {
  return s_->started;
}

std::vector<int> process_pool::worker_pids() const {
  std::vector<int> pids = s_->busy;
  for (auto& w : s_->idle) pids.push_back(w.pid);
  return pids;
}

boost::asio::awaitable<std::string> process_pool::call(detail::process_thunk thunk,
                                                       std::uintptr_t fn, std::string args) {
  namespace asio = boost::asio;
  auto s = s_;
  auto place = co_await slots_.acquire();
  state::worker w;
  if (!s->idle.empty()) {
    w = s->idle.back();
    s->idle.pop_back();
  } else {
    w = s->spawn();
  }
  s->busy.push_back(w.pid);
  auto not_busy = [&s, pid = w.pid] { std::erase(s->busy, pid); };

  asio::local::stream_protocol::socket sock(co_await asio::this_coro::executor);
  sock.assign(asio::local::stream_protocol(), w.fd);
  const std::array<std::uint64_t, 3> head{args.size(), reinterpret_cast<std::uintptr_t>(thunk), fn};
  std::uint64_t len = 0;
  std::uint8_t status = 0;
  std::string result;
  boost::system::error_code failure;
  try {
    const std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(args)};
    co_await asio::async_write(sock, out, asio::deferred);
    const std::array<asio::mutable_buffer, 2> reply_head{asio::buffer(&len, sizeof len),
                                                         asio::buffer(&status, 1)};
    co_await asio::async_read(sock, reply_head, asio::deferred);
    result.resize(len);
    co_await asio::async_read(sock, asio::buffer(result), asio::deferred);
  } catch (const boost::system::system_error& e) {
    failure = e.code();
  }
  if (failure) {
    // Cancelled: the worker's group is killed. Otherwise the worker died: its status says how.
    const bool cancelled = failure == asio::error::operation_aborted;
    if (cancelled) ::kill(-w.pid, SIGKILL);
    sock.close();
    not_busy();
    auto crash = s->crashed(w.pid);  // (reaps it)
    if (cancelled) throw boost::system::system_error(asio::error::operation_aborted);
    throw crash;
  }
  w.fd = sock.release();
  not_busy();
  s->idle.push_back(w);
  if (status != 0) throw remote_error("in_process: the function threw " + result);
  co_return result;
}

}  // namespace sluice
