// sluice::limiter bounds how many tasks run at once: a FIFO-fair asynchronous semaphore for
// coroutines. Unlike std::counting_semaphore it never blocks a thread, hands out RAII permits,
// takes n permits in one atomic request, and its capacity can change while it is in use.
#pragma once

#include "sluice/detail/wait_queue.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <utility>

namespace sluice {

class limiter;

/// Held permits of a limiter; releases them when destroyed. Move-only.
class [[nodiscard]] permit {
 public:
  permit() = default;
  permit(permit&& other) noexcept
      : owner_(std::exchange(other.owner_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  permit& operator=(permit&& other) noexcept {
    if (this != &other) {
      release();
      owner_ = std::exchange(other.owner_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  ~permit() { release(); }

  /// Gives the permits back now (waiters are served in order). Idempotent.
  void release() noexcept {
    if (owner_) give_back();
  }
  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  explicit operator bool() const noexcept { return owner_ != nullptr; }

 private:
  friend class limiter;
  permit(limiter* owner, std::size_t count) : owner_(owner), count_(count) {}
  void give_back() noexcept;
  limiter* owner_ = nullptr;
  std::size_t count_ = 0;
};

/// A FIFO-fair asynchronous semaphore.
///
/// Waiters are served strictly in arrival order: a request for many permits at the head is
/// not overtaken by later small ones. Not thread-safe: use it from one thread or strand, as
/// any Asio I/O object.
///
///     sluice::limiter db{8};
///     auto p = co_await db.acquire();   // suspends while 8 are held
///     co_await query();                 // p releases at scope exit
class limiter final : private detail::wait_owner<std::size_t> {
 public:
  /// Throws std::invalid_argument when capacity is 0.
  explicit limiter(std::size_t capacity);
  limiter(const limiter&) = delete;
  limiter& operator=(const limiter&) = delete;
  /// Waiters still queued complete with operation_aborted. Outstanding permits must not
  /// outlive the limiter.
  ~limiter() = default;

  /// Takes n permits, suspending until they are free and every earlier waiter was served.
  /// Resumes on the caller's executor (never inside the release that freed the permits).
  /// Cancellation (any type) removes the waiter from the queue and throws
  /// boost::system::system_error(operation_aborted); no permit is taken.
  /// Throws std::invalid_argument when n is 0 or above the capacity.
  [[nodiscard]] boost::asio::awaitable<permit> acquire(std::size_t n = 1);

  /// Takes n permits if they are free now and nobody waits; an empty permit otherwise.
  [[nodiscard]] permit try_acquire(std::size_t n = 1);

  /// Changes the capacity. Raising it serves waiters at once; lowering it takes effect as
  /// permits come back. A waiter asking for more than the new capacity fails with
  /// std::invalid_argument. Throws std::invalid_argument when capacity is 0.
  void set_capacity(std::size_t capacity);

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Permits held now (may exceed capacity right after it was lowered).
  [[nodiscard]] std::size_t in_use() const noexcept { return in_use_; }
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  friend class permit;
  void release(std::size_t n) noexcept;
  void serve() noexcept;
  void check_request(std::size_t n) const;
  void on_cancelled(const std::size_t& n) override;

  std::size_t capacity_;
  std::size_t in_use_ = 0;
  detail::wait_queue<std::size_t> waiters_;
};

}  // namespace sluice
