// The result of one coroutine, awaited by any number of others: the work runs once, every
// awaiter gets its value (a copy) or its exception. What cppcoro's shared_task and
// btrekkie/batch's SharedGenerator are; unlike an Asio awaitable, which can be awaited once.
#pragma once

#include "sluice/detail/wait_queue.hpp"
#include "sluice/outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace sluice {

/// A handle to one coroutine's result, shared by copies of the handle. The coroutine starts at
/// once on the given executor and runs to its end whether or not anyone awaits it (it owns
/// what it needs: the handles may all be gone). Not thread-safe: the job and its awaiters on
/// one executor (or strand).
///
///     auto config = sluice::shared_job<settings>(ex, load_settings());
///     settings a = co_await config.result();   // any number of coroutines, any time
template <class T>
class shared_job {
 public:
  /// Starts `work` on `ex`.
  shared_job(boost::asio::any_io_executor ex, boost::asio::awaitable<T> work)
      : s_(std::make_shared<state>()) {
    boost::asio::co_spawn(std::move(ex), run(s_, std::move(work)), boost::asio::detached);
  }

  /// Waits for the job to end (not suspending if it has), then returns a copy of its value or
  /// rethrows its exception. Cancelling this wait ends only this wait (operation_aborted); the
  /// job goes on for the others.
  [[nodiscard]] boost::asio::awaitable<T> result() const {
    auto s = s_;
    if (!s->result) co_await s->waiters.wait(0, nullptr, boost::asio::deferred);
    if constexpr (std::is_void_v<T>)
      s->result->value();  // (rethrows)
    else
      co_return s->result->value();
  }

  /// Whether the job has ended.
  [[nodiscard]] bool done() const noexcept { return s_->result.has_value(); }
  /// Whether it ended with an exception.
  [[nodiscard]] bool failed() const noexcept { return done() && !s_->result->has_value(); }

 private:
  struct state {
    std::optional<outcome<T>> result;
    detail::wait_queue<char> waiters;
  };

  static boost::asio::awaitable<void> run(std::shared_ptr<state> s,
                                          boost::asio::awaitable<T> work) {
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(work);
        s->result.emplace();
      } else {
        s->result.emplace(co_await std::move(work));
      }
    } catch (...) {
      s->result.emplace(std::current_exception());
    }
    s->waiters.complete_all_inline();
  }

  std::shared_ptr<state> s_;
};

}  // namespace sluice
