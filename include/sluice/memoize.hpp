// An async function made to run once per argument: concurrent callers with the same key share
// one call in flight, later callers get the remembered result. What btrekkie/batch's
// cached_generator and aiocache's decorator do; failures are forgotten unless asked.
#pragma once

#include "sluice/shared_job.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>

namespace sluice {

struct memoize_options {
  /// Remember a failure too (every later call rethrows it) instead of calling again.
  bool cache_errors = false;
};

/// `memoize<K, V> m(fn)`: `co_await m(key)` is `co_await fn(key)`, run once per key. A call
/// for a key in flight waits for that call; a call for a key that succeeded returns a copy of
/// its value at once. A failed call fails every caller that shared it, and is forgotten (the
/// next call runs fn again) unless `cache_errors`. The call runs on the executor of the caller
/// that started it, to its end even if every caller is cancelled (see shared_job). Not
/// thread-safe: one executor (or strand). Entries stay until forget() or clear().
///
///     sluice::memoize<std::string, profile> profiles(fetch_profile);
///     auto [a, b] = co_await when_all(profiles("ann"), profiles("ann"));  // one fetch
template <class K, class V, class Hash = std::hash<K>, class Eq = std::equal_to<K>>
class memoize {
 public:
  using function = std::function<boost::asio::awaitable<V>(K)>;

  explicit memoize(function fn, memoize_options opts = {})
      : s_(std::make_shared<state>(std::move(fn), opts)) {}

  /// fn(key)'s value, from memory, from the call in flight, or from a new call.
  [[nodiscard]] boost::asio::awaitable<V> operator()(K key) {
    auto s = s_;
    auto it = s->jobs.find(key);
    if (it == s->jobs.end()) {
      auto ex = co_await boost::asio::this_coro::executor;
      const std::uint64_t id = ++s->calls;
      it = s->jobs.emplace(key, entry{shared_job<V>(ex, call(s, key, id)), id}).first;
    }
    auto job = it->second.job;  // (the entry may be forgotten while this waits)
    co_return co_await job.result();
  }

  /// Forgets a key's result (a call in flight goes on for its callers; the next call for the
  /// key starts a new one).
  void forget(const K& key) { s_->jobs.erase(key); }
  void clear() { s_->jobs.clear(); }
  /// Keys remembered or in flight.
  [[nodiscard]] std::size_t size() const noexcept { return s_->jobs.size(); }
  /// Calls of fn made so far.
  [[nodiscard]] std::size_t calls() const noexcept { return s_->calls; }

 private:
  struct entry {
    shared_job<V> job;
    std::uint64_t id;  // which call: a forgotten key's old call must not erase a new one
  };
  struct state {
    state(function f, memoize_options o) : fn(std::move(f)), opts(o) {}
    function fn;
    memoize_options opts;
    std::unordered_map<K, entry, Hash, Eq> jobs;
    std::uint64_t calls = 0;
  };

  // fn(key), which forgets itself when it fails (unless errors are cached): only callers that
  // shared this call see its failure.
  static boost::asio::awaitable<V> call(std::shared_ptr<state> s, K key, std::uint64_t id) {
    std::exception_ptr failure;
    try {
      co_return co_await s->fn(key);
    } catch (...) {
      failure = std::current_exception();
    }
    if (!s->opts.cache_errors)
      if (auto it = s->jobs.find(key); it != s->jobs.end() && it->second.id == id)
        s->jobs.erase(it);
    std::rethrow_exception(failure);
  }

  std::shared_ptr<state> s_;
};

}  // namespace sluice
