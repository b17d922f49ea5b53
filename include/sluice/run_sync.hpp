// Runs a coroutine from ordinary code and returns its result: the entry point of a program,
// as asyncio.run is Python's. `sluice::run(main_task())` replaces the io_context, co_spawn,
// completion handler and rethrow that every program otherwise writes by hand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <concepts>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace sluice {
namespace detail {

template <class T>
struct spawn_result {
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
  bool done = false;

  auto handler() {
    return [this](std::exception_ptr e, auto... v) {
      done = true;
      error = e;
      if constexpr (std::is_void_v<T>)
        value.emplace();
      else if (!e)
        value.emplace(std::move(v)...);
    };
  }
  T take() {
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*value);
  }
};

template <class T>
struct is_awaitable : std::false_type {};
template <class T, class Executor>
struct is_awaitable<boost::asio::awaitable<T, Executor>> : std::true_type {};

}  // namespace detail

/// Runs `aw` on `ctx` from the calling thread until it ends, and returns its value or
/// rethrows its exception. Other work on `ctx` runs meanwhile; what is left when `aw` ends
/// stays queued for the next run of `ctx`. A stopped `ctx` is restarted first. Must not be
/// called from inside `ctx.run()` (it would run handlers re-entrantly): throws logic_error.
template <class T>
T run(boost::asio::io_context& ctx, boost::asio::awaitable<T> aw) {
  if (ctx.get_executor().running_in_this_thread())
    throw std::logic_error("sluice::run: called from a thread that runs the same io_context");
  detail::spawn_result<T> r;
  boost::asio::co_spawn(ctx, std::move(aw), r.handler());
  if (ctx.stopped()) ctx.restart();
  while (!r.done && ctx.run_one() != 0) {
  }
  if (!r.done)  // (only ctx.stop() from a handler ends run_one's work before aw has ended)
    throw std::logic_error("sluice::run: the io_context was stopped before the coroutine ended");
  return r.take();
}

/// Runs `aw` on a fresh single-threaded io_context until it ends, and returns its value or
/// rethrows its exception. Work it left behind (a detached coroutine, a pending timer) is
/// destroyed with the context, not run: like asyncio.run, the program's entry point owns
/// everything it started.
///
///     int main() { return sluice::run(main_task(argc, argv)); }
template <class T>
T run(boost::asio::awaitable<T> aw) {
  boost::asio::io_context ctx(1);
  return run(ctx, std::move(aw));
}

/// Runs `aw` on `ex`, whose context other threads run (a thread_pool, say), and blocks the
/// calling thread until it ends: its value, or its exception rethrown. Must not be called
/// from a thread that runs `ex` (it would wait for itself): throws logic_error where the
/// executor can tell (io_context's and thread_pool's can).
template <class T, class Executor>
requires boost::asio::execution::executor<Executor> T run(const Executor& ex,
                                                          boost::asio::awaitable<T> aw) {
  if constexpr (requires { ex.running_in_this_thread(); })
    if (ex.running_in_this_thread())
      throw std::logic_error("sluice::run: called from a thread that runs the executor");
  return boost::asio::co_spawn(ex, std::move(aw), boost::asio::use_future).get();
}

/// The function form (aioextensions' run_decorator): `run(fn, args...)` runs the coroutine
/// `fn(args...)` as run(awaitable) does. The arguments are forwarded; a coroutine that takes
/// references may keep them, since the call blocks until it ends.
template <class Fn, class... Args>
requires std::invocable<Fn&, Args...> &&
    detail::is_awaitable<std::invoke_result_t<Fn&, Args...>>::value auto
    run(Fn&& fn, Args&&... args) {
  return run(std::invoke(fn, std::forward<Args>(args)...));
}

}  // namespace sluice
