// The awaited runners: run_on_each (for side effects), run_all (results in input order) and
// run_any (the first success). Unlike asio::experimental::parallel_group they take any number
// of tasks from a lazy range, bound how many run at once and how fast they start, and never
// let a task outlive the call.
#pragma once

#include "sluice/detail/engine.hpp"
#include "sluice/options.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace sluice {
namespace detail {

/// run_all's and run_any's elements are callables returning an awaitable, or awaitables.
struct invoke_element {
  template <class E>
  auto operator()(E& e) const {
    if constexpr (std::is_invocable_v<E&>)
      return std::invoke(e);
    else
      return std::move(e);
  }
};

struct discard_sink {
  template <class E, class... V>
  void on_value(E&, std::size_t, V&&...) noexcept {}
  template <class E>
  void on_failure(E&, std::size_t) noexcept {}
  template <class E>
  void on_finished(E&) noexcept {}
};

template <class T>
struct indexed_sink {
  // Default-constructible results are stored in place; others through optional.
  using slot = std::conditional_t<std::default_initializable<T>, T, std::optional<T>>;
  std::vector<slot> results;

  template <class E>
  void on_value(E&, std::size_t index, T&& value) {
    if (index >= results.size()) results.resize(std::max(index + 1, results.size() * 2));
    results[index] = std::move(value);
  }
  template <class E>
  void on_failure(E&, std::size_t) noexcept {}
  template <class E>
  void on_finished(E&) noexcept {}

  std::vector<T> take(std::size_t n) {
    results.resize(n);
    if constexpr (std::default_initializable<T>) {
      return std::move(results);
    } else {
      std::vector<T> out;
      out.reserve(n);
      for (auto& r : results) out.push_back(std::move(*r));
      return out;
    }
  }
};

template <class T>
struct first_sink {
  std::optional<std::conditional_t<std::is_void_v<T>, char, T>> result;
  template <class E, class... V>
  void on_value(E& e, std::size_t, V&&... value) {
    if (result) return;
    result.emplace(std::forward<V>(value)...);
    e.stop(true);  // the losers are cancelled; run_any waits for them
  }
  template <class E>
  void on_failure(E&, std::size_t) noexcept {}
  template <class E>
  void on_finished(E&) noexcept {}
};

template <class Clock, class Fn, class R>
auto make_engine(Fn fn, R&& inputs, const options& opts, auto sink) {
  using source = decltype(make_source(std::forward<R>(inputs)));
  return std::make_shared<engine<Clock, source, Fn, decltype(sink)>>(
      make_source(std::forward<R>(inputs)), std::move(fn), std::move(sink), opts);
}

/// A retry runs a task again: its element must be a callable, not a one-shot awaitable.
template <class R>
void check_retry_elements(const options& opts, const char* runner) {
  using element = std::ranges::range_value_t<std::remove_cvref_t<R>>;
  if (!std::is_invocable_v<element&> && opts.retry.attempts > 1)
    throw std::invalid_argument(std::string(runner) +
                                ": options.retry needs tasks given as callables returning an "
                                "awaitable (an awaitable can be awaited only once)");
}

template <class E>
boost::asio::awaitable<void> start_and_join(E& e) {
  e.start(co_await boost::asio::this_coro::executor);
  co_await e.join();
}

}  // namespace detail

/// Runs `fn(input)` (returning asio::awaitable<void>, or any awaitable<T> whose value is
/// dropped) for every input, within the limits of `opts`.
///
/// Inputs are any input range or a sluice::stream, pulled only when a task can start: at most
/// max_at_once inputs are held, never the whole range. An rvalue range is moved into the
/// call; an lvalue range is referenced and must outlive it.
/// Errors follow opts.errors (see error_policy). Cancelling the caller cancels every task,
/// waits for all of them and throws operation_aborted. Throws std::invalid_argument (naming
/// the field) for invalid options, before anything runs.
///
///     co_await sluice::run_on_each(send_mail, users, {.max_at_once = 10, .max_per_second = 5});
template <class Clock = std::chrono::steady_clock, class Fn, class R>
boost::asio::awaitable<void> run_on_each(Fn fn, R&& inputs, options opts = {}) {
  // Built before the first suspension: options are checked at the call, and an rvalue range
  // is moved in at once (a coroutine parameter R&& would dangle once the call returned).
  auto e = detail::make_engine<Clock>(std::move(fn), std::forward<R>(inputs), opts,
                                      detail::discard_sink{});
  return [](auto e) -> boost::asio::awaitable<void> {
    co_await detail::start_and_join(*e);
    e->rethrow();
  }(std::move(e));
}

