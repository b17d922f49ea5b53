#include "sluice/redis_limit.hpp"

#include "sluice/detail/number_text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <utility>

namespace sluice {

namespace asio = boost::asio;

namespace {

// Times on the server are microseconds since its epoch (exact in a Lua double until 2255):
// `now`, as the rate and window scripts begin.
const std::string now_us = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
)lua";

// GCRA with reservation. KEYS: the TAT, and the AIMD state of an adaptive rate. ARGV: emission
// interval (us, may be fractional), burst, cost, and how late (us) the caller's starts since
// its last call were; for an adaptive rate also floor, ceiling, increase, decrease (as
// sluice::aimd), the caller's successes since its last call and the latest start (us) of its
// signalled attempts (-1: none). Adaptive: the successes raise the value (each by
// increase / value), a signal from a start at or after the last decrease lowers it once, and
// the interval is 1 / value. Conforms at t when t >= TAT + (cost - burst) * T; reserves the
// earliest such t >= now (TAT = max(TAT, t) + cost * T) and returns {that time, now} in us on
// the server's clock, and the value in thousandths (0 when not adaptive). Late starts first
// move a TAT still ahead of now: they used their slots later than reserved.
const redis_script gcra_script{now_us + R"lua(
local period = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local late = tonumber(ARGV[4])
local value = 0
if #ARGV >= 10 then
  local floor, ceiling = tonumber(ARGV[5]), tonumber(ARGV[6])
  local increase, decrease = tonumber(ARGV[7]), tonumber(ARGV[8])
  local successes, signalled = tonumber(ARGV[9]), tonumber(ARGV[10])
  local v = tonumber(redis.call('HGET', KEYS[2], 'value') or '') or ceiling
  local decreased = tonumber(redis.call('HGET', KEYS[2], 'decreased') or '') or -1
  if v > ceiling then v = ceiling end
  if v < floor then v = floor end
  for i = 1, math.min(successes, 100000) do
    if v >= ceiling then break end
    v = math.min(ceiling, v + increase / v)
  end
  if signalled >= 0 and signalled >= decreased then
    v = math.max(floor, v * decrease)
    decreased = now
  end
  redis.call('HSET', KEYS[2], 'value', string.format('%.6f', v),
             'decreased', string.format('%d', decreased))
  redis.call('PEXPIRE', KEYS[2], 3600000)
  period = 1000000 / v
  value = math.floor(v * 1000 + 0.5)
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if late > 0 and tat > now then tat = tat + late end
local at = tat + (cost - burst) * period
if at < now then at = now end
local base = tat
if base < at then base = at end
local new_tat = base + cost * period
redis.call('SET', KEYS[1], string.format('%.3f', new_tat),
           'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {math.ceil(at), now, value}
)lua"};

// Sliding window. KEYS: the starts (a sorted set of "id:cost" scored by time), their sum.
// ARGV: window (us), capacity, cost, a unique member id. Returns 0 when admitted (recorded
// now), else the wait in us until enough starts have left the window.
const redis_script window_script{now_us + R"lua(
local window = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local cutoff = now - window
local function cost_of(member)
  return tonumber(string.match(member, ':(%d+)$')) or 1
end
local sum = tonumber(redis.call('GET', KEYS[2]) or '') or 0
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if #gone > 0 then
  for _, m in ipairs(gone) do sum = sum - cost_of(m) end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  if sum < 0 then sum = 0 end
end
local keep_ms = math.ceil(window / 1000) + 1000
if sum + cost <= capacity then
  redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. cost)
  redis.call('SET', KEYS[2], sum + cost, 'PX', keep_ms)
  redis.call('PEXPIRE', KEYS[1], keep_ms)
  return 0
end
redis.call('SET', KEYS[2], sum, 'PX', keep_ms)
local need = sum + cost - capacity
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local freed = 0
for i = 1, #entries, 2 do
  freed = freed + cost_of(entries[i])
  if freed >= need then
    return math.max(1, math.ceil(tonumber(entries[i + 1]) + window - now) + 1)
  end
end
return math.ceil(window)
)lua"};

// What both lease scripts begin with: the server's time in ms, ARGV[1] the capacity and ARGV[2]
// the lease time (ms), and the expired leases dropped.
const std::string leases_now = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
)lua";

