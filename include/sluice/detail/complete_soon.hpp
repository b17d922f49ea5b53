// Completing an asynchronous operation from inside its initiation. A coroutine that
// co_awaits an Asio operation is suspended while the operation's initiation runs; a handler
// called there resumes it at once, one level deeper on the stack. complete_soon does that
// while the nesting is shallow; deeper, the completion waits in a per-thread queue that the
// outermost complete_soon runs once its own handler has returned (a trampoline). A loop of
// operations that can complete at once (a cached value, a free place) skips the executor's
// queue and cannot exhaust the stack.
#pragma once

#include "sluice/detail/asio_internals.hpp"
#include "sluice/detail/block_cache.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace sluice::detail {

/// True when `ex` is (or wraps) an io_context executor, or a strand of one, that runs on
/// this thread (for a strand: inside it).
template <class Executor>
bool runs_here(const Executor& ex) {
  using io_ex = boost::asio::io_context::executor_type;
  using strand_ex = boost::asio::strand<io_ex>;
  if constexpr (std::is_same_v<Executor, io_ex> || std::is_same_v<Executor, strand_ex>) {
    return ex.running_in_this_thread();
  } else if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    if (const auto* io = ex.template target<io_ex>()) return io->running_in_this_thread();
    const auto* strand = ex.template target<strand_ex>();
    return strand && strand->running_in_this_thread();
  } else {
    return false;
  }
}

/// A completion parked until the stack has unwound to the outermost complete_soon.
struct parked_completion {
  parked_completion* next = nullptr;
  void (*run)(parked_completion*) = nullptr;  // calls the handler and frees the node
};

/// The completions nested on this thread, and those parked because the nesting was deep.
struct inline_completions {
  unsigned depth = 0;
  parked_completion* head = nullptr;
  parked_completion* tail = nullptr;

  void park(parked_completion* p) noexcept {
    (tail ? tail->next : head) = p;
    tail = p;
  }
  /// Runs the parked completions (and those they park) in order.
  [[gnu::noinline]] void run_parked() {
    while (parked_completion* p = head) {
      head = p->next;
      if (!head) tail = nullptr;
      p->run(p);
    }
  }
};

constinit inline thread_local inline_completions completions_here;

/// Deeper than this, a completion is parked (and the stack unwinds first).
inline constexpr unsigned max_inline_completions = 4;

/// Parks `handler(args...)` on this thread's list (the stack is deep): run by the outermost
/// complete_soon. Out of line, so that complete_soon's common path stays small.
template <class Handler, class... Args>
[[gnu::noinline]] void park_completion(Handler&& handler, Args&&... args) {
  struct parked : parked_completion {
    parked(Handler&& h, Args&&... a) : handler(std::move(h)), args(std::forward<Args>(a)...) {}
    Handler handler;
    std::tuple<std::decay_t<Args>...> args;
  };
  auto* p = ::new (block_cache::allocate(sizeof(parked)))
      parked(std::move(handler), std::forward<Args>(args)...);
  p->run = [](parked_completion* base) {
    auto* self = static_cast<parked*>(base);
    Handler h(std::move(self->handler));
    std::tuple<std::decay_t<Args>...> a(std::move(self->args));
    self->~parked();
    block_cache::deallocate(self, sizeof(parked));
    std::apply([&](auto&... v) { std::move(h)(std::move(v)...); }, a);
  };
  completions_here.park(p);
}

/// Calls `handler(args...)` before returning when its executor runs on this thread: at once
/// while few completions are nested here, else once the outermost of them has returned.
/// Otherwise posts the call to the handler's executor.
template <class Handler, class... Args>
void complete_soon(Handler&& handler, Args&&... args) {
  static_assert(!std::is_lvalue_reference_v<Handler>, "complete_soon takes the handler over");
  if constexpr (!resumes_a_coroutine<Handler>) {  // (detail/asio_internals.hpp)
    auto ex = boost::asio::get_associated_executor(handler);
    if (!runs_here(ex)) {
      boost::asio::post(ex, [h = std::move(handler),
                             ... a = std::decay_t<Args>(std::forward<Args>(args))]() mutable {
        std::move(h)(std::move(a)...);
      });
      return;
    }
  }
  auto& c = completions_here;
  if (c.depth >= max_inline_completions) {
    park_completion(std::move(handler), std::forward<Args>(args)...);
    return;
  }
  struct nested {
    inline_completions& c;
    explicit nested(inline_completions& cc) noexcept : c(cc) { ++c.depth; }
    ~nested() { --c.depth; }
    nested(const nested&) = delete;
    nested& operator=(const nested&) = delete;
  } level(c);
  std::move(handler)(std::forward<Args>(args)...);
  if (c.depth == 1 && c.head) c.run_parked();  // the outermost: the stack has unwound to here
}

}  // namespace sluice::detail