/// Runs every task (a callable returning asio::awaitable<T>, or an awaitable) and returns
/// their results in input order (for tasks of awaitable<void>, it returns nothing). Same
/// limits, laziness, errors and cancellation as run_on_each.
///
///     std::vector<int> sizes = co_await sluice::run_all(fetches, {.max_at_once = 4});
template <class Clock = std::chrono::steady_clock, class R>
auto run_all(R&& tasks, options opts = {}) {
  using source = detail::source_for<R&&>;
  using T = detail::task_result_t<source, detail::invoke_element>;
  if constexpr (!is_stream_v<std::remove_cvref_t<R>>)
    detail::check_retry_elements<R>(opts, "run_all");
  if constexpr (std::is_void_v<T>) {
    return run_on_each<Clock>(detail::invoke_element{}, std::forward<R>(tasks), opts);
  } else {
    detail::indexed_sink<T> sink;
    if constexpr (std::ranges::sized_range<R>) sink.results.resize(std::ranges::size(tasks));
    auto e = detail::make_engine<Clock>(detail::invoke_element{}, std::forward<R>(tasks), opts,
                                        std::move(sink));
    return [](auto e) -> boost::asio::awaitable<std::vector<T>> {
      co_await detail::start_and_join(*e);
      e->rethrow();
      if (e->halted())
        throw halted("run_all: halted (" + e->opts().halt.to_string() + ") after " +
                     std::to_string(e->pulled()) + " tasks; the results are incomplete");
      co_return e->sink().take(e->pulled());
    }(std::move(e));
  }
}

/// Runs the tasks until one succeeds and returns its result; every other task is cancelled
/// and awaited before it returns. Failures do not stop the run (opts.errors is ignored): if
/// every task fails, the error of the last one to fail is thrown. Throws
/// std::invalid_argument on empty input (checked before anything runs for sized ranges,
/// else when the input turns out empty).
///
///     auto reply = co_await sluice::run_any(mirrors, {.max_at_once = 2});
template <class Clock = std::chrono::steady_clock, class R>
auto run_any(R&& tasks, options opts = {}) {
  using source = detail::source_for<R&&>;
  using T = detail::task_result_t<source, detail::invoke_element>;
  if constexpr (std::ranges::sized_range<R>)
    if (std::ranges::size(tasks) == 0)
      throw std::invalid_argument("run_any: no tasks (the input is empty)");
  if constexpr (!is_stream_v<std::remove_cvref_t<R>>)
    detail::check_retry_elements<R>(opts, "run_any");
  opts.errors = error_policy::keep_going;
  auto e = detail::make_engine<Clock>(detail::invoke_element{}, std::forward<R>(tasks), opts,
                                      detail::first_sink<T>{});
  return [](auto e) -> boost::asio::awaitable<T> {
    co_await detail::start_and_join(*e);
    if (e->cancelled()) throw boost::system::system_error(boost::asio::error::operation_aborted);
    if (e->first_error()) std::rethrow_exception(e->first_error());
    auto& sink = e->sink();
    if (sink.result) {
      if constexpr (std::is_void_v<T>)
        co_return;
      else
        co_return std::move(*sink.result);
    }
    if (e->errors().empty()) throw std::invalid_argument("run_any: no tasks (the input is empty)");
    // Failures arrive in completion order: the last one recorded failed last.
    std::rethrow_exception(e->errors().back().error);
  }(std::move(e));
}

}  // namespace sluice
