// An intrusive FIFO of suspended asynchronous operations, each completed with an
// std::exception_ptr (null on success). The building block of limiter, rate_limiter and the
// runners' streams: no allocation beyond the operation's own node (taken from the handler's
// associated allocator, else from the thread's block_cache), no moves of type-erased handlers.
#pragma once

#include "sluice/detail/block_cache.hpp"
#include "sluice/detail/complete_soon.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace sluice::detail {

/// The error an operation completes with when it is cancelled.
inline std::exception_ptr cancelled_error() {
  return std::make_exception_ptr(
      boost::system::system_error(boost::asio::error::operation_aborted));
}

/// A waiting operation. `Data` is what its owner needs to know about it (a permit count, an
/// arrival time...). Nodes are owned by the queue until completed.
template <class Data>
struct wait_node {
  wait_node* prev = nullptr;
  wait_node* next = nullptr;
  Data data{};
  // Completes the operation: unlinked already; destroys the node and resumes the handler
  // through its executor (posted, or dispatched when the completer allows it inline).
  void (*complete_fn)(wait_node*, std::exception_ptr, bool from_cancel, bool inline_ok) = nullptr;
  // Set while a cancellation handler is installed in the handler's slot.
  void* cancel_handler = nullptr;
};

/// The owner's reaction to a cancelled waiter: called after it has left the queue, or, for
/// a waiter queued with `cancel_mode::notify`, while it stays queued.
template <class Data>
struct wait_owner {
  virtual void on_cancelled(const Data& data) = 0;
  /// A new waiter has just been queued (its operation is suspended).
  virtual void on_queued() {}

 protected:
  ~wait_owner() = default;
};

/// What cancelling a waiter does.
enum class cancel_mode {
  complete,  // it leaves the queue at once and completes with operation_aborted
  notify,    // only the owner is told; the waiter stays until the owner completes it
};

template <class Data>
class wait_queue {
 public:
  using node = wait_node<Data>;

  wait_queue() = default;
  wait_queue(const wait_queue&) = delete;
  wait_queue& operator=(const wait_queue&) = delete;
  ~wait_queue() {
    if (head_) [[unlikely]]
      fail_all_cancelled();
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] node* front() const noexcept { return head_; }

  /// Completes the first waiter (successfully unless `error`). Its coroutine resumes later,
  /// through its own executor: never inside this call.
  void complete_front(std::exception_ptr error = nullptr) {
    node* n = head_;
    unlink(n);
    n->complete_fn(n, std::move(error), false, false);
  }

  /// Completes waiter `n`, wherever it is in the queue (a later waiter that may go first).
  void complete(node* n, std::exception_ptr error = nullptr) {
    unlink(n);
    n->complete_fn(n, std::move(error), false, false);
  }
  /// Completes the first waiter successfully, resuming it inside this call when it runs on
  /// the current thread's executor (Asio's dispatch), else through its executor. For a
  /// completer that is itself a coroutine with nothing left to protect: the resumed waiter may
  /// run to its next suspension before this returns.
  void complete_front_inline() {
    node* n = head_;
    unlink(n);
    n->complete_fn(n, nullptr, false, true);
  }

  /// complete_front_inline for every waiter.
  void complete_all_inline() {
    while (head_) complete_front_inline();
  }

  /// Completes every waiter with `error`.
  void fail_all(std::exception_ptr error) {
    while (head_) complete_front(error);
  }

  /// What a waiter's completion does by default: hands the error (or null) to the handler.
  struct pass_error {
    template <class Handler>
    void operator()(Handler&& h, std::exception_ptr error) {
      std::move(h)(std::move(error));
    }
  };

  /// Suspends the calling operation (completion signature void(std::exception_ptr)) as a
  /// new waiter at the back. `owner` is told when a waiter is cancelled; the waiter is then
  /// already out of the queue and completes with operation_aborted.
  ///
  /// With a `finish`, the operation has the completion signature `Signature`: when the waiter
  /// completes, `finish(handler, error)` is called instead of `handler(error)` and calls the
  /// handler with what it has to deliver (a value the waiter was waiting for, say).
  template <class Signature = void(std::exception_ptr), class CompletionToken,
            class Finish = pass_error>
  auto wait(Data data, wait_owner<Data>* owner, CompletionToken&& token,
            cancel_mode mode = cancel_mode::complete, Finish finish = {}) {
    return boost::asio::async_initiate<CompletionToken, Signature>(
        [this, owner, mode](auto handler, Data data, Finish finish) {
          using handler_type = decltype(handler);
          using op = operation<handler_type, Finish>;
          auto op_alloc = op_allocator<op>(handler);
          using op_alloc_t = decltype(op_alloc);
          op* o = std::allocator_traits<op_alloc_t>::allocate(op_alloc, 1);
          ::new (static_cast<void*>(o)) op(std::move(handler), std::move(finish));
          o->data = std::move(data);
          o->complete_fn = &op::do_complete;
          push_back(o);
          auto slot = boost::asio::get_associated_cancellation_slot(o->handler);
          if (slot.is_connected()) {
            o->cancel_handler = &slot.template emplace<canceller>(this, o, owner, mode);
          }
          if (owner) owner->on_queued();
        },
        token, std::move(data), std::move(finish));
  }

