// sluice::run_bounded is the seed's (abstractions) run_bounded: tasks from a lazy source, at
// most `limit` at once, each result an outcome in completion order, the run going on past
// failures. It is amap over the tasks with sluice::capture and keep_going.
#pragma once

#include "sluice/amap.hpp"
#include "sluice/outcome.hpp"
#include "sluice/run.hpp"

#include <chrono>
#include <stdexcept>
#include <string>

namespace sluice {

/// Runs the tasks (callables returning asio::awaitable<T>, or awaitables) from a lazy range or
/// stream, at most `limit` at once, and streams their outcomes in completion order. A task's
/// exception becomes its outcome and the run goes on; an exception from the task source
/// itself ends the stream with that error. Throws std::invalid_argument when limit is 0 (the
/// seed hangs).
///
///     auto s = sluice::run_bounded(requests, 8);
///     while (auto r = co_await s.next()) if (r->has_value()) use(r->value());
template <class Clock = std::chrono::steady_clock, class R>
auto run_bounded(R&& tasks, std::size_t limit) {
  if (limit == 0) throw std::invalid_argument("run_bounded: limit must be >= 1, got 0");
  return amap<Clock>(capture(detail::invoke_element{}), std::forward<R>(tasks),
                     {.max_at_once = limit, .errors = error_policy::keep_going});
}

}  // namespace sluice
