#include "sluice/redis_queue.hpp"

#include <stdexcept>

namespace sluice {

namespace asio = boost::asio;

namespace {

// KEYS: the stream, the set of keys added. ARGV: key, payload, key, payload... Each key not
// added before is added with its entry, in the same step.
const redis_script enqueue_script{R"lua(
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[1], '*', 'key', ARGV[i], 'input', ARGV[i + 1])
    added = added + 1
  end
end
return added
)lua"};

// KEYS: the stream, the done counter, the starts. ARGV: the group, ids... Acknowledged and
// deleted (the stream keeps only what is left to do); the counter counts the ones this ack
// ended.
const redis_script ack_script{R"lua(
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  redis.call('XDEL', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
if n > 0 then redis.call('INCRBY', KEYS[2], n) end
return n
)lua"};

constexpr const char* group = "sluice";

/// An entry of XREADGROUP or XAUTOCLAIM: [id, [field, value, ...]] (nil fields: deleted).
bool read_entry(const redis_reply& r, queue_entry& e) {
  if (r.elements.size() != 2 || r.elements[1].type != redis_reply::kind::array) return false;
  e.id = r.elements[0].str;
  const auto& f = r.elements[1].elements;
  for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
    if (f[i].str == "key") e.key = f[i + 1].str;
    if (f[i].str == "input") e.payload = f[i + 1].str;
  }
  return true;
}

}  // namespace

redis_queue::redis_queue(redis_client& client, std::string name)
    : client_(client), name_(std::move(name)), stream_("sluice:queue:" + name_) {
  if (name_.empty()) throw std::invalid_argument("a queue needs a name");
}

asio::awaitable<void> redis_queue::ensure_group(redis_client& c) {
  if (group_) co_return;
  std::vector<std::string> create{"XGROUP", "CREATE", stream_, group, "0", "MKSTREAM"};
  try {
    co_await c.command(std::move(create));
  } catch (const redis_error& e) {
    if (std::string_view(e.what()).rfind("BUSYGROUP", 0) != 0) throw;
  }
  group_ = true;
}

asio::awaitable<std::size_t> redis_queue::enqueue(
    std::vector<std::pair<std::string, std::string>> items) {
  co_await ensure_group(client_);
  std::size_t added = 0;
  for (std::size_t at = 0; at < items.size();) {
    std::vector<std::string> args;
    for (std::size_t n = 0; n < 500 && at < items.size(); ++n, ++at) {
      args.push_back(std::move(items[at].first));
      args.push_back(std::move(items[at].second));
    }
    std::vector<std::string> keys{stream_, stream_ + ":keys"};
    const auto r = co_await client_.eval(enqueue_script, std::move(keys), std::move(args));
    added += static_cast<std::size_t>(r.as_integer());
  }
  co_return added;
}

asio::awaitable<std::vector<queue_entry>> redis_queue::claim(std::string consumer, std::size_t n,
                                                             duration claim_after,
                                                             std::uint64_t max_starts) {
  co_await ensure_group(client_);
  std::vector<queue_entry> out;
  // Entries other workers took and left idle: claimed, and counted (a poison input's count
  // grows with every worker it kills).
  std::vector<std::string> claim{"XAUTOCLAIM",
                                 stream_,
                                 group,
                                 consumer,
                                 std::to_string(claim_after.count()),
                                 claim_cursor_,
                                 "COUNT",
                                 std::to_string(n)};
  const auto claimed = co_await client_.command(std::move(claim));
  if (claimed.elements.size() >= 2) {
    claim_cursor_ = claimed.elements[0].str;
    std::vector<std::string> starts{"HMGET", stream_ + ":starts"};
    for (const auto& r : claimed.elements[1].elements) {
      queue_entry e;
      if (!read_entry(r, e)) continue;
      starts.push_back(e.id);
      out.push_back(std::move(e));
    }
    if (!out.empty()) {
      const auto counts = co_await client_.command(std::move(starts));
      for (std::size_t i = 0; i < out.size() && i < counts.elements.size(); ++i)
        if (!counts.elements[i].is_nil())
          out[i].starts = static_cast<std::uint64_t>(counts.elements[i].as_integer());
    }
    std::vector<queue_entry> live;
    for (auto& e : out) {
      if (e.starts >= max_starts) {
        const std::string why = "started " + std::to_string(e.starts) +
                                " times, and its worker died or stalled each time";
        co_await dead_letter(e, why);
      } else {
        live.push_back(std::move(e));
      }
    }
    out = std::move(live);
  }
  co_return out;
}