// Leases. KEYS: the sorted set of lease ids scored by expiry (ms). ARGV: capacity, ttl (ms),
// cost, id prefix. Takes `cost` places: returns {1, 0}; or none: {0, ms until the first
// expiry}.
const redis_script lease_script{leases_now + R"lua(
local cost = tonumber(ARGV[3])
local n = redis.call('ZCARD', KEYS[1])
if n + cost <= capacity then
  for i = 1, cost do redis.call('ZADD', KEYS[1], now + ttl, ARGV[4] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  return {1, 0}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = ttl
if #first > 0 then wait = tonumber(first[2]) - now end
return {0, math.max(1, wait)}
)lua"};

// Renewal. KEYS: the leases. ARGV: capacity, ttl (ms), ids... Each id held gets a new
// expiry; one gone (it expired while the server was unreachable, or the server lost it) is
// taken again if there is room. Returns how many could not be.
const redis_script renew_script{leases_now + R"lua(
local lost = 0
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
  elseif redis.call('ZCARD', KEYS[1]) < capacity then
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
  else
    lost = lost + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return lost
)lua"};

// A prefix unique to this process and limit: host, pid and 48 random bits.
std::string unique_prefix() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::random_device rd;
  const std::uint64_t r = (std::uint64_t(rd()) << 16) ^ rd();
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(r);
}

// An interval in us with its fraction (a rate of 3/s is 333333.333333 us).
std::string interval_text(double us) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", us);
  return buf;
}

