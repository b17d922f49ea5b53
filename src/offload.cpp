#include "sluice/offload.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace sluice {
namespace {

std::size_t cores() noexcept {
  return std::max<std::size_t>(1, std::thread::hardware_concurrency());
}

}  // namespace

executor_pool& blocking_pool() {
  // Function-local statics: made on first use, their threads joined at exit.
  static executor_pool pool(10 * cores());
  return pool;
}

executor_pool& cpu_pool() {
  static executor_pool pool(cores());
  return pool;
}

std::size_t blocking_pool_size() noexcept {
  return blocking_pool().default_threads();
}

void set_blocking_pool_size(std::size_t threads) {
  if (threads == 0) throw std::invalid_argument("set_blocking_pool_size: threads must be >= 1");
  if (blocking_pool().initialized())
    throw std::logic_error(
        "set_blocking_pool_size: the blocking pool already exists (blocking_pool().initialize(n) "
        "replaces it)");
  blocking_pool().set_default_threads(threads);
}

}  // namespace sluice
