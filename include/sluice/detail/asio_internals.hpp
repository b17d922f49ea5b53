// Every use sluice makes of Boost.Asio's internals (namespace boost::asio::detail), in one
// place. Checked against Asio 1.26 (Boost 1.81), the version Debian 12 ships.
//
// 1. A repair (Asio < 1.28). A coroutine may co_await an asynchronous operation itself (a
//    deferred operation, say) instead of an awaitable made with use_awaitable: no coroutine
//    frame is made for it. In Asio 1.26 the resumption of such an operation with the signature
//    void(std::exception_ptr, T...) does not compile: it tests `*result` where it means
//    `*result.ex_` (Asio 1.28 has the fix). This supplies the missing operator for exactly
//    those result records, found by argument-dependent lookup where Asio instantiates the
//    test. It changes no behaviour, so the portable build keeps it on Asio 1.26.
//
// 2. A fast path (SLUICE_ASIO_FAST_PATHS, Asio 1.26 only): Asio awaits an operation through
//    detail::awaitable_async_op, whose await_ready() is always false, so a coroutine is
//    suspended and resumed through a handler even when the result is known at once (a free
//    place in a task_scope, say): about 150 instructions for nothing. The specialization below
//    asks an immediate_operation's try_now() first. It is what makes a task_scope submit to a
//    free place cost no suspension; docs/benchmarks.md ("The Asio fast path") says what it is
//    worth.
//
// 3. A fast path (SLUICE_ASIO_FAST_PATHS): resumes_a_coroutine<Handler> tells the handler of
//    an Asio coroutine awaiting an operation (a subclass of detail::awaitable_thread): the
//    operation's initiation runs inside that coroutine's thread of execution, so
//    detail::complete_soon may call the handler there without asking whether its executor runs
//    on this thread. On the portable path it is false for every handler, and complete_soon
//    asks (the answer is the same; the question costs a little).
//
// The CMake option SLUICE_ASIO_FAST_PATHS (ON by default on Boost 1.81, OFF on any other)
// sets the macro for the library and its users; the portable build (OFF) uses no Asio
// internal but the repair, and CI runs the whole suite that way (the asan preset).
#pragma once

#include <boost/asio/version.hpp>

#include <concepts>
#include <exception>

#ifndef SLUICE_ASIO_FAST_PATHS
#if BOOST_ASIO_VERSION == 102600
#define SLUICE_ASIO_FAST_PATHS 1
#else
#define SLUICE_ASIO_FAST_PATHS 0
#endif
#endif

#if SLUICE_ASIO_FAST_PATHS
static_assert(BOOST_ASIO_VERSION == 102600,
              "sluice's Asio fast paths were checked against Asio 1.26 (Boost 1.81) only: "
              "build with -DSLUICE_ASIO_FAST_PATHS=OFF (the portable path) on this version");
#endif

#if BOOST_ASIO_VERSION < 102800
namespace boost::asio::detail {

template <class Result>
requires requires(Result& r) {
  { *r.ex_ } -> std::same_as<std::exception_ptr&>;
  r.value_;
}
std::exception_ptr& operator*(Result& r) noexcept {
  return *r.ex_;
}

}  // namespace boost::asio::detail
#endif

#if SLUICE_ASIO_FAST_PATHS
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <optional>
#include <type_traits>
#include <utility>

namespace sluice::detail {
template <class Handler>
inline constexpr bool resumes_a_coroutine = std::is_base_of_v<
    boost::asio::detail::awaitable_thread<typename boost::asio::associated_executor<Handler>::type>,
    Handler>;
}  // namespace sluice::detail

namespace sluice::detail {
template <class Impl>
class immediate_operation;
}  // namespace sluice::detail

namespace boost::asio::detail {

// What the general template does, but await_ready() asks try_now(): once the coroutine is
// suspended, the operation is launched with the handler that resumes it.
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
  std::optional<typename Impl::result_type> now_;
};

}  // namespace boost::asio::detail
#else
namespace sluice::detail {
template <class Handler>
inline constexpr bool resumes_a_coroutine = false;
}  // namespace sluice::detail
#endif
