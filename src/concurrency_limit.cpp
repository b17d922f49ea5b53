#include "sluice/concurrency_limit.hpp"

#include <algorithm>
#include <stdexcept>

namespace sluice {

namespace {
void check(std::uint64_t capacity) {
  if (capacity == 0) throw std::invalid_argument("concurrency limit: capacity must be >= 1");
}
}  // namespace

concurrency_limit::concurrency_limit(std::uint64_t capacity) : capacity_(capacity) {
  check(capacity);
}

limit::duration concurrency_limit::earliest(duration after, const demand& d) const {
  if (d.cost > capacity_)
    throw std::invalid_argument("concurrency limit: a task holding " + std::to_string(d.cost) +
                                " never fits a capacity of " + std::to_string(capacity_));
  if (held_ + d.cost > capacity_) return on_release;
  return std::max(after, hold_);
}

void concurrency_limit::release(duration, const demand& d) {
  held_ -= std::min(held_, d.cost);
  notify();
}

void concurrency_limit::hold_until(duration t) {
  hold_ = std::max(hold_, t);
}

void concurrency_limit::set_capacity(std::uint64_t capacity) {
  check(capacity);
  capacity_ = capacity;
  notify();  // more room, or a waiter that no longer fits fails
}

std::string concurrency_limit::describe() const {
  return "at once " + std::to_string(capacity_) + " (" + std::to_string(held_) + " held)";
}

}  // namespace sluice
