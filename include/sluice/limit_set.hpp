// sluice::basic_limit_set: several limits (caps, rates, sliding windows, per-key limits, and
// limits shared with other sets) acquired as one decision. A task starts when every limit
// admits it; then all of them record it at once. Waiting holds nothing: a task that waits for
// a rate holds no place, one cancelled while waiting has taken nothing from any limit. FIFO,
// with one timer for the whole queue; a waiter held back only by its own key's limits lets
// the waiters of other keys go first. Awaiting one limit after another instead spends a slot
// of the first while waiting for the second, and loses it when cancelled there.
#pragma once

#include "sluice/concurrency_limit.hpp"
#include "sluice/detail/head_timer.hpp"
#include "sluice/detail/wait_queue.hpp"
#include "sluice/gcra_limit.hpp"
#include "sluice/keyed_limit.hpp"
#include "sluice/limit.hpp"
#include "sluice/window_limit.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

/// Several limits acquired as one FIFO decision, on clock `Clock`. Not thread-safe (one
/// thread or strand, as any Asio I/O object).
///
///     sluice::limit_set api{ex};
///     api.add_concurrency(100);                        // 100 in flight
///     api.add_window(500, 1min, {}, sluice::counts::starts);  // 500 requests a minute
///     api.add_window(200'000, 1min);                   // and 200,000 tokens a minute
///     auto t = co_await api.acquire(tokens);           // all admit it, then all record it
///     ...                                              // t holds its place until released
///     t.settle(used_tokens);                           // the response said what it cost
template <class Clock>
class basic_limit_set final {
  struct impl;

 public:
  using clock_type = Clock;
  using duration = std::chrono::nanoseconds;

  /// What an acquisition holds: its places in the caps, until released (or destroyed), and
  /// the right to say what the start really cost. Move-only. It may outlive its set (the
  /// set's state stays until the last ticket is released), not the limits it holds.
  class [[nodiscard]] ticket {
   public:
    ticket() = default;
    ticket(ticket&& o) noexcept
        : set_(std::exchange(o.set_, nullptr)), demand_(std::move(o.demand_)), at_(o.at_) {}
    ticket& operator=(ticket&& o) noexcept {
      if (this != &o) {
        release();
        set_ = std::exchange(o.set_, nullptr);
        demand_ = std::move(o.demand_);
        at_ = o.at_;
      }
      return *this;
    }
    ~ticket() { release(); }

    /// Gives the places back now (waiters are served in order). Idempotent.
    void release() noexcept {
      if (set_) impl::release(std::exchange(set_, nullptr), view(), at_);
    }
    /// The start cost `actual` units, not the cost it was acquired with: every limit that
    /// counts cost corrects its count (a window frees what was overestimated). The places
    /// held keep the acquired cost.
    void settle(std::uint64_t actual) {
      if (set_) set_->settle(view(), at_, actual);
    }
    explicit operator bool() const noexcept { return set_ != nullptr; }
    [[nodiscard]] std::uint64_t cost() const noexcept { return demand_.cost; }
    /// When the start happened (the clock's time since its epoch).
    [[nodiscard]] duration started_at() const noexcept { return at_; }

   private:
    friend class basic_limit_set;
    // Takes a start into this empty ticket (no ticket made and moved in).
    void adopt(impl* s, std::uint64_t cost, std::string_view key, duration at) {
      set_ = s;
      demand_.cost = cost;
      if (!key.empty() || !demand_.key.empty()) demand_.key.assign(key);
      at_ = at;
      ++s->tickets_;
    }
    struct owned_demand {
      std::uint64_t cost = 1;
      std::string key;
    };
    ticket(impl* s, std::uint64_t cost, std::string key, duration at)
        : set_(s), demand_{cost, std::move(key)}, at_(at) {
      ++s->tickets_;
    }
    [[nodiscard]] demand view() const noexcept { return {demand_.cost, demand_.key}; }
    impl* set_ = nullptr;
    owned_demand demand_;
    duration at_{0};
  };

