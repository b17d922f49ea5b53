#include "sluice/gcra.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace sluice {
namespace {

// 128-bit intermediates: (burst - 1) * frac and frac rescaling exceed 64 bits.
__extension__ typedef unsigned __int128 u128;

constexpr std::uint64_t ns_per_second_scaled = 1'000'000'000'000'000ULL;  // 1e9 ns * 1e6 scale
// Above this the interval is below a femtosecond; nothing runs that fast.
constexpr double max_rate = 1e12;

std::uint64_t quantize_rate(double rate) {
  if (!std::isfinite(rate) || rate <= 0)
    throw std::invalid_argument("rate must be a finite number of starts per second > 0, got " +
                                std::to_string(rate));
  if (rate < 1e-6 || rate > max_rate)
    throw std::invalid_argument("rate must be between 1e-6 and 1e12 starts per second, got " +
                                std::to_string(rate));
  return static_cast<std::uint64_t>(std::llround(rate * 1e6));
}

void check_burst(std::uint32_t burst) {
  if (burst == 0) throw std::invalid_argument("burst must be >= 1, got 0");
}

}  // namespace

gcra::gcra(double rate, std::uint32_t burst) : den_(quantize_rate(rate)), burst_(burst) {
  check_burst(burst);
  recompute();
}

void gcra::recompute() {
  interval_ = {static_cast<std::int64_t>(ns_per_second_scaled / den_), ns_per_second_scaled % den_};
  tolerance_ = times(interval_, burst_ - 1);
}

gcra::fixed gcra::times(fixed d, std::uint64_t n) const {
  // (One start, the common case, needs no 128-bit division.)
  if (n <= 1) return n == 1 ? d : fixed{};
  const u128 frac = static_cast<u128>(d.frac) * n;
  return {static_cast<std::int64_t>(d.ns * static_cast<std::int64_t>(n) +
                                    static_cast<std::int64_t>(frac / den_)),
          static_cast<std::uint64_t>(frac % den_)};
}

gcra::fixed gcra::add(fixed a, fixed b) const {
  fixed r{a.ns + b.ns, a.frac + b.frac};
  if (r.frac >= den_) {
    r.frac -= den_;
    ++r.ns;
  }
  return r;
}

gcra::fixed gcra::sub(fixed a, fixed b) const {
  fixed r{a.ns - b.ns, a.frac};
  if (r.frac < b.frac) {
    r.frac += den_;
    --r.ns;
  }
  r.frac -= b.frac;
  return r;
}

gcra::duration gcra::round_up(fixed t) {
  return duration{t.ns + (t.frac != 0 ? 1 : 0)};
}

gcra::fixed gcra::earliest_exact(duration now, std::uint32_t n) const {
  if (n == 0 || n > burst_)
    throw std::invalid_argument("a rate limiter with burst " + std::to_string(burst_) +
                                " can never admit " + std::to_string(n) + " starts at once");
  const fixed fnow{now.count(), 0};
  if (!started_) return fnow;
  // Conforms at t when max(TAT, t) + n*T - t <= tau + T, i.e. t >= TAT + (n-1)*T - tau.
  const fixed at = sub(add(tat_, times(interval_, n - 1)), tolerance_);
  return less(at, fnow) ? fnow : at;
}

gcra::duration gcra::earliest(duration now, std::uint32_t n) const {
  const fixed at = earliest_exact(now, n);
  return round_up(at);
}

void gcra::commit(duration t, std::uint32_t n) {
  commit_exact({t.count(), 0}, n);
}

void gcra::commit_exact(fixed t, std::uint32_t n) {
  const fixed base = (!started_ || less(tat_, t)) ? t : tat_;
  tat_ = add(base, times(interval_, n));
  started_ = true;
}

void gcra::hold_until(duration t) {
  // Starts conform from TAT - tau on: TAT = t + tau makes t the first, then one per T.
  const fixed target = add({t.count(), 0}, tolerance_);
  if (!started_ || less(tat_, target)) tat_ = target;
  started_ = true;
}

gcra::duration gcra::reserve(duration now, std::uint32_t n) {
  // Committed at the exact conforming time, not the whole ns it is reported as, so that
  // back-to-back reservations stay on the exact grid of T.
  const fixed at = earliest_exact(now, n);
  commit_exact(at, n);
  return round_up(at);
}

bool gcra::try_commit(duration now, std::uint32_t n) {
  if (earliest(now, n) > now) return false;
  commit(now, n);
  return true;
}

void gcra::set_rate(double rate) {
  const std::uint64_t den = quantize_rate(rate);
  // Keep TAT; re-express its fraction in the new denominator (rounding down < 1 ns).
  tat_.frac = static_cast<std::uint64_t>(static_cast<u128>(tat_.frac) * den / den_);
  den_ = den;
  recompute();
}

void gcra::set_burst(std::uint32_t burst) {
  check_burst(burst);
  burst_ = burst;
  recompute();
}

double gcra::rate() const noexcept {
  return static_cast<double>(den_) / 1e6;
}

}  // namespace sluice
