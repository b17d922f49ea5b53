// sluice::batch_loader coalesces single-key loads from many coroutines into batch calls to a
// data store, as DataLoader, Haxl and btrekkie/batch do: code written one key at a time makes
// as many round trips as its dependency graph is deep, not one per key.
#pragma once

#include "sluice/detail/asio_internals.hpp"
#include "sluice/detail/batch_graph.hpp"
#include "sluice/detail/block_cache.hpp"
#include "sluice/detail/complete_soon.hpp"
#include "sluice/detail/node_allocator.hpp"
#include "sluice/detail/wait_queue.hpp"
#include "sluice/limiter.hpp"
#include "sluice/outcome.hpp"
#include "sluice/rate_limiter.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice {

/// Options of a batch_loader.
struct batch_options {
  /// Most keys in one batch call; 0 = unlimited. A round with more keys makes several calls.
  std::size_t max_batch_size = 0;
  /// Serve a key loaded once from memory; errors are never cached.
  bool cache = true;
  /// Most batch calls in flight at once; 0 = unlimited.
  std::size_t max_concurrent_batches = 0;
  /// Most batch calls started per second (GCRA); 0 = unlimited.
  double max_per_second = 0;
  std::uint32_t burst = 1;
};

/// Thrown to a load whose key the batch function left out (map form), or whose batch
/// returned a result list of the wrong length.
class batch_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown to a load that would wait on itself: made by a batch function (or code it awaits or
/// spawns on its own executor) for a key that its own batch computes, directly or through
/// batches of other loaders that wait on it. Without it such a load never completes.
class batch_cycle_error : public batch_error {
 public:
  using batch_error::batch_error;
};

/// Coalesces `load(key)` calls into calls of a batch function.
///
/// A round: every load requested while the executor still has ready work joins the pending
/// batch (a load joins when load() is called, not when it is awaited). The loader dispatches when
/// its dispatcher, re-posted to the back of the executor's queue, has seen `quiet_passes`
/// consecutive passes in which no new key arrived (default 3: enough for a continuation that hops
/// through co_spawn and a when_all to issue its loads in the same round). Keys go into a batch in
/// the order they were first requested; loaders whose last keys came in the same pass dispatch in
/// the order their rounds began (docs/batching.md).
/// Keys already in flight are shared (one slot per key per round), always; with `cache`, a key
/// loaded once is served from memory.
///
/// The batch function gets the keys and returns, in key order, either the values
/// (std::vector<V>), or per-key outcomes (std::vector<outcome<V>>: a failed one fails only its
/// key), or a map K -> V (a key it leaves out fails with batch_error). An exception from it
/// fails every load of that batch. A cancelled load leaves its batch alone: the others still
/// get their values. Not thread-safe: one executor (or strand).
///
/// A batch function may load from other loaders (and from its own, for keys outside its
/// batch): those loads batch like any other. A load that closes a cycle (its key is computed by
/// its own batch, or by a batch that waits on it) fails at once with batch_cycle_error instead
/// of hanging. The batch function runs on the loader's executor tagged with its batch
/// (detail::batch_executor): work it spawns on another executor is not followed.
///
///     sluice::batch_loader<int, user> users{ex, fetch_users};
///     user u = co_await users.load(42);
template <class K, class V, class Hash = std::hash<K>, class Eq = std::equal_to<K>>
class batch_loader {
 public:
  using key_type = K;
  using value_type = V;
  using batch_function =
      std::function<boost::asio::awaitable<std::vector<outcome<V>>>(std::vector<K>)>;

  template <class F>
  batch_loader(boost::asio::any_io_executor ex, F batch_fn, batch_options opts = {})
      : s_(std::make_shared<state>(std::move(ex), adapt(std::move(batch_fn)), opts)) {}

  batch_loader(const batch_loader&) = delete;
  batch_loader& operator=(const batch_loader&) = delete;

  /// The value for `key`: from the cache, from a batch already in flight, or from the next
  /// batch. Suspends until that batch completes; rethrows the key's error. Cancelling it only
  /// drops this caller (operation_aborted); the batch goes on for the others.
  ///
  /// An Asio asynchronous operation with the signature void(std::exception_ptr, V): by
  /// default a deferred one, which a coroutine co_awaits without a coroutine frame for the
  /// load (`co_await users.load(42)`), and which when_all takes; or with any completion token
  /// (`load(42, asio::use_awaitable)` is an awaitable<V>). For a V that is not
  /// default-constructible it is an awaitable<V>.
  template <class CompletionToken = boost::asio::deferred_t>
  [[nodiscard]] auto load(K key, CompletionToken&& token = CompletionToken()) {
    // The key joins its round now, at the call: loads made before a co_await batch together.
    entry_ref e;
    std::optional<V> cached;
    if (const V* c = s_->enter(std::move(key), e)) cached.emplace(*c);
    if constexpr (!std::is_default_constructible_v<V>) {
      // (No placeholder V to complete a failed load with: a coroutine of load's own.)
      static_assert(
          std::is_same_v<std::decay_t<CompletionToken>, boost::asio::deferred_t> ||
              std::is_same_v<std::decay_t<CompletionToken>, boost::asio::use_awaitable_t<>>,
          "batch_loader::load of a V that is not default-constructible is an awaitable");
      return cached ? ready(std::move(*cached)) : wait_for(std::move(e));
    } else {
      return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, V)>(
          [](auto handler, entry_ref e, std::optional<V> cached) {
            if (cached) {
              detail::complete_soon(std::move(handler), nullptr, std::move(*cached));
              return;
            }
            if (e->result) {  // its batch ended between the call and the co_await
              auto ex = boost::asio::get_associated_executor(handler);
              boost::asio::post(ex,
                                [h = std::move(handler), d = deliver{std::move(e), {}}]() mutable {
                                  std::move(d)(std::move(h), nullptr);
                                });
              return;
            }
            detail::batch_wait cycle_watch;
            if constexpr (std::is_same_v<boost::asio::associated_executor_t<decltype(handler)>,
                                         boost::asio::any_io_executor>) {
              auto* me = detail::batch_of(boost::asio::get_associated_executor(handler));
              if (auto cycle = watch_wait(me, *e, cycle_watch)) {
                detail::complete_soon(std::move(handler), std::move(cycle), V{});
                return;
              }
            }
            auto& waiters = e->waiters;
            waiters.template wait<void(std::exception_ptr, V)>(
                0, nullptr, std::move(handler), detail::cancel_mode::complete,
                deliver{std::move(e), std::move(cycle_watch)});
          },
          token, std::move(e), std::move(cached));
    }
  }

  /// The values for `keys`, in order; every key joins the same round.
  [[nodiscard]] boost::asio::awaitable<std::vector<V>> load_many(std::vector<K> keys) {
    // A cached value is copied at once (a later clear() must not change it); the other keys
    // wait on their entries.
    struct slot {
      std::optional<V> cached;
      entry_ref shared;
    };
    std::vector<slot> slots(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (const V* cached = s_->enter(std::move(keys[i]), slots[i].shared))
        slots[i].cached.emplace(*cached);
    std::vector<V> out;
    out.reserve(slots.size());
    detail::batch_node* me = nullptr;
    for (auto& [cached, e] : slots) {
      if (cached) {
        out.push_back(std::move(*cached));
        continue;
      }
      if (!e->result) {
        if (!me) me = detail::batch_of(co_await boost::asio::this_coro::executor);
        co_await wait_on(me, e);
      }
      out.push_back(e->result->value());
    }
    co_return out;
  }

  /// Forgets a cached key (in-flight loads are not affected).
  void clear(const K& key) { s_->forget(s_->table.find(key)); }
  void clear_all() {
    for (auto it = s_->table.begin(); it != s_->table.end();) it = s_->forget(it);
  }
  /// Puts a value in the cache (if caching), unless the key is already there.
  void prime(K key, V value) {
    if (!s_->opts.cache) return;
    auto& c = s_->table.try_emplace(std::move(key)).first->second;
    if (!c.value()) c.set_value(std::move(value));
  }

  /// Batch calls made so far, and keys sent in them.
  [[nodiscard]] std::size_t batches() const noexcept { return s_->batches; }
  [[nodiscard]] std::size_t keys_loaded() const noexcept { return s_->keys_sent; }

  /// Passes without a new key before a round is dispatched (>= 1).
  void set_quiet_passes(unsigned n) { s_->quiet_needed = n < 1 ? 1 : n; }

 private:
  // Normalizes the three forms of batch function to per-key outcomes.
  template <class F>
  static batch_function adapt(F fn) {
    using R = typename std::invoke_result_t<F&, std::vector<K>>::value_type;
    if constexpr (std::is_same_v<R, std::vector<outcome<V>>>) {
      return batch_function(std::move(fn));
    } else if constexpr (std::is_same_v<R, std::vector<V>>) {
      return [fn = std::move(fn)](
                 std::vector<K> keys) mutable -> boost::asio::awaitable<std::vector<outcome<V>>> {
        auto values = co_await fn(std::move(keys));
        std::vector<outcome<V>> out;
        out.reserve(values.size());
        for (auto& v : values) out.emplace_back(std::move(v));
        co_return out;
      };
    } else {
      static_assert(std::is_same_v<R, std::unordered_map<K, V, Hash, Eq>>,
                    "batch_loader: the batch function must return awaitable<vector<V>>, "
                    "awaitable<vector<outcome<V>>> or awaitable<unordered_map<K, V>>");
      return [fn = std::move(fn)](
                 std::vector<K> keys) mutable -> boost::asio::awaitable<std::vector<outcome<V>>> {
        auto found = co_await fn(keys);
        std::vector<outcome<V>> out;
        out.reserve(keys.size());
        for (auto& k : keys) {
          auto it = found.find(k);
          if (it != found.end())
            out.emplace_back(std::move(it->second));
          else
            out.emplace_back(std::make_exception_ptr(batch_error(
                "batch_loader: the batch function returned no value for key " + describe_key(k))));
        }
        co_return out;
      };
    }
  }

  static std::string describe_key(const K& k) {
    if constexpr (requires(std::ostream & o) { o << k; }) {
      std::ostringstream s;
      s << k;
      return s.str();
    } else {
      return "(not printable)";
    }
  }

  struct entry;

  // What the loader knows of a key: its cached value (only with the cache), and the entry of
  // its load in flight. A key stays in the table while it has either. A million cached keys
  // are a million cells: the flag that a value is there shares the word of the pointer.
  class cell {
   public:
    cell() noexcept {}
    cell(const cell&) = delete;
    cell& operator=(const cell&) = delete;
    ~cell() { drop(); }

    [[nodiscard]] entry* flight() const noexcept {
      return reinterpret_cast<entry*>(bits_ & ~has_value);
    }
    void set_flight(entry* e) noexcept {
      bits_ = reinterpret_cast<std::uintptr_t>(e) | (bits_ & has_value);
    }
    [[nodiscard]] const V* value() const noexcept { return bits_ & has_value ? &value_ : nullptr; }
    template <class... A>
    void set_value(A&&... a) {  // (no value yet)
      ::new (static_cast<void*>(&value_)) V(std::forward<A>(a)...);
      bits_ |= has_value;
    }
    void drop() noexcept {
      if (!(bits_ & has_value)) return;
      value_.~V();
      bits_ &= ~has_value;
    }

   private:
    static constexpr std::uintptr_t has_value = 1;  // (an entry is aligned: bit 0 is free)
    std::uintptr_t bits_ = 0;
    union {
      V value_;
    };
  };
  using key_table =
      std::unordered_map<K, cell, Hash, Eq, detail::node_allocator<std::pair<const K, cell>>>;
  using key_slot = typename key_table::value_type;

  // One key of one round, shared by every load of it. Counted by entry_ref, not shared_ptr:
  // a loader lives on one thread, so the count needs no atomics. A round of a thousand loads
  // allocates nothing once the thread has seen one: entries are recycled by the thread's
  // block_cache (an entry may outlive its loader: a load resumed after the loader is gone).
  struct entry {
    key_slot* slot;  // the key's place in the table, until the entry's batch settles it
    detail::batch_node* batch = nullptr;  // the batch call computing it, once dispatched
    std::optional<outcome<V>> result;
    detail::wait_queue<char> waiters;
    std::size_t refs = 0;
    explicit entry(key_slot* s) noexcept : slot(s) {}
    static void* operator new(std::size_t bytes) { return detail::block_cache::allocate(bytes); }
    static void operator delete(void* p, std::size_t bytes) noexcept {
      detail::block_cache::deallocate(p, bytes);
    }
  };
  static_assert(alignof(entry) > 1, "cell keeps its value flag in bit 0 of an entry pointer");

  class entry_ref {
   public:
    entry_ref() = default;
    explicit entry_ref(entry* e) noexcept : p_(e) { ++p_->refs; }
    entry_ref(const entry_ref& o) noexcept : p_(o.p_) {
      if (p_) ++p_->refs;
    }
    entry_ref(entry_ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    entry_ref& operator=(entry_ref o) noexcept {
      std::swap(p_, o.p_);
      return *this;
    }
    ~entry_ref() {
      if (p_ && --p_->refs == 0) destroy(p_);
    }
    entry& operator*() const noexcept { return *p_; }
    entry* operator->() const noexcept { return p_; }
    entry* get() const noexcept { return p_; }

   private:
    BOOST_NOINLINE static void destroy(entry* e) noexcept { delete e; }  // (entry_ref stays tiny)
    entry* p_ = nullptr;
  };

  static boost::asio::awaitable<V> ready(V value) { co_return value; }

  // A load of a V that is not default-constructible (no placeholder to complete with).
  static boost::asio::awaitable<V> wait_for(entry_ref e) {
    if (!e->result)
      co_await wait_on(detail::batch_of(co_await boost::asio::this_coro::executor), e);
    co_return e->result->value();  // a copy per caller; rethrows the key's error
  }

  // A coroutine's wait for a key in flight; `me`: the batch its code belongs to, if any.
  static boost::asio::awaitable<void> wait_on(detail::batch_node* me, const entry_ref& e) {
    detail::batch_wait cycle_watch;
    if (auto cycle = watch_wait(me, *e, cycle_watch)) std::rethrow_exception(cycle);
    co_await e->waiters.wait(0, nullptr, boost::asio::deferred);
  }

  // Code of batch `me` (if any) is about to wait on `e`: the cycle error if that wait would
  // wait on itself; otherwise the wait is recorded in `watch` (for as long as it lives).
  static std::exception_ptr watch_wait(detail::batch_node* me, const entry& e,
                                       detail::batch_wait& watch) {
    if (!me) return nullptr;
    if (e.batch && detail::closes_cycle(me, e.batch))
      return std::make_exception_ptr(batch_cycle_error(
          "batch_loader: a cycle: the load of key " + describe_key(e.slot->first) +
          " was made by a batch function whose own batch (or a batch waiting on it) computes "
          "that key, so it would wait on itself"));
    watch = detail::batch_wait(*me, &e.batch);
    return nullptr;
  }

  // Completes a load's wait: the key's value (a copy per caller), or its error, or the
  // error of the wait itself (cancellation).
  struct deliver {
    entry_ref e;
    detail::batch_wait cycle_watch;  // (ends first: it points into *e)
    template <class Handler>
    void operator()(Handler&& h, std::exception_ptr error) {
      if (!error) error = e->result->error();
      if (error)
        std::move(h)(std::move(error), V{});
      else
        std::move(h)(nullptr, V(e->result->value()));
    }
  };

  struct state : std::enable_shared_from_this<state> {
    state(boost::asio::any_io_executor e, batch_function f, batch_options o)
        : ex(std::move(e)), fn(std::move(f)), opts(o) {
      if (opts.max_concurrent_batches) batch_limit.emplace(opts.max_concurrent_batches);
      if (opts.max_per_second > 0) batch_rate.emplace(ex, opts.max_per_second, opts.burst);
    }

    // The synchronous half of a load: the cached value (returned; valid until the cache
    // changes), or the entry to wait on (set in `out`): the one in flight for the key, or a
    // new one in the pending round.
    const V* enter(K key, entry_ref& out) {
      auto it = table.try_emplace(std::move(key)).first;  // one probe: cached, shared or new
      cell& c = it->second;
      if (const V* cached = c.value()) return cached;
      if (!c.flight()) {
        try {
          entry_ref fresh(new entry(&*it));
          pending.push_back(std::move(fresh));
        } catch (...) {  // (no memory) the key leaves no trace
          table.erase(it);
          throw;
        }
        c.set_flight(pending.back().get());
        ++arrivals;
        schedule();
      }
      out = entry_ref(c.flight());
      return nullptr;
    }

    // Drops a key's cached value, and the key itself unless a load of it is in flight.
    typename key_table::iterator forget(typename key_table::iterator it) {
      if (it == table.end()) return it;
      if (!it->second.flight()) return table.erase(it);
      it->second.drop();
      return ++it;
    }

    void schedule() {
      if (scheduled) return;
      scheduled = true;
      quiet = 0;
      seen_arrivals = arrivals;
      boost::asio::post(ex, [self = this->shared_from_this()] { self->tick(); });
    }

    // The dispatcher: re-posted until `quiet_needed` passes bring no new key.
    void tick() {
      if (arrivals != seen_arrivals) {
        seen_arrivals = arrivals;
        quiet = 0;
      } else if (++quiet >= quiet_needed) {
        scheduled = false;
        dispatch();
        return;
      }
      boost::asio::post(ex, [self = this->shared_from_this()] { self->tick(); });
    }

    void dispatch() {
      std::vector<entry_ref> round;
      round.swap(pending);
      pending.reserve(round.size());  // the next round is likely as large
      const std::size_t chunk = opts.max_batch_size ? opts.max_batch_size : round.size();
      if (chunk >= round.size()) {
        launch(std::move(round));
        return;
      }
      for (std::size_t i = 0; i < round.size(); i += chunk)
        launch(std::vector<entry_ref>(
            std::make_move_iterator(round.begin() + std::ptrdiff_t(i)),
            std::make_move_iterator(round.begin() +
                                    std::ptrdiff_t(std::min(round.size(), i + chunk)))));
    }

    // One batch call, on the executor tagged with its node (see detail/batch_graph.hpp).
    void launch(std::vector<entry_ref> part) {
      auto node = std::make_shared<detail::batch_node>();
      for (auto& e : part) e->batch = node.get();
      detail::batch_executor on{ex, node.get()};
      boost::asio::co_spawn(on,
                            run_batch(this->shared_from_this(), std::move(part), std::move(node)),
                            boost::asio::detached);
    }

    // Records a key's outcome: it leaves flight, and a value enters the cache. (A key's entry
    // is the one in flight until its batch ends: loads of the key meanwhile share it.)
    void settle(entry& e) {
      e.batch = nullptr;
      auto& [key, c] = *std::exchange(e.slot, nullptr);
      c.set_flight(nullptr);
      if (c.value()) return;  // primed meanwhile
      if (opts.cache && e.result->has_value())
        c.set_value(e.result->value());
      else
        table.erase(table.find(key));
    }

    static boost::asio::awaitable<void> run_batch(std::shared_ptr<state> self,
                                                  std::vector<entry_ref> part,
                                                  std::shared_ptr<detail::batch_node> node) {
      std::vector<K> keys;
      keys.reserve(part.size());
      for (auto& e : part) keys.push_back(e->slot->first);
      std::vector<outcome<V>> results;
      std::exception_ptr failure;
      try {
        permit p;
        if (self->batch_limit) p = co_await self->batch_limit->acquire();
        if (self->batch_rate) co_await self->batch_rate->acquire();
        ++self->batches;
        self->keys_sent += keys.size();
        results = co_await self->fn(std::move(keys));
        if (results.size() != part.size())
          throw batch_error("batch_loader: the batch function returned " +
                            std::to_string(results.size()) + " results for " +
                            std::to_string(part.size()) + " keys");
      } catch (...) {
        failure = std::current_exception();
      }
      for (std::size_t i = 0; i < part.size(); ++i) {
        entry& e = *part[i];
        if (failure)
          e.result.emplace(failure);
        else
          e.result.emplace(std::move(results[i]));
        self->settle(e);
      }
      // Every result is in place before anyone resumes (a load_many waiting on several keys
      // of this batch then resumes once). Waiters resume right here, one level deep, not
      // through a post each; they may go on to their next load. `part` keeps entries alive.
      for (auto& e : part) e->waiters.complete_all_inline();
      part.clear();
      node.reset();
    }

    boost::asio::any_io_executor ex;
    batch_function fn;
    batch_options opts;
    std::optional<limiter> batch_limit;
    std::optional<rate_limiter> batch_rate;
    // Every key cached or in flight, probed once per load. It can grow to millions of keys:
    // node-based, it rehashes without moving them, keys that arrive in order stay together in
    // memory, and its nodes come from a pool. An entry points at its key's node.
    detail::node_pools table_nodes;
    key_table table{0, Hash{}, Eq{},
                    detail::node_allocator<std::pair<const K, cell>>(&table_nodes)};
    std::vector<entry_ref> pending;
    bool scheduled = false;
    unsigned quiet = 0;
    unsigned quiet_needed = 3;
    std::uint64_t arrivals = 0;
    std::uint64_t seen_arrivals = 0;
    std::size_t batches = 0;
    std::size_t keys_sent = 0;
  };

  std::shared_ptr<state> s_;
};

}  // namespace sluice
