// sluice::redis_queue: a work queue on a Redis stream, for workers on many machines. Each
// entry is added once by its key (enqueueing the same inputs again adds nothing); workers take
// entries through one consumer group (XREADGROUP), acknowledge each once its result is
// durable (XACK), and take over the entries a dead worker left idle past a visibility timeout
// (XAUTOCLAIM). An entry delivered too often (it kills its workers) goes to a dead-letter
// stream. At-least-once: a worker killed after its row is written and before the ack runs
// the task again somewhere; sluice merge keeps one row per task.
#pragma once

#include "sluice/redis_client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

/// One entry, as a worker takes it.
struct queue_entry {
  std::string id;       // the stream entry id ("1733380000000-0"): what ack() takes
  std::string key;      // its identity, unique in the queue
  std::string payload;  // the input, bytes as enqueued
  /// How many times a worker began to run it and did not finish (started() counts them): 0
  /// for an entry no worker has started. Handing an entry out is not counting it: a worker
  /// that dies with entries taken and not begun does not make them poison.
  std::uint64_t starts = 0;
};

/// What a queue holds now.
struct queue_status {
  std::uint64_t undelivered = 0;  // added, not taken by any worker yet
  std::uint64_t pending = 0;      // taken, not acknowledged (running, or its worker died)
  std::uint64_t done = 0;         // acknowledged
  std::uint64_t dead = 0;         // in the dead-letter stream
  std::uint64_t added = 0;        // distinct keys ever added
  std::vector<std::pair<std::string, std::uint64_t>> pending_by_consumer;
};

/// A queue named `name`, in keys "sluice:queue:NAME" (the stream), ":keys" (the keys added),
/// ":starts" (of the entries in flight), ":dead", ":done" and ":meta". Not thread-safe: used from
/// the client's thread or strand.
///
///     sluice::redis_queue q{client, "crawl"};
///     co_await q.enqueue({{"id-1", "https://..."}, {"id-2", "https://..."}});
///     for (auto& e : co_await q.read(reader, "worker-7", 16, 1s)) {
///       ...                           // run it, make its result durable
///       co_await q.ack({e.id});
///     }
class redis_queue {
 public:
  using duration = std::chrono::milliseconds;

  redis_queue(redis_client& client, std::string name);

  /// Adds each (key, payload) whose key was never added (one script per batch of 500, so
  /// that a key and its entry are added together or not at all). Returns how many were new.
  [[nodiscard]] boost::asio::awaitable<std::size_t> enqueue(
      std::vector<std::pair<std::string, std::string>> items);

  /// Up to `n` entries that other workers took and left idle for `claim_after` (they died, or
  /// stalled), now `consumer`'s. An entry started `max_starts` times without finishing is
  /// moved to the dead-letter stream instead (an input that kills its workers). Successive
  /// calls scan the pending entries from where the last one stopped.
  [[nodiscard]] boost::asio::awaitable<std::vector<queue_entry>> claim(
      std::string consumer, std::size_t n, duration claim_after, std::uint64_t max_starts = 5);
  /// Up to `n` entries never delivered, now `consumer`'s, waiting up to `block` for one.
  /// `reader` is a connection of its own (a blocking read holds its connection), and `block`
  /// is below its timeout.
  [[nodiscard]] boost::asio::awaitable<std::vector<queue_entry>> read(redis_client& reader,
                                                                      std::string consumer,
                                                                      std::size_t n,
                                                                      duration block);

  /// A worker begins to run the entry: counted until it ends (an input that kills its
  /// workers is found by this count).
  [[nodiscard]] boost::asio::awaitable<void> started(std::string id);
  /// The entry's run ended (its result may not be durable yet: ack() follows): it is not
  /// poison, whatever happens to this worker now.
  [[nodiscard]] boost::asio::awaitable<void> ended(std::string id);
  /// The entries are done (their results are durable): acknowledged and deleted.
  [[nodiscard]] boost::asio::awaitable<void> ack(std::vector<std::string> ids);
  /// Moves an entry to the dead-letter stream with the reason, and acknowledges it.
  [[nodiscard]] boost::asio::awaitable<void> dead_letter(const queue_entry& e, std::string why);

  /// Nothing undelivered and nothing pending anywhere: the queue's work is all done.
  [[nodiscard]] boost::asio::awaitable<bool> drained();
  [[nodiscard]] boost::asio::awaitable<queue_status> status();

  /// A setting stored with the queue at its first enqueue (how its inputs are read), or ""
  /// when unset. set_meta() sets it once: a different later value throws
  /// std::invalid_argument naming both.
  [[nodiscard]] boost::asio::awaitable<std::string> meta(std::string field);
  [[nodiscard]] boost::asio::awaitable<void> set_meta(std::string field, std::string value);

  [[nodiscard]] const std::string& stream_key() const noexcept { return stream_; }

 private:
  boost::asio::awaitable<void> ensure_group(redis_client& c);

  redis_client& client_;
  std::string name_, stream_;
  std::string claim_cursor_ = "0-0";
  bool group_ = false;
};

}  // namespace sluice
