// sluice::input_fn: a function of a task's input that options can hold without being a
// template (a task's cost, its key), checked against the run's input type when it is used.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace sluice {

/// A function from a task's input (of one type, fixed when it is made) to R.
///
///     .cost = sluice::per_input<Request>([](const Request& r) { return r.max_tokens; }),
///     .key = sluice::per_input<Request>([](const Request& r) { return r.tenant; }),
template <class R>
class input_fn {
 public:
  input_fn() = default;
  template <class Input, class F>
  input_fn(std::type_identity<Input>, F f)
      : fn_([f = std::move(f)](const void* in) -> R {
          return static_cast<R>(std::invoke(f, *static_cast<const Input*>(in)));
        }),
        type_(&typeid(Input)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(fn_); }

  /// Throws std::invalid_argument when the run's inputs are not of the type it was made for.
  template <class Input>
  R operator()(const Input& in) const {
    if (typeid(std::remove_cvref_t<Input>) != *type_)
      throw std::invalid_argument(std::string("options: a per-input function made for ") +
                                  type_->name() + " was given an input of type " +
                                  typeid(std::remove_cvref_t<Input>).name());
    return fn_(static_cast<const void*>(&in));
  }

 private:
  std::function<R(const void*)> fn_;
  const std::type_info* type_ = nullptr;
};

namespace detail {
template <class Input, class F>
struct per_input_maker {
  F f;
  template <class R>
  operator input_fn<R>() && {  // NOLINT: converts to whatever options field it is given to
    return input_fn<R>(std::type_identity<Input>{}, std::move(f));
  }
};
}  // namespace detail

/// Makes an input_fn of `f`, for inputs of type `Input` (the type the task function takes,
/// without const and reference).
template <class Input, class F>
detail::per_input_maker<Input, F> per_input(F f) {
  return {std::move(f)};
}

}  // namespace sluice
