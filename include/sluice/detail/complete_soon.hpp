// Completing an asynchronous operation from inside its initiation. A coroutine that
// co_awaits an Asio operation is suspended while the operation's initiation runs; a handler
// called there resumes it at once, one level deeper on the stack. complete_soon does that
// while the nesting is shallow and posts the completion otherwise: a loop of operations that
// can complete at once (a cached value, a free place) mostly skips the executor's queue, and
// cannot exhaust the stack.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <type_traits>
#include <utility>

namespace sluice::detail {

/// True when `ex` is (or wraps) an io_context executor whose context runs on this thread.
template <class Executor>
bool runs_here(const Executor& ex) {
  using io_ex = boost::asio::io_context::executor_type;
  if constexpr (std::is_same_v<Executor, io_ex>) {
    return ex.running_in_this_thread();
  } else if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    const auto* io = ex.template target<io_ex>();
    return io && io->running_in_this_thread();
  } else {
    return false;
  }
}

/// Completions in progress on this thread, each one called inside another's initiation.
inline thread_local unsigned inline_completions = 0;
/// Deeper than this, a completion is posted (and the stack unwinds).
inline constexpr unsigned max_inline_completions = 16;

/// Calls `handler(args...)` now when its executor runs on this thread and few completions
/// are nested here already, else posts the call to its executor.
template <class Handler, class... Args>
void complete_soon(Handler handler, Args... args) {
  auto ex = boost::asio::get_associated_executor(handler);
  if (inline_completions < max_inline_completions && runs_here(ex)) {
    struct depth {
      depth() noexcept { ++inline_completions; }
      ~depth() { --inline_completions; }
      depth(const depth&) = delete;
      depth& operator=(const depth&) = delete;
    } nested;
    std::move(handler)(std::move(args)...);
    return;
  }
  boost::asio::post(ex, [h = std::move(handler), ... a = std::move(args)]() mutable {
    std::move(h)(std::move(a)...);
  });
}

}  // namespace sluice::detail
