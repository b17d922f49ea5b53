// An asynchronous operation that can often complete before its caller needs to wait (a free
// place in a task_scope, say). Asio 1.26 suspends a coroutine for every operation it
// co_awaits and resumes it through the operation's handler, even when the result is known at
// once: about 150 instructions for nothing. Awaited by an Asio coroutine, an
// immediate_operation asks first whether it can complete now, and then hands its result over
// without suspending the coroutine; otherwise, or launched with any other completion token,
// it is an ordinary Asio operation.
#pragma once

#include "sluice/detail/asio_compat.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/version.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace sluice::detail {

/// `Impl` is what the operation does. It completes with (std::exception_ptr, R):
///
///     using result_type = R;
///     std::optional<R> try_now();               // the result, if it can complete at once
///                                               // (else no effect; it may throw)
///     template <class Handler> void start(Handler&& handler) &&;  // the operation proper
///
/// One-shot: launch it once, as an rvalue (`co_await op_maker()`, `op_maker()(token)`).
template <class Impl>
class immediate_operation {
 public:
  using result_type = typename Impl::result_type;
  using signature = void(std::exception_ptr, result_type);

  explicit immediate_operation(Impl impl) : impl_(std::move(impl)) {}

  template <boost::asio::completion_token_for<signature> CompletionToken>
  auto operator()(CompletionToken&& token) && {
    return boost::asio::async_initiate<CompletionToken, signature>(
        [](auto&& handler, Impl&& impl) { std::move(impl).start(std::move(handler)); }, token,
        std::move(impl_));
  }

  /// The result at once, if the operation can complete now (see Impl::try_now).
  std::optional<result_type> try_now() { return impl_.try_now(); }

 private:
  Impl impl_;
};

}  // namespace sluice::detail

// Asio 1.26 (Boost 1.81) awaits an operation through detail::awaitable_async_op, whose
// await_ready() is always false. For an immediate_operation it asks try_now() first. The rest
// is what the general template does: once the coroutine is suspended, the operation is
// launched with the handler that resumes it. Other Asio versions await it as any operation.
#if BOOST_ASIO_VERSION == 102600
namespace boost::asio::detail {

template <class Signature, class Impl, class Executor>
class awaitable_async_op<Signature, sluice::detail::immediate_operation<Impl>, Executor> {
  using operation = sluice::detail::immediate_operation<Impl>;
  using handler_type = awaitable_async_op_handler<Signature, Executor>;

 public:
  awaitable_async_op(operation&& op, awaitable_frame_base<Executor>* frame)
      : op_(op), frame_(frame) {}

  bool await_ready() {
    now_ = op_.try_now();
    return now_.has_value();
  }

  void await_suspend(coroutine_handle<void>) {
    frame_->after_suspend(
        [](void* arg) {
          auto* self = static_cast<awaitable_async_op*>(arg);
          std::move(self->op_)(handler_type(self->frame_->detach_thread(), self->result_));
        },
        this);
  }

  auto await_resume() {
    if (now_) return std::move(*now_);
    return handler_type::resume(result_);
  }

 private:
  operation& op_;
  awaitable_frame_base<Executor>* frame_;
  typename handler_type::result_type result_{};
  std::optional<typename operation::result_type> now_;
};

}  // namespace boost::asio::detail
#endif
