// sluice::outcome<T> is what a task ended with: a value or the exception it threw. It is
// what run_bounded yields, and what sluice::capture turns any task's result into, so that a
// run can go on past failures and the caller still sees each one.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <exception>
#include <functional>
#include <type_traits>
#include <utility>
#include <variant>

namespace sluice {

namespace detail {
struct void_value {};
}  // namespace detail

/// A value or an exception. outcome<void> holds nothing or an exception.
template <class T>
class outcome {
 public:
  using value_type = T;
  using stored_type = std::conditional_t<std::is_void_v<T>, detail::void_value, T>;

  outcome() requires std::is_void_v<T> : v_(std::in_place_index<0>) {}
  template <class U = stored_type>
  outcome(U&& value) requires(!std::is_void_v<T> && std::is_constructible_v<stored_type, U>)
      : v_(std::in_place_index<0>, std::forward<U>(value)) {}
  outcome(std::exception_ptr error) : v_(std::in_place_index<1>, std::move(error)) {}

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  /// The exception, or null.
  [[nodiscard]] std::exception_ptr error() const noexcept {
    return has_value() ? nullptr : std::get<1>(v_);
  }
  /// The value; rethrows the exception if there is one.
  decltype(auto) value() & {
    rethrow();
    if constexpr (!std::is_void_v<T>) return (std::get<0>(v_));
  }
  decltype(auto) value() && {
    rethrow();
    if constexpr (!std::is_void_v<T>) return std::move(std::get<0>(v_));
  }
  decltype(auto) value() const& {
    rethrow();
    if constexpr (!std::is_void_v<T>) return (std::get<0>(v_));
  }

 private:
  void rethrow() const {
    if (!has_value()) std::rethrow_exception(std::get<1>(v_));
  }
  std::variant<stored_type, std::exception_ptr> v_;
};

/// Wraps a task function so that it never throws: its awaitable<T> becomes
/// awaitable<outcome<T>>. Cancellation is captured too (as operation_aborted).
///
///     auto s = sluice::amap(sluice::capture(fetch), urls, {.max_at_once = 8});
///     while (auto r = co_await s.next()) if (!*r) log(r->error());
template <class Fn>
auto capture(Fn fn) {
  return [fn = std::move(fn)]<class... Args>(Args&&... args) mutable
         -> boost::asio::awaitable<
             outcome<typename std::invoke_result_t<Fn&, Args&&...>::value_type>> {
    using T = typename std::invoke_result_t<Fn&, Args&&...>::value_type;
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::invoke(fn, std::forward<Args>(args)...);
        co_return outcome<T>{};
      } else {
        co_return outcome<T>{co_await std::invoke(fn, std::forward<Args>(args)...)};
      }
    } catch (...) {
      co_return outcome<T>{std::current_exception()};
    }
  };
}

}  // namespace sluice
