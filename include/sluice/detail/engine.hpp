// The engine under every runner: up to max_at_once worker coroutines, spawned on demand, each
// pulling the next input only when its task can start and awaiting the task inline (no
// co_spawn per task). A sink decides what a result becomes (stored by index, buffered for a
// stream, first-wins), the error policy what a failure does.
#pragma once

#include "sluice/detail/attempts.hpp"
#include "sluice/detail/failure_policy.hpp"
#include "sluice/detail/limits.hpp"
#include "sluice/detail/wait_queue.hpp"
#include "sluice/errors.hpp"
#include "sluice/limiter.hpp"
#include "sluice/options.hpp"
#include "sluice/progress.hpp"
#include "sluice/rate_limiter.hpp"
#include "sluice/stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice::detail {

inline constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

// ---- input sources --------------------------------------------------------------------------

/// Inputs from a view, pulled with no suspension. An input is handed to its task as a
/// `holder`: a pointer to the element for forward ranges of references (the element outlives
/// the advance), else the value itself (advancing a single-pass range may invalidate it).
template <std::ranges::view V>
class range_source {
  using reference = std::ranges::range_reference_t<V>;
  static constexpr bool by_pointer =
      std::ranges::forward_range<V> && std::is_lvalue_reference_v<reference>;

 public:
  static constexpr bool is_async = false;
  using holder = std::conditional_t<by_pointer, std::remove_reference_t<reference>*,
                                    std::ranges::range_value_t<V>>;

  explicit range_source(V v) : view_(std::move(v)) {}

  void open() {
    it_.emplace(std::ranges::begin(view_));
    end_.emplace(std::ranges::end(view_));
  }
  [[nodiscard]] bool exhausted() const { return *it_ == *end_; }
  /// The current input; advances past it.
  holder take() {
    auto& it = *it_;
    if constexpr (by_pointer) {
      holder h = std::addressof(*it);
      ++it;
      return h;
    } else {
      holder h(std::ranges::iter_move(it));
      ++it;
      return h;
    }
  }
  static auto& arg(holder& h) {
    if constexpr (by_pointer)
      return *h;
    else
      return h;
  }

 private:
  V view_;
  std::optional<std::ranges::iterator_t<V>> it_;
  std::optional<std::ranges::sentinel_t<V>> end_;
};

/// Inputs from a sluice stream (an earlier stage), pulled one caller at a time.
template <class T, class Holder>
class stream_source {
 public:
  static constexpr bool is_async = true;
  using holder = T;

  explicit stream_source(Holder h) : s_(std::move(h)) {}
  void open() {}
  boost::asio::awaitable<std::optional<T>> pull() {
    auto turn = co_await lock_->acquire();
    co_return co_await stream_ref().next();
  }
  static T& arg(T& h) { return h; }

 private:
  stream<T>& stream_ref() {
    if constexpr (std::is_pointer_v<Holder>)
      return *s_;
    else
      return s_;
  }
  Holder s_;
  std::unique_ptr<limiter> lock_ = std::make_unique<limiter>(1);
};

template <class R>
auto make_source(R&& r) {
  using D = std::remove_cvref_t<R>;
  if constexpr (is_stream_v<D>) {
    using T = typename D::value_type;
    if constexpr (std::is_lvalue_reference_v<R>)
      return stream_source<T, stream<T>*>(&r);
    else
      return stream_source<T, stream<T>>(std::move(r));
  } else {
    static_assert(std::ranges::input_range<R>,
                  "sluice: inputs must be an input range or a sluice::stream");
    return range_source<std::views::all_t<R>>(std::views::all(std::forward<R>(r)));
  }
}

template <class R>
using source_for = decltype(make_source(std::declval<R>()));

/// The result type of one task: fn(input) must return asio::awaitable<T>.
template <class Source, class Fn>
using task_result_t =
    typename std::invoke_result_t<Fn&, decltype(Source::arg(
                                           std::declval<typename Source::holder&>()))>::value_type;

// ---- the engine ---------------------------------------------------------------------------

