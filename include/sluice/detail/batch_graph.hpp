// What a batch_loader needs to find a load that waits on itself: which batch is running the
// code that waits, and which batches those batches wait on, across every loader of any key
// and value type.
//
// A batch function runs on a batch_executor: its loader's executor, tagged with the batch's
// node. Every coroutine the batch function awaits, and everything it co_spawns on its own
// executor, runs on that tagged executor, so a load learns from its completion handler's
// associated executor (or a coroutine's this_coro::executor) which batch it is part of, with
// no thread-local state that an inline resumption could leave stale.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

namespace sluice::detail {

/// One batch call in flight. `waits` holds, for each load its code is waiting on, the entry's
/// `batch` field: the node of the batch computing that key (null while the key waits for its
/// round to be dispatched).
struct batch_node : std::enable_shared_from_this<batch_node> {
  std::vector<batch_node* const*> waits;

  void add_wait(batch_node* const* target) { waits.push_back(target); }
  void remove_wait(batch_node* const* target) noexcept {
    auto it = std::find(waits.begin(), waits.end(), target);
    if (it != waits.end()) {
      *it = waits.back();
      waits.pop_back();
    }
  }
};

/// Whether `waiter` waiting on a key that `target` computes closes a cycle: `target` is
/// `waiter`, or waits (through any chain of batches) on a key `waiter` computes.
inline bool closes_cycle(const batch_node* waiter, const batch_node* target) {
  std::vector<const batch_node*> todo{target};
  std::vector<const batch_node*> seen;
  while (!todo.empty()) {
    const batch_node* n = todo.back();
    todo.pop_back();
    if (n == waiter) return true;
    if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
    seen.push_back(n);
    for (auto* w : n->waits)
      if (*w) todo.push_back(*w);
  }
  return false;
}

/// A wait of `waiter`'s code on a key, recorded for as long as it lasts (move-only).
class batch_wait {
 public:
  batch_wait() = default;
  batch_wait(batch_node& waiter, batch_node* const* target)
      : waiter_(waiter.shared_from_this()), target_(target) {
    waiter_->add_wait(target_);
  }
  batch_wait(batch_wait&& o) noexcept
      : waiter_(std::move(o.waiter_)), target_(std::exchange(o.target_, nullptr)) {}
  batch_wait& operator=(batch_wait&& o) noexcept {
    std::swap(waiter_, o.waiter_);
    std::swap(target_, o.target_);
    return *this;
  }
  ~batch_wait() {
    if (waiter_) waiter_->remove_wait(target_);
  }

 private:
  std::shared_ptr<batch_node> waiter_;  // (a load may outlive its batch call: a detached child)
  batch_node* const* target_ = nullptr;
};

/// An executor that is `inner` in every respect, tagged with the batch it runs.
struct batch_executor {
  boost::asio::any_io_executor inner;
  batch_node* node = nullptr;

  template <class F>
  void execute(F&& f) const {
    inner.execute(std::forward<F>(f));
  }
  template <class Property>
  requires boost::asio::can_query<const boost::asio::any_io_executor&,
                                  Property>::value decltype(auto)
  query(const Property& p) const {
    return boost::asio::query(inner, p);
  }
  template <class Property>
  requires boost::asio::can_require<const boost::asio::any_io_executor&, Property>::value
      batch_executor
      require(const Property& p)
  const { return {boost::asio::require(inner, p), node}; }
  template <class Property>
  requires boost::asio::can_prefer<const boost::asio::any_io_executor&, Property>::value
      batch_executor
      prefer(const Property& p)
  const { return {boost::asio::prefer(inner, p), node}; }
  friend bool operator==(const batch_executor& a, const batch_executor& b) noexcept {
    return a.node == b.node && a.inner == b.inner;
  }
};

/// The batch whose code runs on `ex`, if any.
inline batch_node* batch_of(const boost::asio::any_io_executor& ex) noexcept {
  const auto* tagged = ex.target<batch_executor>();
  return tagged ? tagged->node : nullptr;
}

}  // namespace sluice::detail
