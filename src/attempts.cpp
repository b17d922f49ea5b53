#include "sluice/detail/attempts.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace sluice::detail {

bool default_retryable(const std::exception_ptr& error) noexcept {
  return !is_cancellation(error);
}

double default_jitter() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

std::chrono::nanoseconds backoff_delay(const retry_policy& policy, std::size_t made) {
  // base * 2^(made-1), saturating at cap (doubling past cap cannot come back under it).
  auto ceiling = policy.base;
  for (std::size_t i = 1; i < made && ceiling < policy.cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, policy.cap);
  const double j = policy.jitter ? policy.jitter() : default_jitter();
  const double f = std::clamp(j, 0.0, 1.0);
  return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(
      std::floor(f * static_cast<double>(ceiling.count()))));
}

}  // namespace sluice::detail
