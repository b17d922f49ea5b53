#include "sluice/options.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

namespace sluice {
namespace {

// True when all of `text` is one number.
template <class T>
bool parse_whole(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

void validate(const options& opts) {
  if (std::isnan(opts.max_per_second) || std::isinf(opts.max_per_second) || opts.max_per_second < 0)
    throw std::invalid_argument(
        "options.max_per_second must be a finite number >= 0 (0 = unlimited), got " +
        std::to_string(opts.max_per_second));
  if (opts.max_per_second > 0 && opts.max_per_second < 1e-6)
    throw std::invalid_argument("options.max_per_second must be >= 1e-6 when set, got " +
                                std::to_string(opts.max_per_second));
  if (opts.burst == 0) throw std::invalid_argument("options.burst must be >= 1, got 0");
  if (opts.timeout.count() < 0)
    throw std::invalid_argument("options.timeout must be >= 0 (0 = none), got " +
                                std::to_string(opts.timeout.count()) + " ns");
  const auto& r = opts.retry;
  if (r.attempts == 0)
    throw std::invalid_argument("options.retry.attempts must be >= 1 (1 = no retry), got 0");
  if (r.attempts > 1 && (r.base.count() <= 0 || r.cap.count() <= 0))
    throw std::invalid_argument("options.retry.base and options.retry.cap must be > 0");
  if (opts.errors == error_policy::halt && opts.halt.count == 0 &&
      !(opts.halt.percent > 0 && opts.halt.percent <= 100))
    throw std::invalid_argument("options.halt.percent must be in (0, 100] when count is 0, got " +
                                std::to_string(opts.halt.percent));
  if (opts.per_key && !opts.key)
    throw std::invalid_argument("options.per_key needs options.key (the key of each task)");
  if (opts.per_key) keyed_limit check{*opts.per_key};  // throws naming the bad field
  for (const limit_ref& l : opts.limits)
    if (l.lim == nullptr) throw std::invalid_argument("options.limits holds a null limit");
}

halt_policy halt_policy::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("halt policy '" + std::string(text) + "': " + why +
                                 " (expected now|soon,fail|success|done=N|P%)");
  };
  halt_policy h;
  const auto comma = text.find(',');
  if (comma == std::string_view::npos) throw bad("missing ','");
  const auto when = text.substr(0, comma);
  if (when == "now")
    h.when = mode::now;
  else if (when == "soon")
    h.when = mode::soon;
  else
    throw bad("unknown mode '" + std::string(when) + "'");
  const auto rest = text.substr(comma + 1);
  const auto eq = rest.find('=');
  if (eq == std::string_view::npos) throw bad("missing '='");
  const auto event = rest.substr(0, eq);
  if (event == "fail")
    h.on = trigger::fail;
  else if (event == "success")
    h.on = trigger::success;
  else if (event == "done")
    h.on = trigger::done;
  else
    throw bad("unknown event '" + std::string(event) + "'");
  auto value = rest.substr(eq + 1);
  const bool percent = !value.empty() && value.back() == '%';
  if (percent) value.remove_suffix(1);
  if (percent) {
    double p = 0;
    if (!parse_whole(value, p) || !(p > 0 && p <= 100))
      throw bad("the percentage must be a number in (0, 100]");
    h.count = 0;
    h.percent = p;
  } else {
    std::size_t n = 0;
    if (!parse_whole(value, n) || n == 0) throw bad("the count must be an integer >= 1");
    h.count = n;
  }
  return h;
}

std::string halt_policy::to_string() const {
  std::string s = when == mode::now ? "now," : "soon,";
  s += on == trigger::fail ? "fail=" : on == trigger::success ? "success=" : "done=";
  if (count > 0) return s + std::to_string(count);
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, percent);
  return s + std::string(buf, end) + "%";
}

bool halt_policy::met(std::size_t succeeded, std::size_t failed) const noexcept {
  const std::size_t done = succeeded + failed;
  const std::size_t hits = on == trigger::fail ? failed : on == trigger::success ? succeeded : done;
  if (count > 0) return hits >= count;
  return done >= 3 && static_cast<double>(hits) * 100.0 >= percent * static_cast<double>(done);
}

}  // namespace sluice