asio::awaitable<std::vector<queue_entry>> redis_queue::read(redis_client& reader,
                                                            std::string consumer, std::size_t n,
                                                            duration block) {
  co_await ensure_group(client_);
  std::vector<queue_entry> out;
  std::vector<std::string> read{"XREADGROUP", "GROUP", group, consumer, "COUNT", std::to_string(n)};
  if (block.count() > 0) {
    read.push_back("BLOCK");
    read.push_back(std::to_string(block.count()));
  }
  read.push_back("STREAMS");
  read.push_back(stream_);
  read.push_back(">");
  const auto got = co_await reader.command(std::move(read));
  if (got.type == redis_reply::kind::array)
    for (const auto& s : got.elements)
      if (s.elements.size() == 2)
        for (const auto& r : s.elements[1].elements) {
          queue_entry e;
          if (read_entry(r, e)) out.push_back(std::move(e));
        }
  co_return out;
}

asio::awaitable<void> redis_queue::started(std::string id) {
  std::vector<std::string> incr{"HINCRBY", stream_ + ":starts", std::move(id), "1"};
  co_await client_.command(std::move(incr));
}

asio::awaitable<void> redis_queue::ended(std::string id) {
  std::vector<std::string> del{"HDEL", stream_ + ":starts", std::move(id)};
  co_await client_.command(std::move(del));
}

asio::awaitable<void> redis_queue::ack(std::vector<std::string> ids) {
  if (ids.empty()) co_return;
  std::vector<std::string> keys{stream_, stream_ + ":done", stream_ + ":starts"};
  ids.insert(ids.begin(), group);
  co_await client_.eval(ack_script, std::move(keys), std::move(ids));
}

asio::awaitable<void> redis_queue::dead_letter(const queue_entry& e, std::string why) {
  std::vector<std::vector<std::string>> cmds{
      {"XADD", stream_ + ":dead", "*", "id", e.id, "key", e.key, "input", e.payload, "reason",
       std::move(why), "starts", std::to_string(e.starts)},
      {"XACK", stream_, group, e.id},
      {"XDEL", stream_, e.id},
      {"HDEL", stream_ + ":starts", e.id}};
  const auto r = co_await client_.pipeline(std::move(cmds));
  for (const auto& x : r)
    if (x.is_error()) throw redis_error(x.str);
}

asio::awaitable<bool> redis_queue::drained() {
  const auto s = co_await status();
  co_return s.undelivered == 0 && s.pending == 0;
}

asio::awaitable<queue_status> redis_queue::status() {
  co_await ensure_group(client_);
  std::vector<std::vector<std::string>> cmds{{"XLEN", stream_},
                                             {"XPENDING", stream_, group},
                                             {"GET", stream_ + ":done"},
                                             {"XLEN", stream_ + ":dead"},
                                             {"SCARD", stream_ + ":keys"}};
  const auto r = co_await client_.pipeline(std::move(cmds));
  for (const auto& x : r)
    if (x.is_error()) throw redis_error(x.str);
  queue_status s;
  const auto in_stream = static_cast<std::uint64_t>(r[0].as_integer());
  if (!r[1].elements.empty()) {
    s.pending = static_cast<std::uint64_t>(r[1].elements[0].as_integer());
    if (r[1].elements.size() == 4)
      for (const auto& c : r[1].elements[3].elements)
        if (c.elements.size() == 2)
          s.pending_by_consumer.emplace_back(
              c.elements[0].str, static_cast<std::uint64_t>(c.elements[1].as_integer()));
  }
  // Acknowledged entries are deleted: what the stream holds is pending or undelivered.
  s.undelivered = in_stream > s.pending ? in_stream - s.pending : 0;
  s.done = r[2].is_nil() ? 0 : static_cast<std::uint64_t>(r[2].as_integer());
  s.dead = static_cast<std::uint64_t>(r[3].as_integer());
  s.added = static_cast<std::uint64_t>(r[4].as_integer());
  co_return s;
}

asio::awaitable<std::string> redis_queue::meta(std::string field) {
  std::vector<std::string> get{"HGET", stream_ + ":meta", std::move(field)};
  const auto r = co_await client_.command(std::move(get));
  co_return r.is_nil() ? std::string() : r.str;
}

asio::awaitable<void> redis_queue::set_meta(std::string field, std::string value) {
  std::vector<std::string> set{"HSETNX", stream_ + ":meta", field, value};
  if ((co_await client_.command(std::move(set))).as_integer() == 1) co_return;
  const std::string now = co_await meta(field);
  if (now != value)
    throw std::invalid_argument("queue " + name_ + " was filled with " + field + " \"" + now +
                                "\", not \"" + value + "\"");
}

}  // namespace sluice
