#include "sluice/gcra_limit.hpp"

#include "sluice/detail/number_text.hpp"

#include <algorithm>
#include <stdexcept>

namespace sluice {

std::uint32_t gcra_limit::checked(std::uint64_t cost) const {
  if (cost == 0 || cost > g_.burst())
    throw std::invalid_argument("rate limit: a start of cost " + std::to_string(cost) +
                                " never fits a burst of " + std::to_string(g_.burst()));
  return static_cast<std::uint32_t>(cost);
}

void gcra_limit::settle(duration at, const demand& d, std::uint64_t actual) {
  for (std::uint64_t extra = actual > d.cost ? actual - d.cost : 0; extra > 0;) {
    const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::uint64_t>(extra, g_.burst()));
    g_.commit(at, n);
    extra -= n;
  }
}

void gcra_limit::set_rate(double rate) {
  g_.set_rate(rate);
  notify();
}

void gcra_limit::set_burst(std::uint32_t burst) {
  g_.set_burst(burst);
  notify();
}

std::string gcra_limit::describe() const {
  return "rate " + detail::number_text(g_.rate()) + "/s burst " + std::to_string(g_.burst());
}

}  // namespace sluice
