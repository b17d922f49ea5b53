// A thread pool under the caller's control: its size, its replacement and its shutdown, as
// aioextensions' ExecutorPool. in_thread and in_cpu_pool run on two of them; in_pool runs on
// any. Unlike a bare asio::thread_pool, replacing or shutting it down never drops work
// already handed to it (only its destruction does, as at exit).
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace sluice {

/// Threads for blocking or CPU-bound calls, made on first use. Thread-safe.
///
///     sluice::executor_pool db_threads(4);
///     auto rows = co_await sluice::in_pool(db_threads, query, sql);
///     db_threads.initialize(8);     // later calls run on 8 new threads
///     db_threads.shutdown(true);    // waits for every call handed to it
class executor_pool {
 public:
  /// A pool of `default_threads` threads (>= 1), not made until initialize() or first use.
  explicit executor_pool(std::size_t default_threads);
  /// Stops the current pool (work queued and not started is dropped, as asio::thread_pool's
  /// destructor does), then waits for the calls that run and for the retired pools.
  ~executor_pool();
  executor_pool(const executor_pool&) = delete;
  executor_pool& operator=(const executor_pool&) = delete;

  /// Makes a new pool of `threads` threads (0: the default); later work goes there. A pool
  /// made before is retired: it takes no new work, runs what it has to its end, and its
  /// threads exit then. Throws std::invalid_argument for a size above 10,000 threads.
  void initialize(std::size_t threads = 0);

  /// Retires the pool as initialize() does, without making a new one (the next use makes
  /// one). With `wait`, returns once every retired pool has run its work and its threads
  /// have exited; without, at once. Work already handed over always runs. Must not wait from
  /// one of the pool's own threads (it would wait for itself).
  void shutdown(bool wait);

  /// Whether a pool exists (initialize() or a use since the last shutdown).
  [[nodiscard]] bool initialized() const;
  /// Threads of the current pool (0 when none), and the default size.
  [[nodiscard]] std::size_t threads() const;
  [[nodiscard]] std::size_t default_threads() const;
  /// Sets the size initialize() and a first use take by default (>= 1). Throws
  /// std::invalid_argument for 0.
  void set_default_threads(std::size_t threads);

  /// Hands `f` to the current pool (making it first if there is none). Never blocks on work.
  template <class F>
  void post(F&& f) {
    std::lock_guard lock(m_);
    if (!current_) make(default_);
    boost::asio::post(*current_, std::forward<F>(f));
  }

 private:
  void make(std::size_t threads);  // (m_ held)
  void retire();                   // (m_ held)

  mutable std::mutex m_;
  std::size_t default_;
  std::size_t current_size_ = 0;
  std::unique_ptr<boost::asio::thread_pool> current_;
  struct reaper {
    std::thread thread;  // joins one retired pool, then ends
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<reaper> reapers_;
};

}  // namespace sluice
