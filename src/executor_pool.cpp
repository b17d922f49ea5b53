#include "sluice/executor_pool.hpp"

#include <stdexcept>
#include <string>

namespace sluice {
namespace {

void check_size(std::size_t threads) {
  if (threads == 0) throw std::invalid_argument("executor_pool: threads must be >= 1, got 0");
  if (threads > 10'000)
    throw std::invalid_argument("executor_pool: threads must be <= 10000, got " +
                                std::to_string(threads));
}

}  // namespace

executor_pool::executor_pool(std::size_t default_threads) : default_(default_threads) {
  check_size(default_threads);
}

executor_pool::~executor_pool() {
  // As asio::thread_pool's own destructor: what the current pool has queued and not started
  // is dropped (at exit, a producer waiting forever must not hang the program); calls that
  // run are waited for. Retired pools run their work to its end.
  {
    std::lock_guard lock(m_);
    if (current_) current_->stop();
  }
  shutdown(true);
}

void executor_pool::initialize(std::size_t threads) {
  if (threads != 0) check_size(threads);
  std::lock_guard lock(m_);
  retire();
  make(threads ? threads : default_);
}

void executor_pool::shutdown(bool wait) {
  std::vector<reaper> reapers;
  {
    std::lock_guard lock(m_);
    retire();
    if (wait) reapers.swap(reapers_);
  }
  for (auto& r : reapers) r.thread.join();  // (outside the lock: work may post to this pool)
}

bool executor_pool::initialized() const {
  std::lock_guard lock(m_);
  return current_ != nullptr;
}

std::size_t executor_pool::threads() const {
  std::lock_guard lock(m_);
  return current_size_;
}

std::size_t executor_pool::default_threads() const {
  std::lock_guard lock(m_);
  return default_;
}

void executor_pool::set_default_threads(std::size_t threads) {
  check_size(threads);
  std::lock_guard lock(m_);
  default_ = threads;
}

void executor_pool::make(std::size_t threads) {
  current_ = std::make_unique<boost::asio::thread_pool>(threads);
  current_size_ = threads;
}

void executor_pool::retire() {
  if (!current_) return;
  // thread_pool::join lets its threads finish the queued work, then exit. It runs on a thread
  // of its own, so that retiring never waits for that work; shutdown(true) joins the reaper.
  // Reapers whose pool has ended are joined here, so that a program that replaces its pool
  // again and again does not pile them up.
  std::erase_if(reapers_, [](reaper& r) {
    if (!r.done->load()) return false;
    r.thread.join();
    return true;
  });
  auto done = std::make_shared<std::atomic<bool>>(false);
  reapers_.push_back(
      {std::thread(
           [pool = std::shared_ptr<boost::asio::thread_pool>(std::move(current_)), done]() mutable {
             pool->join();
             pool.reset();
             done->store(true);
           }),
       done});
  current_size_ = 0;
}

}  // namespace sluice
