// sluice::task_scope: structured concurrency for jobs submitted one by one. A producer
// awaits submit(), which waits while the scope is at capacity (backpressure), and gets a
// handle on the job's result; jobs may submit more jobs; leaving the scope waits for every
// job, and the scope owns its jobs, so no failure is lost with a dropped handle.
#pragma once

#include "sluice/detail/asio_internals.hpp"
#include "sluice/detail/attempts.hpp"
#include "sluice/detail/block_cache.hpp"
#include "sluice/detail/complete_soon.hpp"
#include "sluice/detail/engine.hpp"
#include "sluice/detail/failure_policy.hpp"
#include "sluice/detail/immediate_operation.hpp"
#include "sluice/detail/limits.hpp"
#include "sluice/detail/wait_queue.hpp"
#include "sluice/errors.hpp"
#include "sluice/options.hpp"
#include "sluice/progress.hpp"
#include "sluice/stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <boost/smart_ptr/intrusive_ref_counter.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice {

/// Thrown by submit() and spawn() once the scope has stopped taking jobs: after a fail_fast
/// failure, a halt, its deadline or a cancel(). Leaving the body of run() / with_scope with
/// it is not an error of the body: the scope's own outcome is reported instead.
class scope_closed : public std::runtime_error {
 public:
  scope_closed(const void* scope, const std::string& why)
      : std::runtime_error("task_scope is closed: " + why), scope_(scope) {}
  [[nodiscard]] const void* scope() const noexcept { return scope_; }

 private:
  const void* scope_;
};

