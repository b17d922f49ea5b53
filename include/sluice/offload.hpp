// Offload to threads: blocking calls (in_thread) and CPU-bound work (in_cpu_pool) run on
// thread pools and resume the calling coroutine on its own executor; a blocking producer
// becomes a sluice::stream (generate_in_thread).
#pragma once

#include "sluice/executor_pool.hpp"
#include "sluice/stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace sluice {

/// The pool in_thread uses: 10 x cores threads unless told otherwise, made on first use, and
/// joined at exit (static destruction; no detached threads). Its size, replacement and
/// shutdown are the caller's (executor_pool): `sluice::blocking_pool().initialize(64)`.
executor_pool& blocking_pool();
/// The pool in_cpu_pool uses: one thread per core.
executor_pool& cpu_pool();
/// The blocking pool's default size.
std::size_t blocking_pool_size() noexcept;
/// Sets the blocking pool's size before its first use. Throws std::logic_error once the pool
/// exists (blocking_pool().initialize(n) replaces it instead), and std::invalid_argument for 0.
void set_blocking_pool_size(std::size_t threads);

namespace detail {

template <class R>
using offload_value = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

/// Runs f() on `pool` and completes on the caller's executor with (error, optional value).
/// Cancellation completes the caller at once with operation_aborted; the call itself runs
/// to its end on its thread and its result is dropped there.
template <class F, class CompletionToken = const boost::asio::use_awaitable_t<>&>
auto offload(executor_pool& pool, F f, CompletionToken&& token = boost::asio::use_awaitable) {
  using R = std::invoke_result_t<F&>;
  using V = std::optional<offload_value<R>>;
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, V)>(
      [&pool](auto handler, F f) {
        using H = decltype(handler);
        using work_executor =
            decltype(boost::asio::prefer(std::declval<boost::asio::associated_executor_t<H>>(),
                                         boost::asio::execution::outstanding_work.tracked));
        // 0: running; 1: completed (the pool thread owns the handler); 2: abandoned.
        struct state {
          state(H h)
              : handler(std::move(h)),
                work(boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                         boost::asio::execution::outstanding_work.tracked)) {}
          H handler;
          std::optional<work_executor> work;  // keeps the caller's context running
          std::atomic<int> phase{0};
        };
        auto st = std::make_shared<state>(std::move(handler));
        auto slot = boost::asio::get_associated_cancellation_slot(st->handler);
        if (slot.is_connected()) {
          slot.template emplace<std::function<void(boost::asio::cancellation_type_t)>>(
              [w = std::weak_ptr<state>(st)](boost::asio::cancellation_type_t type) {
                auto st = w.lock();
                int expected = 0;
                if (!st || type == boost::asio::cancellation_type::none ||
                    !st->phase.compare_exchange_strong(expected, 2))
                  return;
                // Resumed through the executor, not inside the signal's emit.
                auto ex = std::move(*st->work);
                st->work.reset();
                boost::asio::post(ex, [st] {
                  std::move(st->handler)(std::make_exception_ptr(boost::system::system_error(
                                             boost::asio::error::operation_aborted)),
                                         V{});
                });
              });
        }
        pool.post([st, f = std::move(f)]() mutable {
          std::exception_ptr error;
          V value;
          try {
            if constexpr (std::is_void_v<R>) {
              f();
              value.emplace();
            } else {
              value.emplace(f());
            }
          } catch (...) {
            error = std::current_exception();
          }
          int expected = 0;
          if (!st->phase.compare_exchange_strong(expected, 1)) return;  // abandoned: drop it
          auto ex = std::move(*st->work);
          st->work.reset();
          boost::asio::post(ex, [st, error = std::move(error), value = std::move(value)]() mutable {
            std::move(st->handler)(std::move(error), std::move(value));
          });
        });
      },
      token, std::move(f));
}

template <class F, class... Args>
auto bind_call(F&& f, Args&&... args) {
  return [f = std::forward<F>(f), args = std::make_tuple(std::forward<Args>(args)...)]() mutable {
    return std::apply(f, args);
  };
}

template <class F, class... Args>
using call_result_t = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>;

template <class R, class Bound>
boost::asio::awaitable<R> offload_to(executor_pool& pool, Bound bound) {
  auto v = co_await offload(pool, std::move(bound));
  if constexpr (!std::is_void_v<R>) co_return std::move(*v);
}

}  // namespace detail