  explicit basic_limit_set(boost::asio::any_io_executor ex)
      : impl_(std::make_shared<impl>(std::move(ex))) {}
  basic_limit_set(const basic_limit_set&) = delete;
  basic_limit_set& operator=(const basic_limit_set&) = delete;
  /// Waiters still queued complete with operation_aborted. Tickets still held keep the set's
  /// state until they are released (into limits that must still exist then).
  ~basic_limit_set() {
    impl_->shutdown();
    if (impl_->tickets_ > 0) impl_->keep_ = impl_;
  }

  /// Adds a limit (owned); returns it, to read or change at run time.
  template <class Limit>
  Limit& add(std::unique_ptr<Limit> l, counts what = counts::cost) {
    Limit& ref = *l;
    impl_->owned_.push_back(std::move(l));
    impl_->add(ref, what);
    return ref;
  }
  /// Adds a limit shared with other sets (not owned; it must outlive this set).
  void add_shared(limit& l, counts what = counts::cost) { impl_->add(l, what); }

  concurrency_limit& add_concurrency(std::uint64_t capacity, counts what = counts::starts) {
    return add(std::make_unique<concurrency_limit>(capacity), what);
  }
  gcra_limit& add_rate(double rate, std::uint32_t burst = 1, counts what = counts::cost) {
    return add(std::make_unique<gcra_limit>(rate, burst), what);
  }
  window_limit& add_window(std::uint64_t capacity, duration window, duration min_gap = {},
                           counts what = counts::cost) {
    return add(std::make_unique<window_limit>(capacity, window, min_gap), what);
  }
  keyed_limit& add_per_key(per_key_limits spec, counts what = counts::starts) {
    return add(std::make_unique<keyed_limit>(std::move(spec)), what);
  }
  [[nodiscard]] bool empty() const noexcept { return impl_->limits_.empty(); }

  /// Suspends until a start of `cost` (of `key`, for per-key limits) fits every limit and
  /// every earlier waiter that competes for the same limits has started; resumes on the
  /// caller's executor. Cancellation (any type) removes the waiter, which has taken nothing,
  /// so later waiters move up; it then throws boost::system::system_error(operation_aborted).
  /// Throws std::invalid_argument when cost is 0 or never fits one of the limits.
  [[nodiscard]] boost::asio::awaitable<ticket> acquire(std::uint64_t cost = 1,
                                                       std::string_view key = {}) {
    impl& s = *impl_;
    s.check(cost, key);
    const duration now = s.now();
    if (s.waiters_.empty() && s.try_start(now, cost, key))
      co_return ticket(&s, cost, std::string(key), now);
    auto keep = impl_;
    duration started{};
    // (Named, not a temporary of the co_await expression: GCC 12 copies such a temporary into
    // the frame bitwise, and its string then points into the frame.)
    waiter w{cost, now, std::string(key), &started};
    co_await s.waiters_.wait(std::move(w), &s, boost::asio::deferred);
    co_return ticket(&s, cost, std::string(key), started);
  }

  /// Starts now if every limit admits it and nobody waits; an empty ticket otherwise.
  [[nodiscard]] ticket try_acquire(std::uint64_t cost = 1, std::string_view key = {}) {
    ticket t;
    (void)try_acquire_into(t, cost, key);
    return t;
  }

  /// try_acquire into `t`, which must be empty: true when it now holds the start. (What a
  /// runner uses: the ticket it keeps is filled in place.)
  bool try_acquire_into(ticket& t, std::uint64_t cost = 1, std::string_view key = {}) {
    impl& s = *impl_;
    s.check(cost, key);
    const duration now = s.now();
    if (!s.waiters_.empty() || !s.try_start(now, cost, key)) return false;
    t.adopt(&s, cost, key, now);
    return true;
  }