 private:
  // The allocator for an operation node: the handler's own, else the thread's block_cache
  // (coroutines have none), so that a wait costs no malloc in steady state, even with
  // thousands waiting (Asio's recycling allocator keeps two blocks per thread).
  template <class Op, class Handler>
  static auto op_allocator(const Handler& h) {
    auto alloc = boost::asio::get_associated_allocator(h, block_cache_allocator<void>());
    return typename std::allocator_traits<decltype(alloc)>::template rebind_alloc<Op>(alloc);
  }

  template <class Handler, class Finish>
  struct operation : node {
    operation(Handler&& h, Finish&& f) : handler(std::move(h)), finish(std::move(f)) {}
    Handler handler;
    [[no_unique_address]] Finish finish;

    static void do_complete(node* base, std::exception_ptr error, bool from_cancel,
                            bool inline_ok) {
      auto* self = static_cast<operation*>(base);
      auto slot = boost::asio::get_associated_cancellation_slot(self->handler);
      // Inside the canceller the slot must not be cleared (it would destroy the running
      // handler); the canceller disarms itself instead. Otherwise clear it before the node goes.
      if (self->cancel_handler && !from_cancel) slot.clear();
      Handler h(std::move(self->handler));
      Finish f(std::move(self->finish));
      auto op_alloc = op_allocator<operation>(h);
      self->~operation();
      std::allocator_traits<decltype(op_alloc)>::deallocate(op_alloc, self, 1);
      auto ex = boost::asio::get_associated_executor(h);
      if (inline_ok && runs_here(ex)) {
        // What dispatch would do, without wrapping the handler in a type-erased function.
        std::move(f)(std::move(h), std::move(error));
        return;
      }
      auto resume = [h = std::move(h), f = std::move(f), error = std::move(error)]() mutable {
        std::move(f)(std::move(h), std::move(error));
      };
      if (inline_ok)
        boost::asio::dispatch(ex, std::move(resume));
      else
        boost::asio::post(ex, std::move(resume));
    }
  };

  struct canceller {
    wait_queue* queue;
    node* n;
    wait_owner<Data>* owner;
    cancel_mode mode;
    canceller(wait_queue* q, node* nd, wait_owner<Data>* o, cancel_mode m)
        : queue(q), n(nd), owner(o), mode(m) {}
    void operator()(boost::asio::cancellation_type_t type) {
      if (!n || type == boost::asio::cancellation_type::none) return;
      if (mode == cancel_mode::notify) {
        // Told once; the node stays queued and is completed (and the slot cleared) normally.
        const Data data = std::exchange(n, nullptr)->data;
        if (owner) owner->on_cancelled(data);
        return;
      }
      node* target = std::exchange(n, nullptr);
      Data data = std::move(target->data);
      queue->unlink(target);
      target->complete_fn(target, cancelled_error(), true, false);
      if (owner) owner->on_cancelled(data);
    }
  };

  // (Out of line and cold: it builds an error, which formats a system_error message; inlined,
  // it would lengthen the destructor of every object that holds a queue.)
  [[gnu::noinline, gnu::cold]] void fail_all_cancelled() { fail_all(cancelled_error()); }

  void push_back(node* n) {
    n->prev = tail_;
    n->next = nullptr;
    if (tail_)
      tail_->next = n;
    else
      head_ = n;
    tail_ = n;
    ++size_;
  }

  void unlink(node* n) {
    if (n->prev)
      n->prev->next = n->next;
    else
      head_ = n->next;
    if (n->next)
      n->next->prev = n->prev;
    else
      tail_ = n->prev;
    n->prev = n->next = nullptr;
    --size_;
  }

  node* head_ = nullptr;
  node* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace sluice::detail
