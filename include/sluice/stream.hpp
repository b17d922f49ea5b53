// sluice::stream<T> is a pull-based asynchronous sequence of results (what amap and
// run_bounded return). Unlike an Asio channel it owns the tasks that produce it: taking results
// slowly pauses them (backpressure), and destroying the stream cancels them.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <utility>

namespace sluice {

/// A move-only handle on a running producer of T values.
///
/// `co_await s.next()` yields the next value, or std::nullopt at the end; it rethrows the
/// producer's error once the values produced before it are taken. One consumer at a time.
/// Destroying the stream cancels the producer's tasks without waiting for them; `co_await
/// s.close()` cancels and waits until every one has finished.
///
///     auto s = sluice::amap(fetch, urls, {.max_at_once = 8});
///     while (auto page = co_await s.next()) store(*page);
template <class T>
class stream {
 public:
  using value_type = T;

  /// What a producer implements. sluice's runners are the producers; users rarely are.
  class impl {
   public:
    virtual boost::asio::awaitable<std::optional<T>> next() = 0;
    virtual void cancel() noexcept = 0;
    virtual boost::asio::awaitable<void> close() = 0;
    virtual ~impl() = default;
  };

  explicit stream(std::shared_ptr<impl> p) : impl_(std::move(p)) {}
  stream(stream&&) noexcept = default;
  stream& operator=(stream&& other) noexcept {
    if (this != &other) {
      if (impl_) impl_->cancel();
      impl_ = std::move(other.impl_);
    }
    return *this;
  }
  ~stream() {
    if (impl_) impl_->cancel();
  }

  /// Suspends until a value is ready or the producer ended. The first call starts the
  /// producer on the caller's executor. Cancelling a next() cancels the whole stream: it
  /// throws operation_aborted once every task has finished.
  [[nodiscard]] boost::asio::awaitable<std::optional<T>> next() {
    auto keep = impl_;
    co_return co_await keep->next();
  }

  /// Cancels the producer as destroying the stream does, without waiting for its tasks.
  void cancel() noexcept {
    if (impl_) impl_->cancel();
  }

  /// Cancels the producer and waits until all its tasks have finished.
  [[nodiscard]] boost::asio::awaitable<void> close() {
    auto keep = impl_;
    co_await keep->close();
  }

 private:
  std::shared_ptr<impl> impl_;
};

/// True for sluice::stream<T>.
template <class S>
inline constexpr bool is_stream_v = false;
template <class T>
inline constexpr bool is_stream_v<stream<T>> = true;

}  // namespace sluice
