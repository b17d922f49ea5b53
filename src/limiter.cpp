#include "sluice/limiter.hpp"

#include <boost/asio/deferred.hpp>

#include <stdexcept>
#include <string>

namespace sluice {

void permit::give_back() noexcept {
  std::exchange(owner_, nullptr)->release(std::exchange(count_, 0));
}

limiter::limiter(std::size_t capacity) : capacity_(capacity) {
  if (capacity == 0) throw std::invalid_argument("limiter capacity must be >= 1, got 0");
}

void limiter::check_request(std::size_t n) const {
  if (n == 0) throw std::invalid_argument("limiter::acquire: n must be >= 1, got 0");
  if (n > capacity_)
    throw std::invalid_argument("limiter::acquire: n = " + std::to_string(n) +
                                " exceeds the capacity " + std::to_string(capacity_));
}

boost::asio::awaitable<permit> limiter::acquire(std::size_t n) {
  check_request(n);
  if (waiters_.empty() && in_use_ + n <= capacity_) {
    in_use_ += n;
    co_return permit{this, n};
  }
  // serve() moves the permits into in_use_ before it completes this waiter.
  co_await waiters_.wait(n, this, boost::asio::deferred);
  co_return permit{this, n};
}

permit limiter::try_acquire(std::size_t n) {
  check_request(n);
  if (!waiters_.empty() || in_use_ + n > capacity_) return {};
  in_use_ += n;
  return permit{this, n};
}

void limiter::set_capacity(std::size_t capacity) {
  if (capacity == 0) throw std::invalid_argument("limiter capacity must be >= 1, got 0");
  capacity_ = capacity;
  serve();
}

void limiter::release(std::size_t n) noexcept {
  in_use_ -= n;
  serve();
}

void limiter::on_cancelled(const std::size_t&) {
  // The cancelled waiter may have blocked smaller requests behind it.
  serve();
}

void limiter::serve() noexcept {
  while (!waiters_.empty()) {
    const std::size_t n = waiters_.front()->data;
    if (n > capacity_) {
      waiters_.complete_front(std::make_exception_ptr(std::invalid_argument(
          "limiter: a waiter asked for " + std::to_string(n) +
          " permits but the capacity was lowered to " + std::to_string(capacity_))));
      continue;
    }
    if (in_use_ + n > capacity_) return;
    in_use_ += n;
    waiters_.complete_front();
  }
}

}  // namespace sluice
