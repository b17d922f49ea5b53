// A repair of Boost.Asio 1.81 (Asio 1.26), included wherever sluice co_awaits an operation
// that completes with (std::exception_ptr, T...).
//
// A coroutine may co_await an asynchronous operation itself (a deferred operation, say)
// instead of an awaitable made with use_awaitable: no coroutine frame is made for it. In Asio
// 1.26 the resumption of such an operation with the signature void(std::exception_ptr, T...)
// does not compile: it tests `*result` where it means `*result.ex_` (Asio 1.28 has the
// fix). This supplies the missing operator for exactly those result records, found by
// argument-dependent lookup where Asio instantiates the test.
#pragma once

#include <boost/asio/version.hpp>

#include <concepts>
#include <exception>

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