/// Sink requirements (S is the sink, E the engine, R the result type):
///   void on_value(E&, std::size_t index, R&&)   (or on_value(E&, index) for void results)
///   void on_failure(E&, std::size_t index)      a task failed under keep_going
///   void on_finished(E&)                        every worker has exited
/// A sink that declares `static constexpr bool delivers_failures = true` gets every ended
/// task instead, with its attempt count, and the run keeps no failure list of its own:
///   void on_value(E&, std::size_t index, std::size_t attempts, R&&)
///   void on_error(E&, std::size_t index, std::exception_ptr, std::size_t attempts)
/// (a task cancelled by the run's own stop is neither).
template <class Clock, class Source, class Fn, class Sink>
class engine final : public std::enable_shared_from_this<engine<Clock, Source, Fn, Sink>>,
                     private wait_owner<char> {
 public:
  using result_type = task_result_t<Source, Fn>;
  static constexpr bool delivers_failures = requires { requires Sink::delivers_failures; };

  engine(Source src, Fn fn, Sink sink, const options& opts)
      : src_(std::move(src)),
        fn_(std::move(fn)),
        sink_(std::move(sink)),
        opts_((validate(opts), opts)),
        attempts_(needs_attempts(opts)),
        policy_(opts, delivers_failures),
        max_workers_(opts.max_at_once == 0 ? unlimited : tasks_held(opts)),
        needs_input_(limits_need_input(opts)) {}
  engine(const engine&) = delete;

  Sink& sink() noexcept { return sink_; }
  const options& opts() const noexcept { return opts_; }

  /// Spawns the first worker on `ex`; the rest are spawned as inputs keep coming.
  void start(boost::asio::any_io_executor ex) {
    ex_ = std::move(ex);
    started_ = true;
    limits_.open(ex_, opts_);
    try {
      src_.open();
    } catch (...) {
      fail(std::current_exception());
      finish();
      return;
    }
    spawn();
  }

  [[nodiscard]] bool started() const noexcept { return started_; }
  [[nodiscard]] bool finished() const noexcept { return finished_; }
  [[nodiscard]] bool cancelled() const noexcept { return cancelled_; }

  /// Suspends until every worker has exited. Cancelling the caller cancels every task and
  /// still waits for all of them (check cancelled() afterwards).
  boost::asio::awaitable<void> join() {
    if (!finished_) co_await done_.wait(0, this, boost::asio::deferred, cancel_mode::notify);
  }

  /// Stops pulling input; with `cancel_running`, running tasks and waiting workers are
  /// cancelled too (they observe Asio cancellation).
  void stop(bool cancel_running) noexcept {
    stopping_ = true;
    gate_.fail_all(nullptr);  // gated workers wake up and see stopping_
    if (!cancel_running) return;
    for (std::size_t i = 0; i < workers_ctx_.size(); ++i)
      if (active_[i] == worker_running)
        workers_ctx_[i]->signal.emit(boost::asio::cancellation_type::terminal);
  }

  /// The caller's cancellation: stop everything and remember why.
  void cancel() noexcept {
    if (finished_) return;
    cancelled_ = true;
    stop(true);
  }

  /// Lets workers pull inputs with index < limit (ordered streams raise it as they deliver).
  void set_pull_limit(std::size_t limit) {
    pull_limit_ = limit;
    wake_gate();
  }

  /// The error that stopped the run (fail_fast, or a broken input), if any.
  [[nodiscard]] std::exception_ptr first_error() const noexcept { return policy_.first_error(); }
  /// Every failure of a keep_going or halt run.
  [[nodiscard]] std::vector<task_error>& errors() noexcept { return policy_.errors(); }
  /// The halt condition was met (error_policy::halt).
  [[nodiscard]] bool halted() const noexcept { return policy_.halted(); }
  /// Inputs pulled (= tasks started) so far.
  [[nodiscard]] std::size_t pulled() const noexcept { return next_index_; }

  /// Throws what a finished run owes its caller: cancellation, then the first error, then the
  /// keep_going (or halt) failures.
  void rethrow() {
    if (cancelled_) throw boost::system::system_error(boost::asio::error::operation_aborted);
    policy_.rethrow(next_index_);
  }

 private:
  void on_cancelled(const char&) override { cancel(); }

  void spawn() {
    ++workers_;
    spawn_pending_ = true;
    std::size_t id;
    if (!free_ids_.empty()) {
      id = free_ids_.back();
      free_ids_.pop_back();
    } else {
      id = workers_ctx_.size();
      workers_ctx_.push_back(std::make_shared<worker_context<Clock>>(ex_));
      active_.push_back(0);
    }
    active_[id] = worker_spawned;
    // co_spawn would start the worker inline (Asio dispatches its first step): spawns would
    // then nest, one stack level per worker, and later workers would run before earlier ones.
    boost::asio::post(ex_, [self = this->shared_from_this(), id] {
      auto& e = *self;
      boost::asio::co_spawn(
          e.ex_, e.worker(id),
          boost::asio::bind_cancellation_slot(
              e.workers_ctx_[id]->signal.slot(), [self, id](std::exception_ptr) mutable {
                // The worker body catches everything; nothing arrives here.
                auto& e = *self;
                e.free_ids_.push_back(id);
                if (--e.workers_ == 0) e.finish();
                // Asio is still inside this worker's frame: let the engine die
                // later, if last.
                boost::asio::post(e.ex_, [keep = std::move(self)] {});
              }));
    });
  }

  // Wakes one gated worker when the window has room; that worker passes it on. (Waking all
  // would bounce every gated worker for each place freed.)
  void wake_gate() {
    if (gate_waking_ || gate_.empty() || reserved_ >= pull_limit_) return;
    gate_waking_ = true;
    gate_.complete_front();
  }

  // Another worker is needed only when every existing one is busy with a task: one that waits
  // for a limit will pull the next input itself (spawning more would strand workers in the
  // rate limiter's queue), and likewise one waiting at the gate takes the next place.
  void maybe_spawn() {
    if (spawn_pending_ || heading_for_pull_ > 0 || !gate_.empty() || stopping_ ||
        workers_ >= max_workers_)
      return;
    if constexpr (!Source::is_async)
      if (src_.exhausted()) return;
    spawn();
  }

  void finish() {
    finished_ = true;
    limits_.close();
    done_.fail_all(nullptr);
    sink_.on_finished(*this);
  }

  void fail(std::exception_ptr e) {
    if (!cancelled_) policy_.set_first_error(std::move(e));
    stop(true);
  }

  void apply(failure_policy::action a) noexcept {
    if (a != failure_policy::action::go_on) stop(a == failure_policy::action::stop_and_cancel);
  }

  template <class... V>
  [[gnu::always_inline]] void task_succeeded(std::size_t index, std::size_t attempts,
                                             V&&... value) {
    record(opts_.progress, progress::event::succeeded);
    if constexpr (delivers_failures)
      sink_.on_value(*this, index, attempts, std::forward<V>(value)...);
    else
      sink_.on_value(*this, index, std::forward<V>(value)...);
    if (opts_.errors == error_policy::halt) apply(policy_.on_success());
  }

  void task_failed(std::size_t index, std::exception_ptr e, std::size_t attempts) {
    if (stopping_ && is_cancellation(e)) {
      // A consequence of the stop. (A task that fails on its own after a stop, say while a
      // "soon" halt lets it finish, is a failure like any other.)
      record(opts_.progress, progress::event::cancelled);
      return;
    }
    record(opts_.progress, progress::event::failed);
    if constexpr (delivers_failures) {
      sink_.on_error(*this, index, e, attempts);
      apply(policy_.on_failure(index, std::move(e), attempts));
    } else {
      const auto a = policy_.on_failure(index, std::move(e), attempts);
      if (opts_.errors != error_policy::fail_fast) sink_.on_failure(*this, index);
      apply(a);
    }
  }

  // Hooks for run_attempts: a task backing off releases its place and its limiter permit.
  struct retry_hooks {
    engine& e;
    held_limits<Clock>& held;
    bool stopping() const noexcept { return e.stopping_; }
    void release() noexcept { held.release(); }
    boost::asio::awaitable<void> reacquire() { co_await e.limits_.acquire(held, e.opts_.progress); }
  };

  // Runs the task of one input and hands its result to the sink.
  template <class Holder>
  boost::asio::awaitable<void> run_with_attempts(worker_context<Clock>& w, std::size_t index,
                                                 Holder& item, held_limits<Clock>& held) {
    auto attempt = [&] { return std::invoke(fn_, Source::arg(item)); };
    retry_hooks hooks{*this, held};
    try {
      if constexpr (std::is_void_v<result_type>) {
        co_await run_attempts(w, opts_, attempt, hooks);
        task_succeeded(index, w.attempts);
      } else {
        auto value = co_await run_attempts(w, opts_, attempt, hooks);
        task_succeeded(index, w.attempts, std::move(value));
      }
    } catch (...) {
      task_failed(index, std::current_exception(), w.attempts);
    }
  }

  boost::asio::awaitable<void> worker(std::size_t id) {
    auto& w = *workers_ctx_[id];
    active_[id] = worker_running;
    spawn_pending_ = false;
    try {
      while (!stopping_) {
        if constexpr (!Source::is_async)
          if (src_.exhausted()) break;
        if (reserved_ >= pull_limit_) {
          co_await gate_.wait(0, nullptr, boost::asio::deferred);
          gate_waking_ = false;
          continue;
        }
        ++reserved_;  // this worker's claim on the pull window, kept while it waits for limits
        wake_gate();  // pass the wake-up on while places remain
        ++heading_for_pull_;
        held_limits<Clock> held;
        std::optional<typename Source::holder> item;
        std::exception_ptr unfit;  // the input's cost or key could not be had
        std::size_t index = 0;
        // The input first, then its limits: a worker never waits for a limit without a task
        // to start (waiting first, it would hold the run's end back by that wait when the
        // input ran out meanwhile), and the limits may ask for the input's cost or key.
        if constexpr (Source::is_async)
          item = co_await src_.pull();
        else if (!src_.exhausted())
          item.emplace(src_.take());
        if (item) {
          index = next_index_++;  // the input's place, whenever its limits admit it
          if (limits_.any()) {
            try {
              if (needs_input_) demand_of(opts_, Source::arg(*item), held.cost, held.key);
              if (!limits_.try_acquire(held)) co_await limits_.acquire(held, opts_.progress);
            } catch (const std::invalid_argument&) {
              unfit = std::current_exception();  // this task fails; the run goes on
            }
            if (stopping_) break;  // (the input is dropped unstarted)
          }
        }
        --heading_for_pull_;
        if (!item) {
          --reserved_;
          break;
        }
        record(opts_.progress, progress::event::pulled);
        record(opts_.progress, progress::event::started);
        maybe_spawn();
        if (unfit) [[unlikely]] {
          task_failed(index, std::move(unfit), 1);
          continue;
        }
        if (attempts_) {
          co_await run_with_attempts(w, index, *item, held);
          continue;
        }
        try {
          if constexpr (std::is_void_v<result_type>) {
            co_await std::invoke(fn_, Source::arg(*item));
            task_succeeded(index, 1);
          } else {
            task_succeeded(index, 1, co_await std::invoke(fn_, Source::arg(*item)));
          }
        } catch (...) {
          task_failed(index, std::current_exception(), 1);
        }
      }
    } catch (...) {
      // Cancelled while waiting for a limit or the gate, or the input itself threw.
      if (!stopping_) fail(std::current_exception());
    }
    active_[id] = worker_idle;
    // The input may be exhausted: every gated worker must wake to see it and exit too.
    gate_.fail_all(nullptr);
    // Asio 1.81's co_spawn awaits once more after the body returns and would throw if this
    // worker was cancelled; the state is of no use any more, so clear it.
    co_await boost::asio::this_coro::reset_cancellation_state();
  }

  Source src_;
  Fn fn_;
  Sink sink_;
  options opts_;
  bool attempts_;  // timeout or retry: tasks go through run_attempts
  failure_policy policy_;
  std::size_t max_workers_;
  bool needs_input_;  // the limits need the input (its cost or key)
  boost::asio::any_io_executor ex_;
  run_limits<Clock> limits_;

  // Workers: one context each, with the cancellation signal its slot is bound to (kept for the
  // engine's life: Asio's spawn machinery lives in the signal's slot until the worker's frame
  // is gone). Only running bodies are cancelled: Asio 1.81's co_spawn throws out of its entry
  // point when cancelled before the body starts, and a worker that has not started yet sees
  // stopping_ anyway.
  enum : char { worker_idle, worker_spawned, worker_running };
  std::vector<std::shared_ptr<worker_context<Clock>>> workers_ctx_;
  std::vector<char> active_;
  std::vector<std::size_t> free_ids_;
  std::size_t workers_ = 0;
  std::size_t heading_for_pull_ = 0;  // workers past the gate, waiting for limits or the pull
  bool spawn_pending_ = false;

  // Pull window: inputs with index >= pull_limit_ wait at the gate.
  std::size_t next_index_ = 0;
  std::size_t reserved_ = 0;
  std::size_t pull_limit_ = unlimited;
  wait_queue<char> gate_;
  bool gate_waking_ = false;  // a gated worker was woken and has not run yet

  bool started_ = false;
  bool stopping_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  wait_queue<char> done_;
};

}  // namespace sluice::detail