/// Runs fn(args...) (a blocking call) on the blocking pool and resumes on the caller's
/// executor with its result; its exception is rethrown. fn and args are copied (or moved)
/// into the call: pass std::ref only for what outlives it.
///
/// A thread cannot be interrupted: cancelling the caller resumes it at once with
/// operation_aborted, while the call runs on to its end and its result is discarded there.
///
///     auto text = co_await sluice::in_thread(read_file, path);
template <class F, class... Args>
boost::asio::awaitable<detail::call_result_t<F, Args...>> in_thread(F&& fn, Args&&... args) {
  return detail::offload_to<detail::call_result_t<F, Args...>>(
      blocking_pool(), detail::bind_call(std::forward<F>(fn), std::forward<Args>(args)...));
}

/// Like in_thread, on `pool`: a pool of the caller's (4 threads for a database, say).
template <class F, class... Args>
boost::asio::awaitable<detail::call_result_t<F, Args...>> in_pool(executor_pool& pool, F&& fn,
                                                                  Args&&... args) {
  return detail::offload_to<detail::call_result_t<F, Args...>>(
      pool, detail::bind_call(std::forward<F>(fn), std::forward<Args>(args)...));
}

/// Like in_thread, on the CPU pool (one thread per core), for CPU-bound work.
template <class F, class... Args>
boost::asio::awaitable<detail::call_result_t<F, Args...>> in_cpu_pool(F&& fn, Args&&... args) {
  return detail::offload_to<detail::call_result_t<F, Args...>>(
      cpu_pool(), detail::bind_call(std::forward<F>(fn), std::forward<Args>(args)...));
}

namespace detail {

/// generate_in_thread's stream: a producer on the blocking pool fills a bounded buffer.
template <class T, class Next>
class thread_generator final : public stream<T>::impl,
                               public std::enable_shared_from_this<thread_generator<T, Next>> {
 public:
  thread_generator(Next next, std::size_t ahead)
      : next_(std::move(next)), ahead_(ahead), refill_at_(ahead / 2) {}

  boost::asio::awaitable<std::optional<T>> next() override {
    if (!started_) {
      started_ = true;
      blocking_pool().post([self = this->shared_from_this()] { self->produce(); });
    }
    for (;;) {
      {
        std::unique_lock lock(m_);
        if (!buffer_.empty()) {
          T v = std::move(buffer_.front());
          buffer_.pop_front();
          const bool refill = buffer_.size() == refill_at_;
          lock.unlock();
          if (refill) space_.notify_one();
          co_return v;
        }
        if (finished_) {
          if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
          // A producer that stopped because the stream was cancelled did not reach the end.
          if (!ended_) throw boost::system::system_error(boost::asio::error::operation_aborted);
          co_return std::nullopt;
        }
        if (stopped_) throw boost::system::system_error(boost::asio::error::operation_aborted);
      }
      co_await wait_for_producer(false);
    }
  }

  // A next() waiting for the producer, and every next() after, ends with operation_aborted
  // (unless the source had ended, or the items it gave before are still buffered).
  void cancel() noexcept override {
    waiter w;
    {
      std::lock_guard lock(m_);
      stopped_ = true;
      w = std::exchange(waiter_, nullptr);
    }
    space_.notify_all();
    if (w) w();
  }

  boost::asio::awaitable<void> close() override {
    cancel();
    if (!started_) co_return;
    for (;;) {
      {
        std::lock_guard lock(m_);
        if (finished_) co_return;
      }
      co_await wait_for_producer(true);
    }
  }

 private:
  using waiter = std::function<void()>;

  // Suspends until the producer adds an item or ends, or (unless `until_finished`, for
  // close()) the stream is cancelled.
  boost::asio::awaitable<void> wait_for_producer(bool until_finished) {
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                         void(std::exception_ptr)>(
        [this, until_finished](auto handler) {
          using H = decltype(handler);
          auto h = std::make_shared<std::optional<H>>(std::move(handler));
          auto ex = boost::asio::prefer(boost::asio::get_associated_executor(**h),
                                        boost::asio::execution::outstanding_work.tracked);
          std::unique_lock lock(m_);
          if (!buffer_.empty() || finished_ || (stopped_ && !until_finished)) {
            lock.unlock();
            boost::asio::post(ex, [h] { std::move (**h)(nullptr); });
            return;
          }
          waiter_ = [h, ex] { boost::asio::post(ex, [h] { std::move (**h)(nullptr); }); };
          auto slot = boost::asio::get_associated_cancellation_slot(**h);
          if (slot.is_connected())
            slot.template emplace<std::function<void(boost::asio::cancellation_type_t)>>(
                [this, self = this->shared_from_this()](boost::asio::cancellation_type_t) {
                  // Cancelling a next() cancels the stream (as every sluice stream does).
                  waiter w;
                  {
                    std::lock_guard lock(m_);
                    stopped_ = true;
                    w = std::exchange(waiter_, nullptr);
                  }
                  space_.notify_all();
                  if (w) w();
                });
        },
        boost::asio::use_awaitable);
  }

  // On a pool thread: pulls from the source until it ends, fails or the stream stops.
  void produce() {
    std::exception_ptr error;
    try {
      for (;;) {
        {
          std::unique_lock lock(m_);
          // A full buffer waits to drain to half: one wakeup per ahead/2 items, not per item.
          if (buffer_.size() >= ahead_)
            space_.wait(lock, [&] { return stopped_ || buffer_.size() <= refill_at_; });
          if (stopped_) break;
        }
        std::optional<T> v = next_();  // outside the lock: this is the blocking call
        waiter w;
        {
          std::lock_guard lock(m_);
          if (!v) {
            ended_ = true;
            break;
          }
          buffer_.push_back(std::move(*v));
          w = std::exchange(waiter_, nullptr);
        }
        if (w) w();
      }
    } catch (...) {
      error = std::current_exception();
    }
    waiter w;
    {
      std::lock_guard lock(m_);
      if (error) ended_ = true;
      finished_ = true;
      error_ = error;
      w = std::exchange(waiter_, nullptr);
    }
    if (w) w();
  }

  Next next_;
  const std::size_t ahead_;
  const std::size_t refill_at_;  // the producer, once full, resumes at this many buffered
  bool started_ = false;         // consumer side only
  std::mutex m_;
  std::condition_variable space_;
  std::deque<T> buffer_;
  bool stopped_ = false;
  bool finished_ = false;
  bool ended_ = false;  // the source ended (or failed): not stopped early
  std::exception_ptr error_;
  waiter waiter_;
};

template <class S>
struct optional_value;
template <class T>
struct optional_value<std::optional<T>> {
  using type = T;
};

}  // namespace detail

