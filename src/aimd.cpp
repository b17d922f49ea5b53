#include "sluice/aimd.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sluice {

namespace {
void check(const aimd_options& o) {
  if (!(o.floor > 0) || !std::isfinite(o.floor))
    throw std::invalid_argument("aimd: floor must be > 0");
  if (!(o.ceiling >= o.floor) || !std::isfinite(o.ceiling))
    throw std::invalid_argument("aimd: ceiling must be >= floor");
  if (!(o.increase >= 0) || !std::isfinite(o.increase))
    throw std::invalid_argument("aimd: increase must be >= 0");
  if (!(o.decrease > 0 && o.decrease < 1))
    throw std::invalid_argument("aimd: decrease must be in (0, 1)");
  if (o.latency_target.count() < 0)
    throw std::invalid_argument("aimd: latency_target must be >= 0");
}
}  // namespace

aimd::aimd(aimd_options o) : o_(o), value_(o.ceiling) {
  check(o_);
}

bool aimd::success(duration started, duration now) {
  if (o_.latency_target.count() > 0 && now - started > o_.latency_target)
    return signal(started, now);
  const double before = value_;
  value_ = std::min(o_.ceiling, value_ + o_.increase / value_);
  return value_ != before;
}

bool aimd::signal(duration started, duration now) {
  ++signals_;
  if (started < last_decrease_) return false;  // of the round the last decrease answered
  last_decrease_ = now;
  const double before = value_;
  value_ = std::max(o_.floor, value_ * o_.decrease);
  if (value_ == before) return false;
  ++decreases_;
  return true;
}

void aimd::set_bounds(double floor, double ceiling) {
  aimd_options o = o_;
  o.floor = floor;
  o.ceiling = ceiling;
  check(o);
  o_ = o;
  value_ = std::clamp(value_, o_.floor, o_.ceiling);
}

namespace detail {

void apply_value(concurrency_limit& cap, double value) {
  const auto c = static_cast<std::uint64_t>(std::max(1.0, std::floor(value)));
  if (c != cap.capacity()) cap.set_capacity(c);
}

void apply_value(gcra_limit& rate, double value) {
  if (value != rate.rate()) rate.set_rate(value);
}

}  // namespace detail

}  // namespace sluice
