#include "sluice/offload.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace sluice {
namespace {

std::size_t cores() noexcept {
  return std::max<std::size_t>(1, std::thread::hardware_concurrency());
}

std::atomic<std::size_t> blocking_size{0};  // 0: not set
std::atomic<bool> blocking_created{false};

}  // namespace

std::size_t blocking_pool_size() noexcept {
  const std::size_t n = blocking_size.load();
  return n ? n : 10 * cores();
}

void set_blocking_pool_size(std::size_t threads) {
  if (threads == 0) throw std::invalid_argument("set_blocking_pool_size: threads must be >= 1");
  if (blocking_created.load())
    throw std::logic_error("set_blocking_pool_size: the blocking pool already exists");
  blocking_size.store(threads);
}

boost::asio::thread_pool& blocking_pool() {
  // Function-local statics: made on first use, stopped and joined at exit.
  static boost::asio::thread_pool pool = [] {
    blocking_created.store(true);
    return boost::asio::thread_pool(blocking_pool_size());
  }();
  return pool;
}

boost::asio::thread_pool& cpu_pool() {
  static boost::asio::thread_pool pool(cores());
  return pool;
}

}  // namespace sluice
