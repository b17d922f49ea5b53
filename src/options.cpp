#include "sluice/options.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace sluice {

void validate(const options& opts) {
  if (std::isnan(opts.max_per_second) || std::isinf(opts.max_per_second) || opts.max_per_second < 0)
    throw std::invalid_argument(
        "options.max_per_second must be a finite number >= 0 (0 = unlimited), got " +
        std::to_string(opts.max_per_second));
  if (opts.max_per_second > 0 && opts.max_per_second < 1e-6)
    throw std::invalid_argument("options.max_per_second must be >= 1e-6 when set, got " +
                                std::to_string(opts.max_per_second));
  if (opts.burst == 0) throw std::invalid_argument("options.burst must be >= 1, got 0");
}

}  // namespace sluice
