// Runs a function (not a command line) in another process: a pool of forked workers, for
// crash isolation and a separate address space, as aioextensions' in_process and Python's
// ProcessPoolExecutor. A worker that crashes (SIGSEGV, abort, the OOM killer's SIGKILL) fails
// only its call, with an error naming the signal; the pool replaces it.
#pragma once

#include "sluice/limiter.hpp"
#include "sluice/process_codec.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice {

/// A worker process ended during a call: killed by a signal (signal()), or exited
/// (exit_code()). The call's function may have run partly.
class process_crashed : public std::runtime_error {
 public:
  process_crashed(const std::string& what, int pid, std::optional<int> signal,
                  std::optional<int> exit_code)
      : std::runtime_error(what), pid_(pid), signal_(signal), exit_code_(exit_code) {}
  [[nodiscard]] int pid() const noexcept { return pid_; }
  [[nodiscard]] std::optional<int> signal() const noexcept { return signal_; }
  [[nodiscard]] std::optional<int> exit_code() const noexcept { return exit_code_; }

 private:
  int pid_;
  std::optional<int> signal_;
  std::optional<int> exit_code_;
};

/// The function threw in the worker: what() is "TYPE: its what()". The worker lives on.
class remote_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// Decodes the arguments, calls the function, encodes its result. Instantiated in the parent
/// and called in the worker, which is a fork of it: the same code at the same address.
using process_thunk = void (*)(std::uintptr_t fn, std::string_view args, std::string& result);

template <class R, class... Args>
void call_in_worker(std::uintptr_t fn, [[maybe_unused]] std::string_view in, std::string& out) {
  auto f = reinterpret_cast<R (*)(Args...)>(fn);
  std::tuple<std::decay_t<Args>...> args{process_codec<std::decay_t<Args>>::decode(in)...};
  if constexpr (std::is_void_v<R>)
    std::apply(f, std::move(args));
  else
    process_codec<std::decay_t<R>>::encode(std::apply(f, std::move(args)), out);
}

}  // namespace detail

/// `size` worker processes, forked from a fork server made by the constructor: a
/// single-threaded copy of this process taken then, so workers never inherit another thread's
/// locks. Make the pool early, before the program starts threads (at the top of main), and
/// call only functions of the program itself (or of libraries loaded before the pool).
///
/// A call takes a free worker (waiting, FIFO, while all are busy), sends it the function's
/// address and its encoded arguments, and waits for the encoded result. Workers are made when
/// first needed and replaced when they die. A worker leads a process group of its own; a
/// cancelled call kills that group (SIGKILL) and completes with operation_aborted.
///
/// Not thread-safe: calls from one executor (or strand). Destroying the pool closes the
/// workers' sockets (they exit) and reaps them.
class process_pool {
 public:
  /// Throws std::invalid_argument for 0, std::system_error if the fork server cannot start.
  explicit process_pool(std::size_t size);
  ~process_pool();
  process_pool(const process_pool&) = delete;
  process_pool& operator=(const process_pool&) = delete;

  [[nodiscard]] std::size_t size() const noexcept;
  /// Workers started so far (replacements included).
  [[nodiscard]] std::size_t workers_started() const noexcept;
  /// The live workers' process ids.
  [[nodiscard]] std::vector<int> worker_pids() const;

  /// One call: fn's address and the encoded arguments in, the encoded result (or an error)
  /// out. in_process() is the typed form.
  boost::asio::awaitable<std::string> call(detail::process_thunk thunk, std::uintptr_t fn,
                                           std::string args);

 private:
  struct state;
  std::shared_ptr<state> s_;
  limiter slots_;
};

/// fn(args...) in a worker of `pool`: its result decoded, or its exception rethrown as
/// remote_error, or process_crashed if the worker died. `fn` is a plain function (no
/// captures: only its address crosses over); arguments and result go through
/// process_codec.
///
///     int crc(std::string data);                       // a function of the program
///     int c = co_await sluice::in_process(pool, crc, std::string("..."));
template <class R, class... Params>
boost::asio::awaitable<R> in_process(process_pool& pool, R (*fn)(Params...),
                                     std::type_identity_t<std::decay_t<Params>>... args) {
  std::string in;
  (process_codec<std::decay_t<Params>>::encode(args, in), ...);
  std::string out = co_await pool.call(&detail::call_in_worker<R, Params...>,
                                       reinterpret_cast<std::uintptr_t>(fn), std::move(in));
  if constexpr (!std::is_void_v<R>) {
    std::string_view rest(out);
    co_return process_codec<std::decay_t<R>>::decode(rest);
  }
}

}  // namespace sluice
