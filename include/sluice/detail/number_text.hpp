// A number as a limit's description shows it: %g (20, 0.5, 1e+06).
#pragma once

#include <cstdio>
#include <string>

namespace sluice::detail {

inline std::string number_text(double v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%g", v);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

}  // namespace sluice::detail