  /// No start for `d` from now, in any limit (a server's Retry-After), even with none added.
  void hold_for(duration d) {
    impl& s = *impl_;
    const duration until = s.now() + d;
    s.held_until_ = std::max(s.held_until_, until);
    for (auto& l : s.limits_) l.lim->hold_until(until);
    s.reschedule();
  }
  /// The server says `remaining` units fit until `reset_in` from now: every limit that counts
  /// what the server counts (`what`) is told.
  void server_says(std::uint64_t remaining, duration reset_in, counts what = counts::starts) {
    impl& s = *impl_;
    const duration now = s.now();
    for (auto& l : s.limits_)
      if (l.what == what) l.lim->server_says(now, remaining, now + reset_in);
    s.reschedule();
  }

  /// A limit was changed by hand: the queue is looked at again. (Limits changed through
  /// their own setters tell the set themselves.)
  void changed() { impl_->limit_changed(); }

  [[nodiscard]] std::size_t waiting() const noexcept { return impl_->waiters_.size(); }
  /// The limits, in the order they were added.
  [[nodiscard]] std::vector<const limit*> limits() const {
    std::vector<const limit*> out;
    for (const auto& l : impl_->limits_) out.push_back(l.lim);
    return out;
  }

 private:
  struct waiter {
    std::uint64_t cost = 1;
    duration arrival{};
    std::string key;
    duration* started = nullptr;  // the waiting coroutine's: when it was admitted
  };

  struct counted {
    limit* lim;
    counts what;
    bool per_key;
    [[nodiscard]] demand of(std::uint64_t cost, std::string_view key) const {
      return {what == counts::starts ? 1 : cost, key};
    }
  };
  // When a demand fits every limit, and which limit said so last (where the time waited
  // goes, and whether only the demand's own key holds it back).
  struct slot {
    duration t;
    std::size_t by = std::size_t(-1);
  };