std::int64_t micros(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

// ----- redis_limit --------------------------------------------------------------------------

redis_limit::redis_limit(redis_client& client, std::string key)
    : client_(client),
      key_(std::move(key)),
      self_(std::make_shared<redis_limit*>(this)),
      idle_(client.get_executor()) {}

redis_limit::~redis_limit() {
  *self_ = nullptr;
}

redis_limit::duration redis_limit::now() {
  return std::chrono::duration_cast<duration>(std::chrono::steady_clock::now().time_since_epoch());
}

limit::duration redis_limit::earliest(duration after, const demand& d) const {
  if (d.cost > max_cost())
    throw std::invalid_argument(describe() + ": a start of cost " + std::to_string(d.cost) +
                                " never fits");
  if (ready_ && ready_->cost >= d.cost) return std::max({after, ready_->at - lead(), hold_});
  const duration t = now();
  if (hold_ > t) return hold_;  // no question while held
  if (asking_) return on_release;
  if (retry_at_ > t) return std::max(after, retry_at_);
  start_asking(d.cost - (ready_ ? ready_->cost : 0));
  return on_release;
}

void redis_limit::commit(duration, duration actual, const demand& d) {
  // The set commits only what earliest() admitted: a grant of at least d.cost. What the
  // grant has beyond it (a cheaper waiter took it) is not carried over.
  if (!ready_) return;
  grant g = std::move(*ready_);
  ready_.reset();
  (void)d;
  // How late, against the slot placed through the best clock offset known now (the first
  // replies of a run are slower than the later ones, and placed their slots late).
  const duration slot =
      g.server_at_us >= 0 && offset_ ? std::chrono::microseconds(g.server_at_us) + *offset_ : g.at;
  took(std::move(g.ids), g.cost, std::max(duration{0}, actual - slot));
}

void redis_limit::start_asking(std::uint64_t cost) const {
  auto* self = const_cast<redis_limit*>(this);
  self->asking_ = true;
  ++self->in_flight_;
  asio::co_spawn(client_.get_executor(), self->asking(self_, cost), asio::detached);
}

// (Every coroutine of a limit takes `alive` by value and looks at it before touching the
// limit: it may run, or resume, after the limit is gone.)
asio::awaitable<void> redis_limit::asking(std::shared_ptr<redis_limit*> alive, std::uint64_t cost) {
  if (*alive == nullptr) co_return;
  const std::string where = client_.config().display();
  std::optional<answer> a;
  std::string problem;
  try {
    a = co_await ask(cost);
  } catch (const redis_unavailable& e) {
    problem = std::string(e.what()) + "; tasks wait";
  } catch (const redis_error& e) {
    problem = "redis " + where + ": " + e.what() + "; tasks wait";
  } catch (const std::exception& e) {
    problem = "redis " + where + ": " + e.what() + "; tasks wait";
  }
  if (*alive == nullptr) co_return;
  ++calls_;
  asking_ = false;
  const duration t = now();
  if (a) {
    answered(*a);
    backoff_ = {};
    if (!last_problem_.empty())
      tell("redis " + client_.config().display() + ": limits work again", true);
    duration at = t + a->wait;
    if (a->server_now_us >= 0) {
      const duration sample = t - std::chrono::microseconds(a->server_now_us);
      if (offset_) *offset_ += (t - offset_seen_) / 50'000;  // 20 ppm
      offset_ = offset_ ? std::min(*offset_, sample) : sample;
      offset_seen_ = t;
      at = std::chrono::microseconds(a->server_at_us) + *offset_;
    }
    if (a->granted) {
      if (ready_) {
        ready_->at = std::max(ready_->at, at);
        ready_->server_at_us = std::max(ready_->server_at_us, a->server_at_us);
        ready_->cost += cost;
        for (auto& id : a->ids) ready_->ids.push_back(std::move(id));
      } else {
        ready_ = grant{at, cost, std::move(a->ids), a->server_at_us};
      }
    } else {
      retry_at_ = t + a->wait;
    }
  } else {
    ++failures_;
    backoff_ = std::min<duration>(std::max<duration>(backoff_ * 2, std::chrono::milliseconds(50)),
                                  std::chrono::seconds(1));
    retry_at_ = t + backoff_;
    tell(problem);
  }
  call_ended();
  notify();  // the sets look again: at the grant, or at retry_at_
}

std::optional<std::int64_t> redis_limit::server_time(duration local) const {
  if (!offset_) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::microseconds>(local - *offset_).count();
}

void redis_limit::call_ended() {
  if (--in_flight_ == 0) idle_.cancel();
}

void redis_limit::tell(const std::string& message, bool recovered) {
  if (message == last_problem_) return;
  last_problem_ = recovered ? std::string() : message;
  if (problem_) problem_(message);
}

std::vector<std::string> redis_limit::unused_ids() {
  std::vector<std::string> ids;
  if (ready_) ids = std::move(ready_->ids);
  ready_.reset();
  return ids;
}

asio::awaitable<void> redis_limit::close() {
  auto alive = self_;
  ready_.reset();
  while (*alive != nullptr && in_flight_ > 0) {
    idle_.expires_at(asio::steady_timer::time_point::max());
    co_await idle_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// ----- redis_rate_limit ---------------------------------------------------------------------

redis_rate_limit::redis_rate_limit(redis_client& client, std::string key, double rate,
                                   std::uint32_t burst)
    : redis_limit(client, std::move(key)), rate_(rate), burst_(burst), value_(rate) {
  if (!std::isfinite(rate) || rate <= 0 || rate > 1e12)
    throw std::invalid_argument("redis rate limit: the rate must be > 0 and at most 1e12");
  if (burst == 0) throw std::invalid_argument("redis rate limit: burst must be >= 1");
}

void redis_rate_limit::adapt(const aimd_options& o) {
  (void)aimd(o);  // its checks
  aimd_ = o;
  value_ = o.ceiling;
}

void redis_rate_limit::success(duration) {
  if (aimd_) ++successes_;
}

void redis_rate_limit::signal(duration started) {
  if (!aimd_) return;
  if (const auto at = server_time(started)) signal_start_us_ = std::max(signal_start_us_, *at);
}

asio::awaitable<redis_limit::answer> redis_rate_limit::ask(std::uint64_t cost) {
  // (Named vectors: GCC 12 mishandles braced temporaries in a co_await expression.)
  std::vector<std::string> keys{key_};
  std::vector<std::string> args{
      interval_text(1e6 / rate_), std::to_string(burst_), std::to_string(cost),
      interval_text(
          std::chrono::duration<double, std::micro>(std::exchange(late_, duration{0})).count())};
  if (aimd_) {
    keys.push_back(key_ + ":aimd");
    for (const double x : {aimd_->floor, aimd_->ceiling, aimd_->increase, aimd_->decrease})
      args.push_back(interval_text(x));
    args.push_back(std::to_string(std::exchange(successes_, 0)));
    args.push_back(std::to_string(std::exchange(signal_start_us_, -1)));
  }
  auto r = co_await client_.eval(gcra_script, std::move(keys), std::move(args));
  if (r.elements.size() != 3) throw redis_error("the rate script answered no triple");
  answer a{true, {}, {}};
  a.server_at_us = r.elements[0].as_integer();
  a.server_now_us = r.elements[1].as_integer();
  a.wait = std::chrono::microseconds(std::max<std::int64_t>(0, a.server_at_us - a.server_now_us));
  if (const auto v = r.elements[2].as_integer(); v > 0) a.rate = static_cast<double>(v) / 1000;
  co_return a;
}

void redis_rate_limit::answered(const answer& a) {
  if (aimd_ && a.rate > 0) value_ = a.rate;
}

void redis_rate_limit::took(std::vector<std::string>, std::uint64_t cost, duration late) {
  const auto slots = std::chrono::duration<double>(static_cast<double>(cost) / value_);
  late_ += std::min(late, std::chrono::duration_cast<duration>(slots));
}

limit::duration redis_rate_limit::lead() const noexcept {
  const auto interval = std::chrono::duration<double>(1.0 / value_);
  return std::min<duration>(std::chrono::milliseconds(5),
                            std::chrono::duration_cast<duration>(interval / 2));
}

std::string redis_rate_limit::describe() const {
  if (aimd_)
    return "redis rate " + detail::number_text(value_) + "/s (adaptive, up to " +
           detail::number_text(aimd_->ceiling) + ") burst " + std::to_string(burst_);
  return "redis rate " + detail::number_text(rate_) + "/s burst " + std::to_string(burst_);
}

// ----- redis_window_limit -------------------------------------------------------------------

redis_window_limit::redis_window_limit(redis_client& client, std::string key,
                                       std::uint64_t capacity, duration window)
    : redis_limit(client, std::move(key)),
      capacity_(capacity),
      window_(window),
      member_prefix_(unique_prefix()) {
  if (capacity == 0) throw std::invalid_argument("redis window limit: capacity must be >= 1");
  if (window < std::chrono::milliseconds(1))
    throw std::invalid_argument("redis window limit: the window must be at least 1 ms");
}

asio::awaitable<redis_limit::answer> redis_window_limit::ask(std::uint64_t cost) {
  const std::string member = member_prefix_ + ":" + std::to_string(++next_member_);
  std::vector<std::string> keys{key_, key_ + ":sum"};
  std::vector<std::string> args{std::to_string(micros(window_)), std::to_string(capacity_),
                                std::to_string(cost), member};
  auto r = co_await client_.eval(window_script, std::move(keys), std::move(args));
  const long long wait = r.as_integer();
  if (wait == 0) co_return answer{true, {}, {}};
  co_return answer{false, std::chrono::microseconds(wait), {}};
}

std::string redis_window_limit::describe() const {
  return "redis window " + std::to_string(capacity_) + "/" +
         detail::number_text(std::chrono::duration<double>(window_).count()) + "s";
}

// ----- redis_lease_limit --------------------------------------------------------------------

redis_lease_limit::redis_lease_limit(redis_client& client, std::string key, std::uint64_t capacity,
                                     duration ttl, duration poll)
    : redis_limit(client, std::move(key)),
      capacity_(capacity),
      ttl_(ttl),
      poll_(poll),
      id_prefix_(unique_prefix()),
      renew_timer_(client.get_executor()) {
  if (capacity == 0) throw std::invalid_argument("redis leases: capacity must be >= 1");
  if (ttl < std::chrono::milliseconds(30))
    throw std::invalid_argument("redis leases: the lease time must be at least 30 ms");
}

asio::awaitable<redis_limit::answer> redis_lease_limit::ask(std::uint64_t cost) {
  const std::string prefix = id_prefix_ + ":" + std::to_string(++next_id_);
  const duration poll = poll_;  // (nothing of the limit is touched once suspended)
  std::vector<std::string> keys{key_};
  std::vector<std::string> args{
      std::to_string(capacity_),
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count()),
      std::to_string(cost), prefix};
  auto r = co_await client_.eval(lease_script, std::move(keys), std::move(args));
  if (r.elements.size() != 2) throw redis_error("the lease script answered no pair");
  if (r.elements[0].as_integer() == 1) {
    answer a{true, {}, {}};
    for (std::uint64_t i = 1; i <= cost; ++i) a.ids.push_back(prefix + ":" + std::to_string(i));
    co_return a;
  }
  const auto until_expiry = std::chrono::milliseconds(r.elements[1].as_integer());
  co_return answer{false, std::min<duration>(poll, until_expiry), {}};
}

void redis_lease_limit::took(std::vector<std::string> ids, std::uint64_t, duration) {
  for (auto& id : ids) held_.push_back(std::move(id));
  if (!renewing_ && !held_.empty()) {
    renewing_ = true;
    ++in_flight_;
    asio::co_spawn(client_.get_executor(), renew_while_held(self_), asio::detached);
  }
}

void redis_lease_limit::release(duration, const demand& d) {
  std::vector<std::string> ids;
  for (std::uint64_t i = 0; i < d.cost && !held_.empty(); ++i) {
    ids.push_back(std::move(held_.front()));
    held_.pop_front();
  }
  if (held_.empty()) renew_timer_.cancel();
  if (ids.empty()) return;
  ++in_flight_;
  asio::co_spawn(client_.get_executor(), give_back(self_, std::move(ids)), asio::detached);
}

asio::awaitable<void> redis_lease_limit::give_back(std::shared_ptr<redis_limit*> alive,
                                                   std::vector<std::string> ids) {
  if (*alive == nullptr) co_return;
  std::vector<std::string> cmd{"ZREM", key_};
  cmd.insert(cmd.end(), ids.begin(), ids.end());
  bool ok = true;
  try {
    co_await client_.command(std::move(cmd));
  } catch (const std::exception&) {
    ok = false;  // it expires after the lease time
  }
  if (*alive == nullptr) co_return;
  (void)ok;
  call_ended();
  notify();  // a place is free: this process's waiters ask at once
}

asio::awaitable<void> redis_lease_limit::renew_while_held(std::shared_ptr<redis_limit*> alive) {
  if (*alive == nullptr) co_return;
  const auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count();
  for (;;) {
    renew_timer_.expires_after(ttl_ / 3);
    co_await renew_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (*alive == nullptr) co_return;
    if (held_.empty()) break;
    std::vector<std::string> args{std::to_string(capacity_), std::to_string(ttl_ms)};
    args.insert(args.end(), held_.begin(), held_.end());
    try {
      std::vector<std::string> keys{key_};
      auto r = co_await client_.eval(renew_script, std::move(keys), std::move(args));
      if (*alive == nullptr) co_return;
      if (const long long n = r.as_integer(); n > 0) {
        lost_ += static_cast<std::uint64_t>(n);
        tell("redis " + client_.config().display() + ": " + std::to_string(n) + " lease(s) of " +
             key_ + " expired while the server was unreachable and the " +
             "places were taken; those tasks run on");
      }
    } catch (const std::exception& e) {
      if (*alive == nullptr) co_return;
      tell(std::string(e.what()) + "; leases are renewed again when it answers");
    }
  }
  renewing_ = false;
  call_ended();
}

asio::awaitable<void> redis_lease_limit::close() {
  auto alive = self_;
  std::vector<std::string> ids = unused_ids();
  ids.insert(ids.end(), held_.begin(), held_.end());
  held_.clear();
  renew_timer_.cancel();
  if (!ids.empty()) {
    ++in_flight_;
    co_await give_back(alive, std::move(ids));
  }
  if (*alive == nullptr) co_return;
  co_await redis_limit::close();
}

std::string redis_lease_limit::describe() const {
  return "redis at once " + std::to_string(capacity_) + " (" + std::to_string(held_.size()) +
         " held here)";
}

}  // namespace sluice
