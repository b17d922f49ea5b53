#include "sluice/sliding_window.hpp"

#include <algorithm>
#include <bit>
#include <iterator>
#include <stdexcept>
#include <string>

namespace sluice {

namespace {

// Above exact_capacity, a window is cut into at least this many quanta (its most entries).
constexpr std::int64_t quanta_per_window = 65'536;

void check(std::uint64_t capacity, std::chrono::nanoseconds window, std::chrono::nanoseconds gap) {
  if (capacity == 0) throw std::invalid_argument("sliding_window: capacity must be >= 1");
  if (window.count() <= 0) throw std::invalid_argument("sliding_window: window must be > 0");
  if (gap.count() < 0) throw std::invalid_argument("sliding_window: min_gap must be >= 0");
}

}  // namespace

sliding_window::sliding_window(std::uint64_t capacity, duration window, duration min_gap)
    : capacity_(capacity), window_(window), gap_(min_gap) {
  check(capacity, window, min_gap);
  requantize();
}

void sliding_window::requantize() {
  // (Entries already recorded keep their times: rounded up or not, each stays conservative.)
  quantum_ = 0;
  if (capacity_ <= exact_capacity) return;
  const std::int64_t least = (window_.count() + quanta_per_window - 1) / quanta_per_window;
  quantum_ = std::int64_t(std::bit_ceil(static_cast<std::uint64_t>(least)));
  if (quantum_ == 1) quantum_ = 0;  // a nanosecond: exact
}

sliding_window::duration sliding_window::earliest(duration now, std::uint64_t cost) const {
  if (cost == 0 || cost > capacity_)
    throw std::invalid_argument("sliding_window: a start of cost " + std::to_string(cost) +
                                " never fits a capacity of " + std::to_string(capacity_));
  duration t = std::max(now, hold_);
  if (last_ != duration::min()) t = std::max(t, last_ + gap_);
  if (total_ + cost <= capacity_) return t;  // it fits beside every start still recorded
  // The window at t is (t - window, t]: a start at s is in it while t < s + window. Walk the
  // starts from the oldest: while the ones still in the window leave no room, t moves to
  // when the oldest of them leaves.
  std::uint64_t in_window = total_;
  for (const start& s : starts_) {
    if (s.at + window_ <= t) {
      in_window -= s.cost;
      continue;
    }
    if (in_window + cost <= capacity_) break;
    t = s.at + window_;
    in_window -= s.cost;
  }
  return t;
}

void sliding_window::forget_before(duration t) {
  while (!starts_.empty() && starts_.front().at + window_ <= t) {
    total_ -= starts_.front().cost;
    starts_.pop_front();
  }
}

void sliding_window::commit(duration t, std::uint64_t cost) {
  forget_before(t);
  last_ = std::max(last_, t);
  // (Never before the last entry: one recorded under a coarser quantum, before the capacity
  // or the window changed, may be later than this start. The entries stay in time order.)
  t = starts_.empty() ? recorded(t) : std::max(recorded(t), starts_.back().at);
  if (!starts_.empty() && starts_.back().at == t)
    starts_.back().cost += cost;
  else
    starts_.push_back({t, cost});
  total_ += cost;
}

bool sliding_window::try_commit(duration now, std::uint64_t cost) {
  if (earliest(now, cost) > now) return false;
  commit(now, cost);
  return true;
}

void sliding_window::settle(duration t, std::uint64_t estimated, std::uint64_t actual) {
  t = recorded(t);
  auto it = std::lower_bound(starts_.begin(), starts_.end(), t,
                             [](const start& s, duration at) { return s.at < at; });
  if (it == starts_.end() || it->at != t) return;
  // (Starts at the same ns share an entry: only this start's part of it changes.)
  const std::uint64_t others = it->cost - std::min(it->cost, estimated);
  total_ -= it->cost;
  it->cost = others + actual;
  total_ += it->cost;
  if (it->cost == 0) starts_.erase(it);
}

void sliding_window::agree(duration now, std::uint64_t remaining, duration reset) {
  if (reset <= now) return;
  forget_before(now);
  const std::uint64_t in_use = used(now);
  const std::uint64_t room = capacity_ > in_use ? capacity_ - in_use : 0;
  if (remaining >= room) return;
  // An entry at `at` is in every window up to at + window: it leaves at reset (bucketed: up
  // to a quantum after).
  const duration at = recorded(std::min(reset - window_, now));
  auto it = std::upper_bound(starts_.begin(), starts_.end(), at,
                             [](duration t, const start& s) { return t < s.at; });
  if (it != starts_.begin() && std::prev(it)->at == at)
    std::prev(it)->cost += room - remaining;  // (a bucket of starts already there)
  else
    starts_.insert(it, {at, room - remaining});
  total_ += room - remaining;
}

void sliding_window::hold_until(duration t) {
  hold_ = std::max(hold_, t);
}

void sliding_window::set_capacity(std::uint64_t capacity) {
  check(capacity, window_, gap_);
  capacity_ = capacity;
  requantize();
}

void sliding_window::set_window(duration window) {
  check(capacity_, window, gap_);
  window_ = window;
  requantize();
}

void sliding_window::set_min_gap(duration gap) {
  check(capacity_, window_, gap);
  gap_ = gap;
}

std::uint64_t sliding_window::used(duration now) const noexcept {
  std::uint64_t sum = 0;
  // (Every start is at or before now; a bucketed one is recorded up to a quantum after.)
  for (const start& s : starts_)
    if (s.at + window_ > now) sum += s.cost;
  return sum;
}

}  // namespace sluice
