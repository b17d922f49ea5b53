// sluice::when_all runs several awaitables concurrently and returns all their results. Unlike
// Asio's awaitable operators (a && b) it takes any number of operands, does not cancel the
// others when one fails, and always waits for every operand before it returns or throws.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <exception>
#include <tuple>
#include <utility>

namespace sluice {

/// Runs the awaitables concurrently on the caller's executor and returns their values in
/// argument order. Every operand runs to completion; then the first exception in argument
/// order, if any, is rethrown. Operands must return a value (awaitable<T>, T not void).
///
///     auto [user, spouse] = co_await sluice::when_all(gen_user(id), gen_spouse(id));
template <class... T>
boost::asio::awaitable<std::tuple<T...>> when_all(boost::asio::awaitable<T>... aws) {
  static_assert(sizeof...(T) > 0, "when_all needs at least one awaitable");
  auto ex = co_await boost::asio::this_coro::executor;
  auto results =
      co_await boost::asio::experimental::make_parallel_group(
          boost::asio::co_spawn(ex, std::move(aws), boost::asio::deferred)...)
          .async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
  // results = (completion order, e_1, v_1, e_2, v_2, ...)
  co_return [&]<std::size_t... I>(std::index_sequence<I...>)->std::tuple<T...> {
    const std::array<std::exception_ptr, sizeof...(T)> errors{std::get<1 + 2 * I>(results)...};
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
    return std::tuple<T...>(std::move(std::get<2 + 2 * I>(results))...);
  }
  (std::index_sequence_for<T...>{});
}

}  // namespace sluice
