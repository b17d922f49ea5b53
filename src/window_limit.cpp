#include "sluice/window_limit.hpp"

#include "sluice/detail/number_text.hpp"

namespace sluice {

std::string window_limit::describe() const {
  const auto seconds = [](duration d) {
    return detail::number_text(std::chrono::duration<double>(d).count());
  };
  std::string text = "window " + std::to_string(w_.capacity()) + "/" + seconds(w_.window()) + "s";
  if (w_.min_gap().count() > 0) text += " gap " + seconds(w_.min_gap()) + "s";
  return text;
}

}  // namespace sluice
