// A blocking generator that takes values, driven from a coroutine one step at a time on the
// blocking pool: aioextensions' generate_in_thread with asend(v) reaching gen.send(v).
// Unlike generate_in_thread's stream, it never runs ahead: each step is asked for.
#pragma once

#include "sluice/offload.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace sluice {

/// A generator of Y that receives S. Its `step(std::optional<S> sent) -> std::optional<Y>` is
/// what the generator does between two yields: it gets the value sent (nullopt for next()
/// and for the first step, as Python sends None first) and returns the next value, or nullopt
/// when the generator is done. Steps run on the blocking pool, one at a time, in the order
/// asked, and only when asked.
///
///     auto g = sluice::send_generator<int, int>([x = 0](std::optional<int> s) mutable
///                                                   -> std::optional<int> { ... });
///     auto first = co_await g.next();      // step(nullopt)
///     auto second = co_await g.send(5);    // step(5)
///
/// After a step returns nullopt or throws (the exception is rethrown to its caller), the
/// generator is done: later steps return nullopt without calling `step`. One step at a time:
/// asking for a step while one is awaited throws std::logic_error. Cancelling the caller
/// resumes it at once with operation_aborted; the step runs to its end on its thread and its
/// value is dropped (a later step waits for it). Not thread-safe on the caller's side.
template <class Y, class S>
class send_generator {
 public:
  using step_function = std::function<std::optional<Y>(std::optional<S>)>;

  explicit send_generator(step_function step) : s_(std::make_shared<state>(std::move(step))) {}

  /// The value the generator yields after receiving `value`, or nullopt when it is done.
  [[nodiscard]] boost::asio::awaitable<std::optional<Y>> send(S value) {
    return run_step(s_, std::optional<S>(std::move(value)));
  }
  /// The next value, sending nothing (nullopt), or nullopt when the generator is done.
  [[nodiscard]] boost::asio::awaitable<std::optional<Y>> next() {
    return run_step(s_, std::nullopt);
  }
  /// Whether a step has returned nullopt or thrown.
  [[nodiscard]] bool done() const {
    std::lock_guard lock(s_->m);
    return s_->done;
  }

 private:
  struct state {
    explicit state(step_function f) : step(std::move(f)) {}
    std::mutex m;  // held by a step while it runs: steps never overlap
    step_function step;
    bool done = false;   // (m)
    bool asked = false;  // a step is awaited (the caller's side)
  };

  // The step as the blocking pool runs it. (Made outside the coroutine: GCC 12 mishandles a
  // lambda capturing a coroutine's shared_ptr parameter.)
  static auto step_call(std::shared_ptr<state> s, std::optional<S> sent) {
    return [s = std::move(s), sent = std::move(sent)]() mutable {
      std::lock_guard lock(s->m);
      if (s->done) return std::optional<Y>();
      try {
        auto y = s->step(std::move(sent));
        if (!y) s->done = true;
        return y;
      } catch (...) {
        s->done = true;
        throw;
      }
    };
  }

  static boost::asio::awaitable<std::optional<Y>> run_step(std::shared_ptr<state> s,
                                                           std::optional<S> sent) {
    if (s->asked)
      throw std::logic_error("send_generator: a step is already awaited (one step at a time)");
    s->asked = true;
    std::optional<std::optional<Y>> r;
    std::exception_ptr failure;
    try {
      r = co_await detail::offload(blocking_pool(), step_call(s, std::move(sent)));
    } catch (...) {
      failure = std::current_exception();
    }
    s->asked = false;
    if (failure) std::rethrow_exception(failure);
    co_return std::move(*r);
  }

  std::shared_ptr<state> s_;
};

}  // namespace sluice
