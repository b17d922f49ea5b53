#include "run_limits.hpp"

#include "flags.hpp"
#include "task_kind.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace sluice::cli {

namespace {

// -j 0 and max_per_second=0 mean no limit; a cap or a rate that may be set later stands in.
constexpr std::uint64_t no_cap = std::uint64_t(1) << 40;
constexpr double no_rate = 1e9;
constexpr std::uint32_t no_rate_burst = 1u << 20;

aimd_options rate_control(double ceiling) {
  return {.floor = std::min(1.0, ceiling), .ceiling = ceiling};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

run_limits::run_limits(const run_config& c, const boost::asio::any_io_executor& ex,
                       bool send_time_starts, bool may_hold)
    : c_(c), max_at_once_(c.max_at_once), max_per_second_(c.max_per_second) {
  const bool changes = c.adaptive || !c.control.empty();
  if (changes) cap_.emplace(c.max_at_once == 0 ? no_cap : c.max_at_once);
  if (!c.redis.empty()) {
    share(ex);
  } else {
    if (c.max_per_second > 0) rate_.emplace(c.max_per_second, c.burst);
    for (const auto& w : c.windows)
      windows_.push_back({std::make_unique<window_limit>(w.count, w.per), counts::starts});
    if (c.min_gap.count() > 0)
      windows_.push_back({std::make_unique<window_limit>(1, c.min_gap), counts::starts});
    for (const auto& w : c.cost_windows)
      windows_.push_back({std::make_unique<window_limit>(w.count, w.per), counts::cost});
  }
  if (!rate_ && c.max_per_second == 0 && !c.control.empty()) rate_.emplace(no_rate, no_rate_burst);
  const bool shared_starts =
      std::any_of(shared_.begin(), shared_.end(), [](const shared& s) { return !s.cap; });
  if (send_time_starts && (rate_ || !windows_.empty() || shared_starts || may_hold)) {
    auto& s = starts_.emplace(ex);
    if (rate_) s.add_shared(*rate_, counts::starts);
    for (auto& w : windows_) s.add_shared(*w.lim, w.what);
    for (auto& l : shared_)
      if (!l.cap) s.add_shared(*l.lim, l.what);
  }
  if (c.adaptive) {
    if (c.max_at_once > 0) set_max_at_once(c.max_at_once);
    if (c.max_per_second > 0) set_rate(c.max_per_second);
  }
}

run_limits::~run_limits() {
  close_now();
}

// --redis: the limits live in keys "sluice:NAME:...", one per limit, named by what it is (two
// runs that give the same name and the same -r share one rate).
void run_limits::share(const boost::asio::any_io_executor& ex) {
  const run_config& c = c_;
  redis_ = std::make_unique<redis_client>(ex, redis_config::from_url(c.redis));
  const std::string where = redis_->config().display();
  auto say = [where](const std::string& m) {
    const std::string line = m.rfind("redis ", 0) == 0 ? "sluice: " + m + "\n"
                                                       : "sluice: redis " + where + ": " + m + "\n";
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
  };
  redis_->on_state(say);
  const std::string base = "sluice:" + c.limit_name + ":";
  auto ns = [](std::chrono::nanoseconds d) { return std::to_string(d.count()); };
  auto add = [&](std::unique_ptr<redis_limit> l, counts what, bool cap) {
    l->on_problem(say);
    shared_.push_back({std::move(l), what, cap});
  };
  if (c.max_per_second > 0) {
    auto rate =
        std::make_unique<redis_rate_limit>(*redis_, base + "rate", c.max_per_second, c.burst);
    // --adaptive: one AIMD value on the server, lowered by any process's 429 for all.
    if (c.adaptive) rate->adapt(rate_control(c.max_per_second));
    shared_rate_ = rate.get();
    add(std::move(rate), counts::starts, false);
  }
  for (const auto& w : c.windows)
    add(std::make_unique<redis_window_limit>(
            *redis_, base + "window:" + std::to_string(w.count) + "/" + ns(w.per), w.count, w.per),
        counts::starts, false);
  if (c.min_gap.count() > 0)
    add(std::make_unique<redis_window_limit>(*redis_, base + "min-gap:" + ns(c.min_gap), 1,
                                             c.min_gap),
        counts::starts, false);
  for (const auto& w : c.cost_windows)
    add(std::make_unique<redis_window_limit>(
            *redis_, base + "cost-window:" + std::to_string(w.count) + "/" + ns(w.per), w.count,
            w.per),
        counts::cost, false);
  if (c.shared_max_at_once > 0)
    add(std::make_unique<redis_lease_limit>(*redis_, base + "at-once", c.shared_max_at_once,
                                            c.lease_ttl),
        counts::starts, true);
}

boost::asio::awaitable<void> run_limits::open() {
  if (!redis_) co_return;
  try {
    std::vector<std::string> ping{"PING"};
    co_await redis_->command(std::move(ping));
  } catch (const redis_unavailable&) {
    // Reported by the client's state messages; the shared limits admit nothing until it is up.
  } catch (const redis_error& e) {
    throw usage_error("--redis " + redis_->config().display() + ": " + e.what());
  }
}

boost::asio::awaitable<void> run_limits::close() {
  for (auto& l : shared_) co_await l.lim->close();
  close_now();
}

void run_limits::close_now() noexcept {
  if (redis_) redis_->close();
}

run_limits::duration run_limits::now() {
  return std::chrono::steady_clock::now().time_since_epoch();
}

void run_limits::apply(options& o) {
  o.max_at_once = cap_ ? 0 : c_.max_at_once;
  if (cap_) o.limits.push_back({&*cap_, counts::starts});
  for (const auto& l : shared_)
    if (l.cap) o.limits.push_back({l.lim.get(), l.what});
  if (!starts_) {
    if (rate_) o.limits.push_back({&*rate_, counts::starts});
    for (const auto& w : windows_) o.limits.push_back({w.lim.get(), w.what});
    for (const auto& l : shared_)
      if (!l.cap) o.limits.push_back({l.lim.get(), l.what});
    if (!c_.cost_field.empty())
      o.cost = per_input<std::shared_ptr<const input_item>>(
          [](const std::shared_ptr<const input_item>& it) { return it->cost; });
  }
  if (c_.per_key) {
    o.per_key = c_.per_key;
    o.key = per_input<std::shared_ptr<const input_item>>(
        [](const std::shared_ptr<const input_item>& it) { return it->limit_key; });
  }
}

void run_limits::succeeded(duration started) {
  if (adaptive_cap_) adaptive_cap_->success(started, now());
  if (adaptive_rate_) adaptive_rate_->success(started, now());
  if (shared_rate_) shared_rate_->success(started);
}

void run_limits::overloaded(duration started) {
  if (adaptive_cap_) adaptive_cap_->signal(started, now());
  if (adaptive_rate_) adaptive_rate_->signal(started, now());
  if (shared_rate_) shared_rate_->signal(started);
}

void run_limits::hold(duration d) {
  if (c_.adaptive || !starts_) return;
  starts_->hold_for(std::min(d, c_.max_hold));
}

// With --adaptive a new value is the new ceiling (the value stays where AIMD took it, within
// the bounds); 0 (no limit) has no ceiling, so AIMD stops until a limit is set again.
void run_limits::set_max_at_once(std::uint64_t n) {
  max_at_once_ = n;
  if (!cap_) return;
  if (c_.adaptive && n > 0) {
    if (adaptive_cap_) {
      adaptive_cap_->control().set_bounds(1, double(n));
      adaptive_cap_->apply();
    } else {
      adaptive_cap_.emplace(*cap_, aimd_options{.floor = 1, .ceiling = double(n)});
    }
    return;
  }
  adaptive_cap_.reset();
  cap_->set_capacity(n == 0 ? no_cap : n);
}

void run_limits::set_rate(double r) {
  max_per_second_ = r;
  if (!rate_) return;
  // The stand-in for "no rate" has a huge burst; a real rate gets the run's --burst.
  if (r > 0 && rate_->burst() == no_rate_burst) rate_->set_burst(c_.burst);
  if (c_.adaptive && r > 0) {
    const auto o = rate_control(r);
    if (adaptive_rate_) {
      adaptive_rate_->control().set_bounds(o.floor, o.ceiling);
      adaptive_rate_->apply();
    } else {
      adaptive_rate_.emplace(*rate_, o);
    }
    return;
  }
  adaptive_rate_.reset();
  rate_->set_rate(r > 0 ? r : no_rate);
}

std::vector<std::string> run_limits::control(std::string_view text, const std::string& name) {
  std::vector<std::string> bad;
  std::size_t line = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view l = trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line;
    if (l.empty() || l.front() == '#') continue;
    const std::function<void(const std::string&)> complain = [&](const std::string& why) {
      bad.push_back(fmt::format("{}:{}: \"{}\": {}; ignored", name, line, l, why));
    };
    const auto eq = l.find('=');
    if (eq == std::string_view::npos) {
      complain("expected NAME=VALUE");
      continue;
    }
    const std::string_view field = trim(l.substr(0, eq)), value = trim(l.substr(eq + 1));
    try {
      apply_line(field, value, complain);
    } catch (const std::exception& e) {  // a value a limit refuses: reported, never fatal
      complain(e.what());
    }
  }
  return bad;
}

void run_limits::apply_line(std::string_view field, std::string_view value,
                            const std::function<void(const std::string&)>& complain) {
  if (field == "max_at_once" || field == "jobs") {
    std::uint64_t n = 0;
    if (!parse_number(value, n))
      return complain("max_at_once takes a whole number of tasks (0: no limit)");
    set_max_at_once(n);
  } else if (field == "max_per_second" || field == "rate") {
    double r = -1;
    if (!parse_number(value, r) || !std::isfinite(r) || r < 0 || (r > 0 && r < 1e-6) || r > 1e12)
      return complain(
          "max_per_second takes a number of starts per second from 1e-6 to 1e12 (0: no limit)");
    if (!rate_)
      return complain(redis_ ? "the rate is shared through --redis and not changed here"
                             : "no rate to change");
    set_rate(r);
  } else if (field == "burst") {
    std::uint32_t b = 0;
    if (!parse_number(value, b) || b == 0) return complain("burst takes a whole number >= 1");
    if (!rate_ || max_per_second_ == 0) return complain("burst needs a rate (max_per_second)");
    rate_->set_burst(b);
  } else {
    complain("unknown limit (max_at_once, max_per_second, burst)");
  }
}

std::string run_limits::describe() const {
  std::string text;
  const auto waited = [](const limit& l) {
    const double s = std::chrono::duration<double>(l.waited()).count();
    return s >= 0.05 ? fmt::format(", waited {:.1f}s", s) : std::string();
  };
  if (cap_) {
    text +=
        cap_->capacity() >= no_cap ? fmt::format("-j -") : fmt::format("-j {}", cap_->capacity());
    text += waited(*cap_);
  }
  if (rate_ && rate_->rate() < no_rate) {
    if (!text.empty()) text += "; ";
    text += fmt::format("-r {:.3g}/s", rate_->rate()) + waited(*rate_);
  }
  for (const auto& l : shared_) {
    if (!text.empty()) text += "; ";
    text += l.lim->describe() + waited(*l.lim);
  }
  for (const auto& w : windows_) {
    if (!text.empty()) text += "; ";
    const auto& s = w.lim->state();
    text +=
        fmt::format("{}/{:g}s", s.capacity(), std::chrono::duration<double>(s.window()).count()) +
        waited(*w.lim);
  }
  return text;
}

}  // namespace sluice::cli