/// Turns a blocking producer into a sluice::stream that runners accept as input. `source` is
/// a callable returning std::optional<T> (std::nullopt ends it), or an input range (moved or
/// copied in; it is iterated on the producer's thread). The producer runs on the blocking
/// pool and runs ahead of the consumer by at most `ahead` items; its exception is rethrown by
/// next() after the items before it. Destroying the stream stops the producer at its next
/// item (a blocking call in progress is not interrupted).
///
///     auto lines = sluice::generate_in_thread([&in]() -> std::optional<std::string> {
///       std::string l;
///       if (std::getline(in, l)) return l;
///       return std::nullopt;
///     });
///     co_await sluice::run_on_each(process, std::move(lines), {.max_at_once = 8});
template <class Source>
auto generate_in_thread(Source source, std::size_t ahead = 64) {
  if (ahead == 0) throw std::invalid_argument("generate_in_thread: ahead must be >= 1");
  if constexpr (std::is_invocable_v<Source&>) {
    using T = typename detail::optional_value<std::invoke_result_t<Source&>>::type;
    return stream<T>(
        std::make_shared<detail::thread_generator<T, Source>>(std::move(source), ahead));
  } else {
    static_assert(std::ranges::input_range<Source>,
                  "generate_in_thread: source must return std::optional<T> or be an input range");
    using T = std::ranges::range_value_t<Source>;
    struct from_range {
      Source r;
      std::optional<std::ranges::iterator_t<Source>> it;
      std::optional<T> operator()() {
        if (!it) it.emplace(std::ranges::begin(r));
        if (*it == std::ranges::end(r)) return std::nullopt;
        std::optional<T> v(std::ranges::iter_move(*it));
        ++*it;
        return v;
      }
    };
    return stream<T>(std::make_shared<detail::thread_generator<T, from_range>>(
        from_range{std::move(source), std::nullopt}, ahead));
  }
}

}  // namespace sluice
