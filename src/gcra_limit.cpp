#include "sluice/gcra_limit.hpp"

#include "sluice/detail/gcra_settle.hpp"
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
  detail::charge_extra(g_, at, d.cost, actual);
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