namespace detail {

/// A job as the scope sees it, whatever its result type. Counted without atomics (a scope and
/// its handles live on one thread or strand); its memory is recycled on the thread.
struct job_base : boost::intrusive_ref_counter<job_base, boost::thread_unsafe_counter> {
  job_base() = default;
  job_base(const job_base&) = delete;
  virtual ~job_base() = default;
  static void* operator new(std::size_t bytes) { return block_cache::allocate(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept {
    block_cache::deallocate(p, bytes);
  }
  /// One attempt: runs the function once and keeps its value.
  virtual boost::asio::awaitable<void> attempt() = 0;
  /// The job's cost and key for the scope's limits: options.cost and options.key applied to
  /// the first argument it was submitted with. Throws std::invalid_argument without one.
  virtual void demand_of(const options& o, std::uint64_t& cost, std::string& key) const = 0;

  enum class state : char { waiting, running, done };
  std::size_t id = 0;
  std::size_t attempts = 0;
  state st = state::waiting;
  bool cancel_requested = false;
  std::exception_ptr error;
  boost::asio::cancellation_signal* signal = nullptr;  // the worker's, while running
  wait_queue<char> waiters;                            // result() callers
  job_base* next = nullptr;                            // in the scope's job_queue

  void cancel() noexcept {
    if (st == state::done || cancel_requested) return;
    cancel_requested = true;
    if (st == state::running && signal) signal->emit(boost::asio::cancellation_type::terminal);
  }
};

/// A FIFO of jobs, linked through the jobs; a queued job holds a reference to itself.
class job_queue {
 public:
  using ref = boost::intrusive_ptr<job_base>;
  job_queue() = default;
  job_queue(const job_queue&) = delete;
  job_queue& operator=(const job_queue&) = delete;
  ~job_queue() {
    while (head_) pop_front();
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  void push_back(ref j) noexcept {
    job_base* p = j.detach();
    (tail_ ? tail_->next : head_) = p;
    tail_ = p;
    ++size_;
  }
  ref pop_front() noexcept {
    job_base* p = head_;
    head_ = std::exchange(p->next, nullptr);
    if (!head_) tail_ = nullptr;
    --size_;
    return ref(p, false);  // the queue's reference, handed over
  }

 private:
  job_base* head_ = nullptr;
  job_base* tail_ = nullptr;
  std::size_t size_ = 0;
};

template <class T>
struct job_state : job_base {
  using value_type = T;
  std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
};

template <class T, class Fn, class Args>
struct job_impl final : job_state<T> {
  job_impl(Fn&& f, Args&& a) : fn(std::move(f)), args(std::move(a)) {}
  boost::asio::awaitable<void> attempt() override {
    if constexpr (std::is_void_v<T>) {
      return std::apply(fn, args);  // no frame of its own: the task's awaitable as is
    } else {
      return store();
    }
  }
  boost::asio::awaitable<void> store() { this->value.emplace(co_await std::apply(fn, args)); }
  void demand_of(const options& o, std::uint64_t& cost, std::string& key) const override {
    if constexpr (std::tuple_size_v<Args> == 0) {
      throw std::invalid_argument(
          "task_scope: options.cost and options.key apply to a job's first argument, and this "
          "job was submitted without one");
    } else {
      detail::demand_of(o, std::get<0>(args), cost, key);
    }
  }
  Fn fn;
  Args args;
};

template <class Fn, class... Args>
using job_result_t = typename std::invoke_result_t<Fn&, Args&...>::value_type;

template <class Clock>
class scope_state;
template <class Clock, class T, class Source, class Fn>
class scope_map;

}  // namespace detail

/// A handle on one submitted job. Copyable; dropping it does not cancel the job (the scope
/// owns it).
template <class T>
class job {
 public:
  using value_type = T;

  /// The job's id in its scope (0, 1, 2... in submission order), as in task_error::index.
  [[nodiscard]] std::size_t id() const noexcept { return state_->id; }
  [[nodiscard]] bool done() const noexcept { return state_->st == detail::job_base::state::done; }
  /// Attempts made so far (retries included).
  [[nodiscard]] std::size_t attempts() const noexcept { return state_->attempts; }

  /// Waits for the job to end and returns its value (moved out: take it once), or rethrows
  /// its error: operation_aborted if it was cancelled through its handle, scope_closed if the
  /// scope's stop (a failure, a halt, the deadline) cancelled it. Cancelling this wait does
  /// not cancel the job.
  boost::asio::awaitable<T> result() {
    auto s = state_;
    if (s->st != detail::job_base::state::done)
      co_await s->waiters.wait(0, nullptr, boost::asio::deferred);
    if (s->error) std::rethrow_exception(s->error);
    if constexpr (!std::is_void_v<T>) {
      if (!s->value) throw std::logic_error("sluice::job::result: the value was already taken");
      T v = std::move(*s->value);
      s->value.reset();
      co_return v;
    }
  }

  /// Cancels the job: if it has not started it never will (its place is given back); if it
  /// runs, it is cancelled through Asio cancellation. Its result is then operation_aborted;
  /// a job cancelled through its handle is not a failure of the scope.
  void cancel() noexcept { state_->cancel(); }

 private:
  template <class Clock>
  friend class detail::scope_state;
  job() = default;  // (the placeholder of a failed submit)
  explicit job(boost::intrusive_ptr<detail::job_state<T>> s) : state_(std::move(s)) {}
  boost::intrusive_ptr<detail::job_state<T>> state_;
};

namespace detail {

/// The scope's shared state: jobs, places, workers. Kept alive by the scope object and by
/// every worker.
template <class Clock>
class scope_state final : public std::enable_shared_from_this<scope_state<Clock>>,
                          private wait_owner<char> {
 public:
  scope_state(boost::asio::any_io_executor ex, const options& opts,
              std::chrono::nanoseconds deadline)
      : ex_(std::move(ex)),
        opts_(check(opts)),
        attempts_(needs_attempts(opts)),
        policy_(opts),
        progress_(opts.progress ? opts.progress : &own_progress_),
        places_(tasks_held(opts_)),
        deadline_(ex_) {
    limits_.open(ex_, opts_);
    limited_ = limits_.any();
    needs_demand_ = limits_need_input(opts_);
    if (deadline.count() < 0)
      throw std::invalid_argument("task_scope: the deadline must be >= 0 (0 = none)");
    deadline_ns_ = deadline;
  }

  /// Arms the deadline (needs shared_from_this, so not in the constructor).
  void open() {
    if (deadline_ns_.count() == 0) return;
    deadline_.expires_after(std::chrono::duration_cast<typename Clock::duration>(deadline_ns_));
    deadline_.async_wait([self = this->shared_from_this()](auto ec) {
      if (ec || self->closed_) return;
      self->fail_scope(std::make_exception_ptr(timeout_error(
          "task_scope deadline of " + duration_text(self->deadline_ns_) + " passed")));
    });
  }

  [[nodiscard]] const options& opts() const noexcept { return opts_; }
  [[nodiscard]] sluice::progress& counters() noexcept { return *progress_; }

  void set_capacity(std::size_t capacity) {
    if (capacity == 0) throw std::invalid_argument("task_scope: a capacity must be >= 1, got 0");
    opts_.max_at_once = capacity;
    places_ = tasks_held(opts_);
    if (auto* slots = limits_.run_slots()) slots->set_capacity(capacity);
    // New places go to the queued jobs first, then to waiting submitters.
    while (!stopping_ && in_use_ < places_ && !pending_.empty()) {
      ++in_use_;
      ready_.push_back(pending_.pop_front());
      wake_worker();
    }
    if (ready_.empty()) resume_submitters();
  }
  [[nodiscard]] const std::vector<task_error>& errors() noexcept { return policy_.errors(); }

  /// submit() as an asynchronous operation, void(std::exception_ptr, job<T>) (an empty handle
  /// with an error). A coroutine that awaits it with a free place is not suspended.
  template <class Fn, class... Args>
  auto submit(Fn fn, Args... args) {
    using T = job_result_t<Fn, Args...>;
    using impl = submission<T, Fn, std::tuple<Args...>>;
    return immediate_operation<impl>(
        impl{this, std::move(fn), std::tuple<Args...>(std::move(args)...)});
  }

  template <class Fn, class... Args>
  job<job_result_t<Fn, Args...>> spawn(Fn fn, Args... args) {
    check_open();
    auto j =
        make_job<job_result_t<Fn, Args...>>(std::move(fn), std::tuple<Args...>(std::move(args)...));
    const bool placed = take_free_place();
    return enqueue(std::move(j), placed);
  }

  /// Waits until no job is left. Cancelling the caller cancels the scope and still waits.
  boost::asio::awaitable<void> wait_idle() {
    while (alive_ > 0)
      co_await idle_waiters_.wait(0, this, boost::asio::deferred, cancel_mode::notify);
  }

  /// Throws what the jobs owe the caller: operation_aborted if the scope was cancelled by
  /// its caller, the first error (fail_fast, deadline), or task_errors after a fail halt.
  void rethrow() {
    if (cancelled_) throw boost::system::system_error(boost::asio::error::operation_aborted);
    policy_.rethrow(submitted_, true);
  }

  /// Stops taking jobs; queued jobs are cancelled; with `cancel_running` so are running ones.
  void stop(bool cancel_running) noexcept {
    if (!stopping_) {
      stopping_ = true;
      waiting_submitters_.fail_all(nullptr);  // they see stopping_ and throw scope_closed
      auto drop = [this](job_queue& q, bool placed) {
        while (!q.empty()) {
          auto j = q.pop_front();
          progress_->record(progress::event::pulled_cancelled);
          finish_job(*j, j->cancel_requested ? cancelled_error() : closed_error(), placed);
        }
      };
      drop(pending_, false);
      drop(ready_, true);
    }
    if (!cancel_running) return;
    for (auto& w : workers_ctx_)
      if (w->busy) w->ctx->signal.emit(boost::asio::cancellation_type::terminal);
  }

  void cancel() noexcept {
    if (alive_ > 0) cancelled_ = true;
    stop(true);
  }

  /// The scope object is gone: nothing more will be submitted; idle workers exit.
  void close() noexcept {
    closed_ = true;
    stop(true);
    deadline_.cancel();
    idle_workers_.fail_all(nullptr);
    limits_.close();
  }

 private:
  struct worker_slot {
    explicit worker_slot(std::shared_ptr<worker_context<Clock>> c) : ctx(std::move(c)) {}
    std::shared_ptr<worker_context<Clock>> ctx;
    bool busy = false;
  };

  static const options& check(const options& o) {
    validate(o);
    if (o.max_at_once == 0)
      throw std::invalid_argument(
          "task_scope: options.max_at_once must be >= 1 (a scope needs a capacity), got 0");
    return o;
  }
  void on_cancelled(const char&) override { cancel(); }

  // Why the scope takes no more jobs, as the error submit() throws and the result of the
  // jobs the stop cancelled (so that leaving the body with it reports the scope's outcome).
  std::exception_ptr closed_error() const {
    if (closed_) return std::make_exception_ptr(scope_closed(this, "the scope has ended"));
    if (cancelled_) return std::make_exception_ptr(scope_closed(this, "it was cancelled"));
    if (policy_.first_error())
      return std::make_exception_ptr(
          scope_closed(this, "it stopped on an error: " + describe(policy_.first_error())));
    return std::make_exception_ptr(
        scope_closed(this, "it halted (" + policy_.halt().to_string() + ")"));
  }

  [[nodiscard]] bool taking_jobs() const noexcept { return !stopping_ && !closed_; }

  void check_open() const {
    if (!taking_jobs()) std::rethrow_exception(closed_error());
  }

  // A place is free for a new job, and nobody queued waits for one.
  [[nodiscard]] bool place_free() const noexcept {
    return in_use_ < places_ && waiting_submitters_.empty() && pending_.empty();
  }

  // Takes a place for a new job if one is free.
  [[nodiscard]] bool take_free_place() noexcept {
    if (!place_free()) return false;
    ++in_use_;
    return true;
  }

  // One submit(). With a free place it completes at once: a coroutine awaiting it goes on
  // without suspending (try_now), and any other handler is called before start returns (no
  // trip through the executor). At capacity the submitter waits for the place a job frees.
  template <class T, class Fn, class Args>
  struct submission {
    using result_type = job<T>;
    scope_state* s;
    Fn fn;
    Args args;

    // The job's handle if a place is free; else nothing is done.
    std::optional<job<T>> try_now() {
      if (!s->taking_jobs() || !s->place_free()) [[unlikely]]
        return std::nullopt;
      // (Made first: if moving fn or args throws, no place is taken.)
      auto j = s->template make_job<T>(std::move(fn), std::move(args));
      ++s->in_use_;
      return s->enqueue(std::move(j), true);
    }

    // (A job that cannot be made, its function's move throwing, say, is the submitter's
    // error, as on the fast path, where try_now() runs in the awaiting coroutine.)
    template <class Handler>
    void start(Handler&& handler) && {
      std::optional<job<T>> j;
      try {
        j = try_now();
      } catch (...) {
        complete_soon(std::move(handler), std::current_exception(), job<T>());
        return;
      }
      if (j) [[likely]]
        complete_soon(std::move(handler), std::exception_ptr(), std::move(*j));
      else
        s->template wait_to_submit<T>(std::move(handler), std::move(fn), std::move(args));
    }
  };

  // submission::start when the scope is closed or full. (Out of line: the common path above
  // stays small.)
  template <class T, class Handler, class Fn, class Args>
  [[gnu::noinline]] void wait_to_submit(Handler&& handler, Fn&& fn, Args&& args) {
    if (!taking_jobs()) {
      complete_soon(std::move(handler), closed_error(), job<T>());
      return;
    }
    // The place is handed over by the job that frees it (in_use_ stays counted).
    waiting_submitters_.template wait<void(std::exception_ptr, job<T>)>(
        0, nullptr, std::move(handler), cancel_mode::complete,
        admit<T, std::decay_t<Fn>, std::decay_t<Args>>{this->shared_from_this(), std::move(fn),
                                                       std::move(args)});
  }

  // A waiting submitter's completion: a place was handed over, or the scope stopped (stop()
  // wakes waiting submitters without a place), or the wait was cancelled (nothing submitted).
  template <class T, class Fn, class Args>
  struct admit {
    std::shared_ptr<scope_state> s;
    Fn fn;
    Args args;
    template <class Handler>
    void operator()(Handler&& h, std::exception_ptr error) {
      if (!error && !s->taking_jobs()) error = s->closed_error();
      if (error) {
        std::move(h)(std::move(error), job<T>());
        return;
      }
      decltype(s->template make_job<T>(std::move(fn), std::move(args))) j;
      try {
        j = s->template make_job<T>(std::move(fn), std::move(args));
      } catch (...) {
        s->release_place();  // (the place handed over passes on)
        std::move(h)(std::current_exception(), job<T>());
        return;
      }
      std::move(h)(std::exception_ptr(), s->enqueue(std::move(j), true));
    }
  };

  // A new job: fn applied to the tuple `args`. (Inlined: a submit's common path.)
  template <class T, class Fn, class Args>
  [[gnu::always_inline]] auto make_job(Fn&& fn, Args&& args) {
    boost::intrusive_ptr j(new job_impl<T, std::decay_t<Fn>, std::decay_t<Args>>(
        std::forward<Fn>(fn), std::forward<Args>(args)));
    j->id = submitted_++;
    ++alive_;
    progress_->record(progress::event::pulled);
    return j;
  }

  // Queues a job: `placed` if it holds a place (ready to run), else it waits for one.
  template <class T, class Fn, class Args>
  [[gnu::always_inline]] job<T> enqueue(boost::intrusive_ptr<job_impl<T, Fn, Args>> j,
                                        bool placed) {
    (placed ? ready_ : pending_).push_back(j);
    if (placed) wake_worker();
    return job<T>(std::move(j));
  }

  // A worker is about to look at ready_ (returning_), or one is woken or spawned.
  [[gnu::always_inline]] void wake_worker() {
    if (ready_.size() <= returning_) return;
    if (!idle_workers_.empty()) {
      ++returning_;
      idle_workers_.complete_front();
    } else if (workers_alive_ < places_) {
      spawn_worker();
    }
    // Else every worker is busy and each takes a ready job when it is done.
  }

  void spawn_worker() {
    std::size_t id = workers_ctx_.size();
    if (!exited_workers_.empty()) {
      id = exited_workers_.back();
      exited_workers_.pop_back();
    }
    if (id == workers_ctx_.size())
      workers_ctx_.push_back(
          std::make_unique<worker_slot>(std::make_shared<worker_context<Clock>>(ex_)));
    ++workers_alive_;
    ++returning_;  // it will look at ready_ when it starts
    boost::asio::post(ex_, [self = this->shared_from_this(), id] {
      auto& s = *self;
      boost::asio::co_spawn(
          s.ex_, s.worker(id),
          boost::asio::bind_cancellation_slot(
              s.workers_ctx_[id]->ctx->signal.slot(), [self, id](std::exception_ptr) mutable {
                auto& s = *self;
                s.exited_workers_.push_back(id);
                --s.workers_alive_;
                // Asio is still inside this worker's frame: let the state
                // die later, if last.
                boost::asio::post(s.ex_, [keep = std::move(self)] {});
              }));
    });
  }

  // Gives a freed place to the next job or submitter, or back to the pool.
  [[gnu::always_inline]] void release_place() {
    if (!stopping_ && !pending_.empty() && in_use_ <= places_) {
      ready_.push_back(pending_.pop_front());
      wake_worker();
    } else {
      --in_use_;
      // Waiting submitters get the free places once every ready job has started (else the
      // worker that takes the last one hands them over). Until then a worker is about to take
      // the next ready job: waking a submitter for each place would switch to it and back
      // once per job, where this switches once per batch.
      if (ready_.empty()) resume_submitters();
    }
  }

  // Each waiting submitter in turn gets a free place and resumes inside this call (a producer
  // and a worker hand off without a trip through the executor's queue), queues its job and
  // goes on submitting while places remain.
  void resume_submitters() {
    while (!stopping_ && in_use_ < places_ && !waiting_submitters_.empty()) {
      ++in_use_;  // the place handed over
      waiting_submitters_.complete_front_inline();
    }
  }

  [[gnu::always_inline]] void finish_job(job_base& j, std::exception_ptr&& error, bool placed) {
    j.st = job_base::state::done;
    j.signal = nullptr;
    if (error) j.error = std::move(error);                // (a job's error starts null)
    if (!j.waiters.empty()) j.waiters.fail_all(nullptr);  // (no error temporary per job)
    if (placed) release_place();
    if (--alive_ == 0) idle_waiters_.fail_all(nullptr);
  }

  void apply(failure_policy::action a) noexcept {
    if (a != failure_policy::action::go_on) stop(a == failure_policy::action::stop_and_cancel);
  }

  void fail_scope(std::exception_ptr e) {
    policy_.set_first_error(std::move(e));
    stop(true);
  }

  // The outcome of a job that ran.
  [[gnu::always_inline]] void job_ended(job_base& j, std::exception_ptr&& error, bool started) {
    if (!started) {
      // Cancelled while it waited for a limit.
      progress_->record(progress::event::pulled_cancelled);
      if (!j.cancel_requested) error = closed_error();
    } else if (!error) {
      progress_->record(progress::event::succeeded);
      if (opts_.errors == error_policy::halt) apply(policy_.on_success());
    } else if (j.cancel_requested) {
      progress_->record(progress::event::cancelled);
    } else if (stopping_ && is_cancellation(error)) {
      progress_->record(progress::event::cancelled);
      error = closed_error();
    } else {
      progress_->record(progress::event::failed);
      apply(policy_.on_failure(j.id, error, j.attempts));
    }
    finish_job(j, std::move(error), true);
  }

  struct retry_hooks {
    scope_state& s;
    held_limits<Clock>& held;
    bool stopping() const noexcept { return s.stopping_; }
    void release() noexcept { held.release(); }
    boost::asio::awaitable<void> reacquire() { co_await s.limits_.acquire(held, s.progress_); }
  };

  boost::asio::awaitable<void> worker(std::size_t id) {
    auto& slot = *workers_ctx_[id];
    auto& w = *slot.ctx;
    held_limits<Clock> held;  // a job's limits, released when it ends
    try {
      while (!closed_) {
        if (ready_.empty()) {
          --returning_;
          co_await idle_workers_.wait(0, nullptr, boost::asio::deferred);
          continue;  // the waker counted this worker in returning_ (close() did not)
        }
        --returning_;
        auto j = ready_.pop_front();
        // Every ready job has started: places freed meanwhile go to waiting submitters.
        if (ready_.empty()) resume_submitters();
        if (j->cancel_requested) {
          ++returning_;
          progress_->record(progress::event::pulled_cancelled);
          finish_job(*j, cancelled_error(), true);
          continue;
        }
        slot.busy = true;
        j->st = job_base::state::running;
        j->signal = &w.signal;
        std::exception_ptr error;
        bool started = false;
        try {
          if (needs_demand_) j->demand_of(opts_, held.cost, held.key);
          if (limited_ && !limits_.try_acquire(held)) co_await limits_.acquire(held, progress_);
          progress_->record(progress::event::started);
          started = true;
          if (attempts_) {
            auto attempt = [&] { return j->attempt(); };
            retry_hooks hooks{*this, held};
            try {
              co_await run_attempts(w, opts_, attempt, hooks);
            } catch (...) {
              error = std::current_exception();
            }
            j->attempts = w.attempts;
          } else {
            j->attempts = 1;
            co_await j->attempt();
          }
        } catch (...) {
          error = std::current_exception();
        }
        if (limited_) held.release();
        slot.busy = false;
        const bool reset = j->cancel_requested || stopping_;
        ++returning_;  // back to ready_ right after the hand-off below
        job_ended(*j, std::move(error), started);
        // A cancellation aimed at the job also marked this coroutine: clear it.
        if (reset) co_await boost::asio::this_coro::reset_cancellation_state();
      }
    } catch (...) {
      // Cancelled while idle: the scope is closing.
    }
    co_await boost::asio::this_coro::reset_cancellation_state();
  }

  boost::asio::any_io_executor ex_;
  options opts_;
  bool attempts_;
  failure_policy policy_;
  sluice::progress own_progress_;
  sluice::progress* progress_;
  run_limits<Clock> limits_;
  bool limited_;       // limits_.any()
  bool needs_demand_;  // options.cost or options.key

  std::size_t places_;
  std::size_t in_use_ = 0;
  wait_queue<char> waiting_submitters_;
  job_queue ready_;    // hold a place, wait for a worker
  job_queue pending_;  // spawned beyond capacity: wait for a place

  std::vector<std::unique_ptr<worker_slot>> workers_ctx_;
  std::vector<std::size_t> exited_workers_;  // slots free for a new worker
  wait_queue<char> idle_workers_;
  std::size_t returning_ = 0;  // workers about to look at ready_
  std::size_t workers_alive_ = 0;

  std::size_t submitted_ = 0;
  std::size_t alive_ = 0;
  wait_queue<char> idle_waiters_;
  bool stopping_ = false;
  bool cancelled_ = false;
  bool closed_ = false;
  boost::asio::basic_waitable_timer<Clock> deadline_;
  std::chrono::nanoseconds deadline_ns_{0};
};

}  // namespace detail

/// Structured concurrency for jobs submitted one at a time (coroexecutor's executor, with
/// strong ownership, no token leak and explicit error policies).
///
/// Options: max_at_once (the capacity, >= 1), max_per_second and burst (job starts), errors
/// (fail_fast, keep_going, halt), timeout and retry (per job), limiter / rate_limiter /
/// progress. An optional deadline bounds the whole scope.
///
/// Not thread-safe: the scope, its jobs and their handles live on the scope's executor (one
/// thread, or a strand).
///
/// Prefer with_scope, which joins when the body ends. A scope object used directly must be
/// joined (or run()) before it is destroyed; its destructor cancels the jobs still running
/// and does not wait for them.
///
///     co_await sluice::with_scope({.max_at_once = 16}, [&](sluice::task_scope& s)
///                                     -> asio::awaitable<void> {
///       for (auto& line : lines) co_await s.submit(process, line);  // waits at capacity
///     });                                                          // joins; rethrows
template <class Clock = std::chrono::steady_clock>
class basic_task_scope {
  using state = detail::scope_state<Clock>;

 public:
  /// Throws std::invalid_argument for invalid options or max_at_once 0.
  basic_task_scope(boost::asio::any_io_executor ex, const options& opts,
                   std::chrono::nanoseconds deadline = {})
      : st_(std::make_shared<state>(std::move(ex), opts, deadline)) {
    st_->open();
  }
  basic_task_scope(const basic_task_scope&) = delete;
  basic_task_scope& operator=(const basic_task_scope&) = delete;
  ~basic_task_scope() { st_->close(); }

  /// Submits fn(args...) (returning asio::awaitable<T>; fn and args are copied into the
  /// job), waiting while the scope is at capacity. Throws scope_closed once the scope has
  /// stopped. Cancelling the wait submits nothing.
  ///
  /// An Asio asynchronous operation with the signature void(std::exception_ptr, job<T>),
  /// launched once: `co_await scope.submit(fn)` awaits it without a coroutine frame of its
  /// own, and with a free place the caller goes on without being suspended;
  /// `scope.submit(fn)(token)` launches it with any completion token (`asio::use_awaitable`
  /// makes an awaitable, `asio::deferred` a deferred operation). Await it before the scope
  /// ends.
  template <class Fn, class... Args>
  [[nodiscard]] auto submit(Fn fn, Args... args) {
    return st_->submit(std::move(fn), std::move(args)...);
  }

  /// Submits without waiting: beyond capacity the job is queued (and held in memory) until
  /// a place frees. For jobs that fan out into the scope they run in, where waiting for a
  /// place could wait for themselves. Queued jobs start before waiting submitters.
  template <class Fn, class... Args>
  job<detail::job_result_t<Fn, Args...>> spawn(Fn fn, Args... args) {
    return st_->spawn(std::move(fn), std::move(args)...);
  }

  /// fn(input) for every input (a range or a stream, pulled lazily), as jobs of this scope;
  /// results in input order. At most max_at_once jobs are submitted ahead of the consumer.
  /// A failed job's error is rethrown by next() at its place (and handled by the scope's
  /// policy as any job's). Destroying the stream cancels its jobs.
  template <class Fn, class R>
  auto map(Fn fn, R&& inputs);

  /// Waits until every job (including ones submitted meanwhile) has ended, then throws what
  /// the policy says: the first failure (fail_fast), the deadline's timeout_error, or
  /// task_errors after a fail halt; keep_going returns (see errors()). Cancelling the caller
  /// cancels every job, still waits, and throws operation_aborted. The scope stays usable.
  boost::asio::awaitable<void> join() {
    auto s = st_;
    // Asio throws from a co_await once the caller is cancelled: not from this one.
    const bool throws = co_await boost::asio::this_coro::throw_if_cancelled();
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    co_await wait_idle(*s);
    co_await boost::asio::this_coro::throw_if_cancelled(throws);
    s->rethrow();
  }

  /// Runs body(*this) (returning an awaitable), then joins. If the body throws, every job is
  /// cancelled and awaited and the body's exception is rethrown (the jobs' failures stay in
  /// errors()); scope_closed from this scope does not count as the body's exception.
  template <class Body>
  auto run(Body body) -> boost::asio::awaitable<
      typename std::invoke_result_t<Body&, basic_task_scope&>::value_type> {
    using R = typename std::invoke_result_t<Body&, basic_task_scope&>::value_type;
    auto s = st_;
    std::exception_ptr body_error;
    bool closed_by_scope = false;  // the body only met the scope's own stop
    std::optional<std::conditional_t<std::is_void_v<R>, char, R>> result;
    try {
      if constexpr (std::is_void_v<R>) {
        co_await body(*this);
        result.emplace();
      } else {
        result.emplace(co_await body(*this));
      }
    } catch (const scope_closed& e) {
      body_error = std::current_exception();
      closed_by_scope = e.scope() == s.get();
    } catch (...) {
      body_error = std::current_exception();
    }
    // Asio throws from a co_await once the caller is cancelled, which would leave before the
    // jobs end: the waits below must not.
    const bool throws = co_await boost::asio::this_coro::throw_if_cancelled();
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    if (body_error && !closed_by_scope) {
      s->stop(true);
      co_await wait_idle(*s);
      co_await boost::asio::this_coro::throw_if_cancelled(throws);
      std::rethrow_exception(body_error);
    }
    co_await wait_idle(*s);
    co_await boost::asio::this_coro::throw_if_cancelled(throws);
    s->rethrow();
    if constexpr (!std::is_void_v<R>) {
      // Halted on success or done before the body produced its value: there is none.
      if (!result) std::rethrow_exception(body_error);
      co_return std::move(*result);
    }
  }

  /// Cancels every job; submit() throws scope_closed from now on.
  void cancel() noexcept { st_->cancel(); }

  /// Every failure so far as (job id, error, attempts), in completion order. Under
  /// keep_going and halt this is how failures are seen; after a body exception, the jobs'
  /// failures that it suppressed.
  [[nodiscard]] const std::vector<task_error>& errors() const noexcept { return st_->errors(); }

  /// The scope's counters (options::progress if one was given).
  [[nodiscard]] sluice::progress& counters() noexcept { return st_->counters(); }

  /// Changes the capacity (max_at_once) while jobs run and submitters wait: raising it
  /// starts queued jobs and admits waiting submitters at once; lowering it takes effect as
  /// jobs end (none is cancelled). Throws std::invalid_argument when capacity is 0.
  void set_capacity(std::size_t capacity) { st_->set_capacity(capacity); }
  [[nodiscard]] std::size_t capacity() const noexcept { return st_->opts().max_at_once; }

 private:
  template <class C, class T, class Source, class Fn>
  friend class detail::scope_map;

  // Waits for the jobs even if the caller is already cancelled (then the scope is cancelled
  // first), so that no job outlives the wait. The caller has turned throw_if_cancelled off.
  static boost::asio::awaitable<void> wait_idle(state& s) {
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    if (cs.cancelled() != boost::asio::cancellation_type::none) s.cancel();
    co_await s.wait_idle();
  }

  std::shared_ptr<state> st_;
};

using task_scope = basic_task_scope<>;

/// Creates a task_scope on the caller's executor, runs body(scope) in it and joins (see
/// basic_task_scope::run). Returns the body's result.
///
///     auto n = co_await sluice::with_scope({.max_at_once = 8, .errors = keep_going},
///         [&](sluice::task_scope& s) -> asio::awaitable<int> { ... });
template <class Clock = std::chrono::steady_clock, class Body>
auto with_scope(options opts, Body body, std::chrono::nanoseconds deadline = {})
    -> boost::asio::awaitable<
        typename std::invoke_result_t<Body&, basic_task_scope<Clock>&>::value_type> {
  basic_task_scope<Clock> scope(co_await boost::asio::this_coro::executor, opts, deadline);
  co_return co_await scope.run(std::move(body));
}

namespace detail {

/// task_scope::map's stream: submits ahead of the consumer, yields in input order.
template <class Clock, class T, class Source, class Fn>
class scope_map final : public stream<T>::impl {
 public:
  template <class Scope>
  scope_map(Scope& scope, Source src, Fn fn)
      : st_(scope.st_),
        src_(std::move(src)),
        fn_(std::make_shared<Fn>(std::move(fn))),
        ahead_(st_->opts().max_at_once) {}

  boost::asio::awaitable<std::optional<T>> next() override {
    if (!opened_) {
      src_.open();
      opened_ = true;
    }
    while (window_.size() < ahead_ && !ended_) {
      std::optional<typename Source::holder> item;
      if constexpr (Source::is_async)
        item = co_await src_.pull();
      else if (!src_.exhausted())
        item.emplace(src_.take());
      if (!item) {
        ended_ = true;
        break;
      }
      // (Named: GCC 12 mishandles a lambda temporary inside a co_await expression.)
      auto call = [fn = fn_](typename Source::holder& h) { return (*fn)(Source::arg(h)); };
      auto handle = co_await st_->submit(std::move(call), std::move(*item));
      window_.push_back(std::move(handle));
    }
    if (window_.empty()) co_return std::nullopt;
    auto h = std::move(window_.front());
    window_.pop_front();
    co_return co_await h.result();
  }

  void cancel() noexcept override {
    for (auto& h : window_) h.cancel();
    ended_ = true;
  }

  boost::asio::awaitable<void> close() override {
    cancel();
    while (!window_.empty()) {
      auto h = std::move(window_.front());
      window_.pop_front();
      try {
        co_await h.result();
      } catch (...) {
      }
    }
  }

  ~scope_map() override { cancel(); }

 private:
  std::shared_ptr<scope_state<Clock>> st_;
  Source src_;
  std::shared_ptr<Fn> fn_;  // shared with the jobs, which may outlive the stream
  std::size_t ahead_;
  bool opened_ = false;
  bool ended_ = false;
  std::deque<job<T>> window_;
};

}  // namespace detail

template <class Clock>
template <class Fn, class R>
auto basic_task_scope<Clock>::map(Fn fn, R&& inputs) {
  auto src = detail::make_source(std::forward<R>(inputs));
  using source = decltype(src);
  using T = detail::task_result_t<source, Fn>;
  static_assert(!std::is_void_v<T>, "task_scope::map: fn must return awaitable<T> with a value");
  return stream<T>(std::make_shared<detail::scope_map<Clock, T, source, Fn>>(*this, std::move(src),
                                                                             std::move(fn)));
}

}  // namespace sluice
