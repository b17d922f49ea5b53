// sluice::when_all runs several awaitables (or asynchronous operations) concurrently and returns
// all their results. Unlike Asio's awaitable operators (a && b) it takes any number of operands,
// does not cancel the others when one fails, and always waits for every operand before it returns
// or throws.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
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

namespace detail {

// A when_all operand: an awaitable<T>, or an asynchronous operation completing with
// (std::exception_ptr, T), such as batch_loader::load's.
template <class Op>
struct when_all_operand {
  using signature = boost::asio::completion_signature_of_t<Op>;
  template <class>
  struct value_of;
  template <class T>
  struct value_of<void(std::exception_ptr, T)> {
    using type = T;
  };
  using value_type = typename value_of<signature>::type;
  static Op&& deferred(const boost::asio::any_io_executor&, Op&& op) { return std::move(op); }
};
template <class T>
struct when_all_operand<boost::asio::awaitable<T>> {
  using value_type = T;
  static auto deferred(const boost::asio::any_io_executor& ex, boost::asio::awaitable<T>&& a) {
    return boost::asio::co_spawn(ex, std::move(a), boost::asio::deferred);
  }
};

}  // namespace detail

/// Runs the operands concurrently on the caller's executor and returns their values in
/// argument order. Every operand runs to completion; then the first exception in argument
/// order, if any, is rethrown. An operand is an awaitable<T> (T not void) or an asynchronous
/// operation completing with (std::exception_ptr, T), such as batch_loader::load(key).
///
///     auto [user, spouse] = co_await sluice::when_all(gen_user(id), gen_spouse(id));
template <class... Ops>
boost::asio::awaitable<std::tuple<typename detail::when_all_operand<Ops>::value_type...>> when_all(
    Ops... ops) {
  static_assert(sizeof...(Ops) > 0, "when_all needs at least one operand");
  using result = std::tuple<typename detail::when_all_operand<Ops>::value_type...>;
  auto ex = co_await boost::asio::this_coro::executor;
  auto results =
      co_await boost::asio::experimental::make_parallel_group(
          detail::when_all_operand<Ops>::deferred(ex, std::move(ops))...)
          .async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
  // results = (completion order, e_1, v_1, e_2, v_2, ...)
  co_return [&]<std::size_t... I>(std::index_sequence<I...>)->result {
    const std::array<std::exception_ptr, sizeof...(Ops)> errors{std::get<1 + 2 * I>(results)...};
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
    return result(std::move(std::get<2 + 2 * I>(results))...);
  }
  (std::index_sequence_for<Ops...>{});
}

}  // namespace sluice
