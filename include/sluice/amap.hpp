// sluice::amap runs fn over inputs and streams the results as they complete (or in input
// order). Unlike aiometer's amap it needs no context manager, takes lazy and unbounded
// inputs, holds a bounded number of results when the consumer is slow, and cancels its
// tasks when the stream goes away.
#pragma once

#include "sluice/detail/engine.hpp"
#include "sluice/options.hpp"
#include "sluice/stream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <utility>

namespace sluice {
namespace detail {

/// Results between the workers and the consumer. Unordered: a FIFO of completed values.
/// Ordered: slots for indices [base_, base_ + window), delivered from the front only.
/// Either way the engine pulls input index i only when i < delivered + window, which bounds
/// what is buffered by the window.
template <class T>
class stream_sink {
 public:
  /// `skip_gaps`: once the run has finished, an ordered stream passes over the places of
  /// tasks that never delivered (cancelled by a stop) and delivers what completed after them.
  stream_sink(bool ordered, std::size_t window, bool skip_gaps = false)
      : ordered_(ordered), skip_gaps_(skip_gaps), window_(window) {}

  template <class E>
  void on_value(E& e, std::size_t index, T&& value) {
    if (!ordered_) {
      ready_.push_back(std::move(value));
    } else {
      slot_at(index).emplace(std::move(value));
      if (index != base_) return;
    }
    wake(e);
  }
  template <class E>
  void on_failure(E& e, std::size_t index) {
    if (!ordered_) {
      ++delivered_;  // produces nothing: its place in the window frees up now
      e.set_pull_limit(limit());
    } else {
      slot_at(index).state = slot_state::failed;
      if (index == base_) wake(e);
    }
  }
  template <class E>
  void on_finished(E& e) {
    finished_ = true;
    wake(e);
  }

  /// The next deliverable value, if any; frees its place in the window.
  template <class E>
  std::optional<T> pop(E& e) {
    std::optional<T> out;
    if (!ordered_) {
      if (ready_.empty()) return out;
      out.emplace(std::move(ready_.front()));
      ready_.pop_front();
      ++delivered_;
    } else {
      while (!slots_.empty() &&
             (slots_.front().state == slot_state::failed ||
              (skip_gaps_ && finished_ && slots_.front().state == slot_state::empty))) {
        slots_.pop_front();
        ++base_;
        ++delivered_;
      }
      if (slots_.empty() || slots_.front().state != slot_state::ready) return out;
      out.emplace(std::move(*slots_.front().value));
      slots_.pop_front();
      ++base_;
      ++delivered_;
    }
    e.set_pull_limit(limit());
    return out;
  }

  std::size_t limit() const { return window_ == unlimited ? unlimited : delivered_ + window_; }

  /// The consumer, while it waits for a value (boxed: the sink is moved into the engine).
  std::unique_ptr<wait_queue<char>> consumer = std::make_unique<wait_queue<char>>();

 private:
  enum class slot_state : char { empty, ready, failed };
  struct slot {
    slot_state state = slot_state::empty;
    std::optional<T> value;
    void emplace(T&& v) {
      value.emplace(std::move(v));
      state = slot_state::ready;
    }
  };
  slot& slot_at(std::size_t index) {
    const std::size_t k = index - base_;
    if (k >= slots_.size()) slots_.resize(k + 1);
    return slots_[k];
  }
  template <class E>
  void wake(E&) {
    if (!consumer->empty()) consumer->complete_front();
  }

  bool ordered_;
  bool skip_gaps_;
  bool finished_ = false;
  std::size_t window_;
  std::size_t delivered_ = 0;
  std::deque<T> ready_;
  std::deque<slot> slots_;
  std::size_t base_ = 0;
};

template <class T, class E>
class amap_stream final : public stream<T>::impl, private wait_owner<char> {
 public:
  explicit amap_stream(std::shared_ptr<E> e) : e_(std::move(e)) {}
  ~amap_stream() override { cancel(); }

  boost::asio::awaitable<std::optional<T>> next() override {
    E& e = *e_;
    if (!e.started()) e.start(co_await boost::asio::this_coro::executor);
    for (;;) {
      if (auto v = e.sink().pop(e)) co_return v;
      if (e.finished()) {
        e.rethrow();
        co_return std::nullopt;
      }
      // Cancelling this wait cancels the stream; the wait still ends only when it finished.
      co_await e.sink().consumer->wait(0, this, boost::asio::use_awaitable, cancel_mode::notify);
      if (e.cancelled() && e.finished()) e.rethrow();
    }
  }

  void cancel() noexcept override {
    if (e_->started())
      e_->cancel();
    else
      e_->stop(true);
  }

  boost::asio::awaitable<void> close() override {
    cancel();
    if (e_->started()) co_await e_->join();
  }

 private:
  void on_cancelled(const char&) override { e_->cancel(); }
  std::shared_ptr<E> e_;
};

inline std::size_t stream_window(const options& opts) {
  if (opts.max_at_once == 0) return opts.reorder_window == 0 ? unlimited : opts.reorder_window;
  return opts.max_at_once + opts.reorder_window;
}

}  // namespace detail

/// Runs `fn(input)` (returning asio::awaitable<T>) over the inputs and returns a stream of the
/// results: in completion order, or in input order with opts.ordered.
///
/// Nothing runs until the first `next()`, which starts the tasks on the caller's executor. At
/// most max_at_once + reorder_window results are held (unbounded only when max_at_once is 0
/// and no reorder_window is set): when the consumer falls behind, or in ordered mode a slow
/// head holds up the rest, inputs are not pulled until it catches up.
/// Errors: fail_fast ends the stream with the first error, after the results that were
/// already complete (in ordered mode, those before the failed one); keep_going skips failed
/// tasks and throws sluice::task_errors at the end. Destroying the stream cancels its tasks.
/// Throws std::invalid_argument for invalid options at the call.
///
///     auto pages = sluice::amap(fetch, urls, {.max_at_once = 16, .ordered = true});
///     while (auto p = co_await pages.next()) write(*p);
template <class Clock = std::chrono::steady_clock, class Fn, class R>
auto amap(Fn fn, R&& inputs, options opts = {}) {
  using source = detail::source_for<R&&>;
  using T = detail::task_result_t<source, Fn>;
  static_assert(!std::is_void_v<T>,
                "amap: fn must return awaitable<T> with a value; use run_on_each");
  using sink = detail::stream_sink<T>;
  using engine = detail::engine<Clock, source, Fn, sink>;
  auto e = std::make_shared<engine>(detail::make_source(std::forward<R>(inputs)), std::move(fn),
                                    sink(opts.ordered, detail::stream_window(opts)), opts);
  e->set_pull_limit(e->sink().limit());
  return stream<T>(std::make_shared<detail::amap_stream<T, engine>>(std::move(e)));
}

}  // namespace sluice
