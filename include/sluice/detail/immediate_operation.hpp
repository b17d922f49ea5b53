// An asynchronous operation that can often complete before its caller needs to wait (a free
// place in a task_scope, say). Awaited by an Asio coroutine with the fast paths on
// (detail/asio_internals.hpp), it asks first whether it can complete now, and then hands its
// result over without suspending the coroutine; otherwise, or launched with any other
// completion token, or on the portable path, it is an ordinary Asio operation.
#pragma once

#include "sluice/detail/asio_internals.hpp"

#include <boost/asio/async_result.hpp>

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
