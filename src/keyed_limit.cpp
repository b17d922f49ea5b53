#include "sluice/keyed_limit.hpp"

#include "sluice/detail/gcra_settle.hpp"
#include "sluice/detail/number_text.hpp"

#include <algorithm>
#include <stdexcept>

namespace sluice {

namespace {
// Keys looked at for idleness at each start: enough to drop keys faster than one start
// creates them, few enough to keep a start O(1).
constexpr std::size_t sweep_budget = 4;
}  // namespace

keyed_limit::keyed_limit(per_key_limits spec) : spec_(std::move(spec)) {
  if (spec_.max_at_once == 0 && spec_.max_per_second == 0 && spec_.windows.empty())
    throw std::invalid_argument("per-key limits: set max_at_once, max_per_second or a window");
  prototype_ = fresh();  // validates the rate and the windows
  max_cost_ = std::uint64_t(-1);
  if (spec_.max_at_once > 0) max_cost_ = spec_.max_at_once;
  if (spec_.max_per_second > 0) max_cost_ = std::min<std::uint64_t>(max_cost_, spec_.burst);
  for (const auto& w : spec_.windows) max_cost_ = std::min(max_cost_, w.capacity);
}

keyed_limit::~keyed_limit() = default;

keyed_limit::state keyed_limit::fresh() const {
  state s;
  if (spec_.max_per_second > 0) s.rate.emplace(spec_.max_per_second, spec_.burst);
  for (const auto& w : spec_.windows) s.windows.emplace_back(w.capacity, w.length);
  return s;
}

limit::duration keyed_limit::earliest_in(const state& s, duration after, std::uint64_t cost) const {
  if (cost > max_cost_)
    throw std::invalid_argument("per-key limits: a start of cost " + std::to_string(cost) +
                                " never fits (the most one key admits is " +
                                std::to_string(max_cost_) + ")");
  if (spec_.max_at_once > 0 && s.held + cost > spec_.max_at_once) return on_release;
  duration t = std::max(after, hold_);
  for (bool moved = true; moved;) {
    moved = false;
    auto move_to = [&](duration e) {
      if (e > t) {
        t = e;
        moved = true;
      }
    };
    if (s.rate) move_to(s.rate->earliest(t, static_cast<std::uint32_t>(cost)));
    for (const auto& w : s.windows) move_to(w.earliest(t, cost));
  }
  return t;
}

limit::duration keyed_limit::earliest(duration after, const demand& d) const {
  auto it = keys_.find(d.key);
  return earliest_in(it == keys_.end() ? prototype_ : it->second, after, d.cost);
}

void keyed_limit::commit(duration scheduled, duration actual, const demand& d) {
  auto [it, created] = keys_.try_emplace(std::string(d.key));
  state& s = it->second;
  if (created) {
    s = fresh();
    s.key = &it->first;
  } else {
    unlink(s);
  }
  touch(s);
  s.held += spec_.max_at_once > 0 ? d.cost : 0;
  if (s.rate) s.rate->commit(scheduled, static_cast<std::uint32_t>(d.cost));
  for (auto& w : s.windows) w.commit(actual, d.cost);
  sweep(actual, sweep_budget);
}

void keyed_limit::release(duration now, const demand& d) {
  if (spec_.max_at_once == 0) return;
  auto it = keys_.find(d.key);
  if (it == keys_.end()) return;
  state& s = it->second;
  s.held -= std::min(s.held, d.cost);
  if (idle(s, now)) {
    unlink(s);
    keys_.erase(it);
  }
  notify();
}

void keyed_limit::settle(duration at, const demand& d, std::uint64_t actual) {
  auto it = keys_.find(d.key);
  if (it == keys_.end()) return;
  state& s = it->second;
  for (auto& w : s.windows) w.settle(at, d.cost, actual);
  if (s.rate) detail::charge_extra(*s.rate, at, d.cost, actual);
  if (actual < d.cost) notify();
}

void keyed_limit::hold_until(duration t) {
  hold_ = std::max(hold_, t);
}

bool keyed_limit::idle(const state& s, duration now) const {
  // Idle: the state admits at `now` whatever a fresh one would, so dropping it changes no
  // decision.
  if (s.held > 0) return false;
  if (s.rate && s.rate->earliest(now, s.rate->burst()) > now) return false;
  for (const auto& w : s.windows)
    if (w.used(now) > 0) return false;
  return true;
}

void keyed_limit::touch(state& s) {
  s.older = newest_;
  s.newer = nullptr;
  if (newest_) newest_->newer = &s;
  newest_ = &s;
  if (!oldest_) oldest_ = &s;
}

void keyed_limit::unlink(state& s) {
  (s.older ? s.older->newer : oldest_) = s.newer;
  (s.newer ? s.newer->older : newest_) = s.older;
  s.older = s.newer = nullptr;
}

void keyed_limit::sweep(duration now, std::size_t budget) {
  // The least recently used keys: an idle one is dropped, a busy one goes to the back (a
  // long-running task must not shield the idle keys behind it).
  for (; budget > 0 && oldest_ && oldest_ != newest_; --budget) {
    state& s = *oldest_;
    unlink(s);
    if (idle(s, now)) {
      keys_.erase(keys_.find(*s.key));
    } else {
      touch(s);
    }
  }
}

std::string keyed_limit::describe() const {
  std::string text = "per key:";
  if (spec_.max_at_once > 0) text += " at once " + std::to_string(spec_.max_at_once);
  if (spec_.max_per_second > 0)
    text += " rate " + detail::number_text(spec_.max_per_second) + "/s burst " +
            std::to_string(spec_.burst);
  for (const auto& w : spec_.windows)
    text += " window " + std::to_string(w.capacity) + "/" +
            detail::number_text(std::chrono::duration<double>(w.length).count()) + "s";
  return text + " (" + std::to_string(keys_.size()) + " keys)";
}

}  // namespace sluice