  struct impl final : detail::wait_owner<waiter>,
                      limit_watcher,
                      std::enable_shared_from_this<impl> {
    explicit impl(boost::asio::any_io_executor ex) : timer_(std::move(ex)) {}

    duration now() const {
      return std::chrono::duration_cast<duration>(Clock::now().time_since_epoch());
    }
    void add(limit& l, counts what) {
      limits_.push_back({&l, what, l.per_key()});
      keyed_ = keyed_ || limits_.back().per_key;
      if (l.holds()) holders_.push_back(limits_.size() - 1);
      l.watch(this);
      max_cost_ = std::uint64_t(-1);
      for (const auto& c : limits_)
        if (c.what == counts::cost) max_cost_ = std::min(max_cost_, c.lim->max_cost());
      limit_changed();
    }
    void check(std::uint64_t cost, std::string_view key) const {
      if (cost == 0) throw std::invalid_argument("limit set: a start's cost must be >= 1");
      if (cost <= max_cost_) return;
      for (const auto& l : limits_) (void)l.lim->earliest(duration{0}, l.of(cost, key));  // which
    }
    slot fit(duration arrival, std::uint64_t cost, std::string_view key) const {
      slot s{std::max(arrival, held_until_)};
      // Each limit's earliest time from the latest so far, until none moves it: a later time
      // only makes room in a rate or a window, but a gap or a hold may push it again.
      for (bool moved = true; moved;) {
        moved = false;
        for (std::size_t i = 0; i < limits_.size(); ++i) {
          const duration e = limits_[i].lim->earliest(s.t, limits_[i].of(cost, key));
          if (e > s.t) {
            s = {e, i};
            if (e == limit::on_release) return s;
            moved = true;
          }
        }
      }
      return s;
    }
    void commit(duration scheduled, duration at, std::uint64_t cost, std::string_view key) {
      for (auto& l : limits_) l.lim->commit(scheduled, at, l.of(cost, key));
    }
    bool try_start(duration now, std::uint64_t cost, std::string_view key) {
      const slot s = fit(now, cost, key);
      if (s.t > now) return false;
      commit(s.t, now, cost, key);
      return true;
    }
    static void release(impl* s, const demand& d, duration started) noexcept {
      for (const std::size_t i : s->holders_) {
        const auto& l = s->limits_[i];
        l.lim->release(started, l.of(d.cost, d.key));
      }
      if (--s->tickets_ == 0 && s->keep_) auto last = std::move(s->keep_);  // the set is gone
    }
    void settle(const demand& d, duration started, std::uint64_t actual) {
      for (auto& l : limits_)
        if (l.what == counts::cost) l.lim->settle(started, l.of(d.cost, d.key), actual);
    }

    // (With nobody waiting the timer is already disarmed: the pass that emptied the queue
    // disarmed it. A released place then costs no pass.)
    void limit_changed() override {
      if (!closed_ && !waiters_.empty()) reschedule();
    }

    // Starts every waiter whose time has come, in order: a waiter held back by a limit every
    // waiter shares holds the ones behind it; one held back only by its key's limits lets
    // other keys pass (and holds the later waiters of its key). Then arms the timer for the
    // earliest time something can start.
    void reschedule() {
      if (busy_) {
        again_ = true;
        return;
      }
      busy_ = true;
      do {
        again_ = false;
        pass();
      } while (again_);
      busy_ = false;
    }
    void pass() {
      if (waiters_.empty()) {  // (a release with nobody waiting: no clock read)
        timer_.disarm();
        return;
      }
      const duration at = now();
      duration wake = limit::on_release;
      blocked_keys_.clear();
      for (auto* n = waiters_.front(); n != nullptr;) {
        auto* next = n->next;
        waiter& w = n->data;
        if (!blocked_keys_.empty() &&
            std::find(blocked_keys_.begin(), blocked_keys_.end(), w.key) != blocked_keys_.end()) {
          n = next;
          continue;
        }
        slot s;
        try {
          s = fit(w.arrival, w.cost, w.key);
        } catch (...) {  // a limit was lowered below this request
          waiters_.complete(n, std::current_exception());
          n = next;
          continue;
        }
        if (s.t > at) {
          wake = std::min(wake, s.t);
          if (s.by < limits_.size() && limits_[s.by].per_key) {
            blocked_keys_.push_back(w.key);
            n = next;
            continue;
          }
          break;
        }
        commit(s.t, at, w.cost, w.key);
        if (s.by < limits_.size() && at > w.arrival) limits_[s.by].lim->add_waited(at - w.arrival);
        *w.started = at;
        waiters_.complete(n);
        n = next;
      }
      if (wake == limit::on_release)
        timer_.disarm();
      else
        timer_.arm(wake, this->shared_from_this());
    }

    void on_cancelled(const waiter&) override { reschedule(); }
    // A lone waiter needs the timer armed; behind others it is served in its turn, unless
    // per-key limits may let it pass them.
    void on_queued() override {
      if (waiters_.size() == 1 || keyed_) reschedule();
    }

    void shutdown() {
      closed_ = true;
      for (auto& l : limits_) l.lim->unwatch(this);
      timer_.close();
      waiters_.fail_all(detail::cancelled_error());
    }

    detail::head_timer<Clock> timer_;
    std::vector<std::unique_ptr<limit>> owned_;
    std::vector<counted> limits_;
    detail::wait_queue<waiter> waiters_;
    std::vector<std::string_view> blocked_keys_;  // of waiters still queued
    duration held_until_{duration::min()};
    std::uint64_t max_cost_ = std::uint64_t(-1);  // the least max_cost() of the cost limits
    bool busy_ = false, again_ = false, closed_ = false;
    bool keyed_ = false;                // a per-key limit is in the set
    std::vector<std::size_t> holders_;  // the limits a ticket holds a place in
    std::size_t tickets_ = 0;           // held now
    std::shared_ptr<impl> keep_;        // itself, once the set is gone and tickets remain
  };

  std::shared_ptr<impl> impl_;
};

using limit_set = basic_limit_set<std::chrono::steady_clock>;

}  // namespace sluice
