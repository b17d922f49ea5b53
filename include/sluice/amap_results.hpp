// sluice::amap_results is amap for callers who must see every task's end, failures included:
// one result per task with its input position and attempt count, while the error policy
// (fail_fast, keep_going, halt) still decides what a failure does to the rest. It is what a
// results file, a job log or a progress report is written from.
#pragma once

#include "sluice/amap.hpp"
#include "sluice/outcome.hpp"

#include <chrono>
#include <cstddef>
#include <exception>
#include <utility>

namespace sluice {

/// How one task ended.
template <class T>
struct task_result {
  /// Its position in the input (0-based).
  std::size_t index;
  /// Attempts made, retries included.
  std::size_t attempts;
  /// Its value, or what its last attempt threw (a timeout is sluice::timeout_error).
  outcome<T> result;
};

namespace detail {

template <class T>
class result_sink : public stream_sink<task_result<T>> {
  using base = stream_sink<task_result<T>>;

 public:
  static constexpr bool delivers_failures = true;
  using base::base;

  template <class E, class... V>
  void on_value(E& e, std::size_t index, std::size_t attempts, V&&... value) {
    base::on_value(e, index,
                   task_result<T>{index, attempts, outcome<T>(std::forward<V>(value)...)});
  }
  template <class E>
  void on_error(E& e, std::size_t index, std::exception_ptr error, std::size_t attempts) {
    base::on_value(e, index, task_result<T>{index, attempts, outcome<T>(std::move(error))});
  }
};

}  // namespace detail

/// Runs `fn(input)` (returning asio::awaitable<T>, T may be void) over the inputs, within the
/// limits of `opts`, and streams a task_result for every task that ends: in completion
/// order, or in input order with opts.ordered. Failed tasks are results too (after their
/// last attempt), so the stream never throws a task's error; the policy still applies:
/// fail_fast stops after the first failure, halt after its condition, and the stream then
/// ends normally. Tasks that a stop cancels yield nothing (in ordered mode, what completed
/// after them is still delivered at the end). No failure list is kept: memory stays flat
/// however many tasks fail.
///
/// next() throws only what is not a task's: operation_aborted when the caller is
/// cancelled, the input's own error. Same laziness, buffering and cancellation as amap.
///
///     auto s = sluice::amap_results(call_api, rows, {.max_at_once = 8, .retry = {.attempts = 3}});
///     while (auto r = co_await s.next())
///       if (!r->result) log(r->index, r->attempts, r->result.error());
template <class Clock = std::chrono::steady_clock, class Fn, class R>
auto amap_results(Fn fn, R&& inputs, options opts = {}) {
  using source = detail::source_for<R&&>;
  using T = detail::task_result_t<source, Fn>;
  using sink = detail::result_sink<T>;
  using engine = detail::engine<Clock, source, Fn, sink>;
  auto e = std::make_shared<engine>(detail::make_source(std::forward<R>(inputs)), std::move(fn),
                                    sink(opts.ordered, detail::stream_window(opts), true), opts);
  e->set_pull_limit(e->sink().limit());
  return stream<task_result<T>>(
      std::make_shared<detail::amap_stream<task_result<T>, engine>>(std::move(e)));
}

}  // namespace sluice
