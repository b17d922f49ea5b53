// A start that turned out to cost more than it was admitted with: the difference taken from a
// GCRA now, in pieces of at most its burst (GCRA keeps no history to correct, and gives back
// nothing for a start that cost less). Shared by gcra_limit and keyed_limit.
#pragma once

#include "sluice/gcra.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace sluice::detail {

inline void charge_extra(gcra& g, std::chrono::nanoseconds at, std::uint64_t estimated,
                         std::uint64_t actual) {
  for (std::uint64_t extra = actual > estimated ? actual - estimated : 0; extra > 0;) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(extra, g.burst()));
    g.commit(at, n);
    extra -= n;
  }
}

}  // namespace sluice::detail
