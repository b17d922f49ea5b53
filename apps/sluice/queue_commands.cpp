#include "queue_commands.hpp"

#include "command_task.hpp"
#include "exit_codes.hpp"
#include "flags.hpp"
#include "inputs.hpp"
#include "noop_task.hpp"
#include "pipeline.hpp"

#include <sluice/errors.hpp>
#include <sluice/redis_queue.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <boost/unordered/unordered_flat_set.hpp>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>

namespace sluice::cli {

namespace asio = boost::asio;

namespace {

using item_ptr = std::shared_ptr<const input_item>;
using namespace std::chrono_literals;

// An entry of the CLI's queues: the key is the input's identity (its fingerprint in hex, as
// the results file would have it), the payload "OCCURRENCE\nTEXT" (the line's bytes or the
// row's compact JSON).
std::string identity_hex(const fingerprint& f) {
  return fmt::format("{:016x}{:016x}", f.hi, f.lo);
}

std::string payload_of(const input_item& it) {
  return std::to_string(it.occurrence) + "\n" + it.text;
}

redis_config config_of(const std::string& url) {
  try {
    return redis_config::from_url(url);
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
}

/// Runs `work` on a fresh io_context (the CLI's short commands: enqueue, status, a worker's
/// first look at its queue) and returns its result.
template <class T>
T run_once(const std::string& url, std::function<asio::awaitable<T>(redis_client&)> work) {
  asio::io_context io;
  redis_client client(io.get_executor(), config_of(url));
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<T> { co_return co_await work(client); },
      [&](std::exception_ptr e, T v) {
        error = e;
        if (!e) result.emplace(std::move(v));
        client.close();
      });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

void say(const std::string& line) {
  std::fputs(("sluice: " + line + "\n").c_str(), stderr);
  std::fflush(stderr);
}

std::string hostname() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

/// A worker's inputs, taken from the queue; its rows acknowledged once synced.
class queue_source final : public input_source {
 public:
  queue_source(const run_config& c, const queue_flags& f, const std::vector<std::string>& fields)
      : c_(c),
        f_(f),
        reader_cfg_(c, fields),
        claim_after_(std::chrono::duration_cast<std::chrono::milliseconds>(
            parse_duration(f.claim_after, "--claim-after"))),
        consumer_(f.consumer.empty() ? hostname() + ":" + std::to_string(::getpid()) : f.consumer) {
    reader_cfg_.set_name("queue " + f.queue);
  }

  stream<item_ptr> items(const asio::any_io_executor& ex, const fingerprint_set& done) override {
    auto cfg = config_of(c_.redis);
    client_ = std::make_unique<redis_client>(ex, cfg);
    cfg.timeout = std::max<std::chrono::milliseconds>(cfg.timeout, block + 2s);
    reader_ = std::make_unique<redis_client>(ex, cfg);
    for (auto* c : {client_.get(), reader_.get()})
      c->on_state([url = cfg.display()](const std::string& m) { say("redis " + url + ": " + m); });
    queue_.emplace(*client_, f_.queue);
    ack_timer_.emplace(ex);
    done_ = &done;
    return stream<item_ptr>(std::make_shared<entries>(*this));
  }

  void written(const input_item& in, jsonl_writer& out) override {
    out_ = &out;
    asio::co_spawn(ack_timer_->get_executor(), count(in.queue_id, false), asio::detached);
    to_ack_.push_back(in.queue_id);
    if (!acking_) {
      acking_ = true;
      asio::co_spawn(ack_timer_->get_executor(), ack_soon(), asio::detached);
    }
  }

  asio::awaitable<void> close() override {
    closing_ = true;
    ack_timer_->cancel();
    while (acking_) {  // the last batch
      asio::steady_timer t(ack_timer_->get_executor(), 5ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    // Acknowledged now, or redelivered to another worker after --claim-after (sluice merge
    // keeps one row per task).
    for (int attempt = 0; attempt < 5 && !to_ack_.empty(); ++attempt) co_await ack_now();
    if (!to_ack_.empty())
      say(
          fmt::format("queue {}: {} entries not acknowledged (redis unreachable); other workers "
                      "will run them again after --claim-after",
                      f_.queue, to_ack_.size()));
    client_->close();
    reader_->close();
  }

  void run_over() noexcept override {
    queue_.reset();
    ack_timer_.reset();
    reader_.reset();
    client_.reset();
  }

 private:
  static constexpr std::chrono::milliseconds block = 500ms;
  [[nodiscard]] std::size_t batch() const {
    return c_.max_at_once == 0 ? 64 : std::clamp<std::size_t>(c_.max_at_once, 1, 64);
  }

  // The stream the run pulls: an entry at a time, claimed ones first.
  class entries final : public stream<item_ptr>::impl {
   public:
    explicit entries(queue_source& s) : s_(s) {}
    asio::awaitable<std::optional<item_ptr>> next() override { return s_.next(); }
    void cancel() noexcept override { s_.stopped_ = true; }
    asio::awaitable<void> close() override { co_return; }

   private:
    queue_source& s_;
  };

  asio::awaitable<std::optional<item_ptr>> next() {
    auto backoff = 50ms;
    for (;;) {
      if (!ready_.empty()) {
        auto it = std::move(ready_.front());
        ready_.pop_front();
        // The run starts it now: counted first, so that an input that kills its worker at
        // once is counted all the same (one round trip per task).
        co_await count(it->queue_id, true);
        co_return it;
      }
      if (stopped_) co_return std::nullopt;
      bool unreachable = false;
      try {
        std::vector<queue_entry> got;
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_claim_) {
          got = co_await queue_->claim(consumer_, 16, claim_after_, f_.max_deliveries);
          next_claim_ = now + std::max<std::chrono::milliseconds>(claim_after_ / 4, 100ms);
        }
        // As many as can start at once (-j, at most 64): fewer round trips, and none held
        // long while others wait.
        if (got.empty()) got = co_await queue_->read(*reader_, consumer_, batch(), block);
        if (got.empty()) {
          if (!f_.follow && co_await queue_->drained()) co_return std::nullopt;
          next_claim_ = {};  // nothing new: look for entries left by dead workers
          continue;
        }
        for (auto& e : got) co_await accept(std::move(e));
        backoff = 50ms;
      } catch (const redis_unavailable& e) {
        say(std::string(e.what()) + "; waiting for it");  // nothing is lost: the entries wait
        unreachable = true;
      }
      if (unreachable) {
        asio::steady_timer t(co_await asio::this_coro::executor, backoff);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2s);
      }
    }
  }

  asio::awaitable<void> accept(queue_entry e) {
    // Our own entry, claimed back while it runs or waits for its acknowledgement (a slow
    // acknowledgement can outlast --claim-after): not a new delivery, never run twice here.
    if (held_.contains(e.id)) co_return;
    const auto nl = e.payload.find('\n');
    std::uint32_t occurrence = 0;
    const bool framed =
        nl != std::string::npos &&
        std::from_chars(e.payload.data(), e.payload.data() + nl, occurrence).ec == std::errc() &&
        occurrence > 0;
    if (!framed) {
      const std::string why = "not an entry of sluice enqueue (OCCURRENCE\\nINPUT)";
      say("queue " + f_.queue + ": entry " + e.id + ": " + why +
          "; moved to the dead-letter stream");
      co_await queue_->dead_letter(e, why);
      co_return;
    }
    input_item it;
    std::string bad;
    try {
      it = reader_cfg_.queued(e.payload.substr(nl + 1), occurrence, ++seq_);
    } catch (const jsonl_error& error) {  // named by the entry's stream id, not by a count
      bad = "queue " + f_.queue + ": entry " + e.id + ": " + error.reason();
    }
    if (!bad.empty()) {  // a bad input never runs, and is never lost
      say(bad + "; moved to the dead-letter stream");
      co_await queue_->dead_letter(e, bad);
      co_return;
    }
    if (done_->contains(it.identity())) {  // its row is in our results file: settled
      held_.insert(e.id);
      to_ack_.push_back(e.id);
      co_return;
    }
    held_.insert(e.id);
    it.queue_id = std::move(e.id);
    ready_.push_back(std::make_shared<const input_item>(std::move(it)));
  }

  // A start, or an end, of an entry's run (an entry started and never ended, again and again,
  // is poison). Unreachable: not counted, so never taken for poison.
  asio::awaitable<void> count(std::string id, bool start) {
    try {
      if (start)
        co_await queue_->started(std::move(id));
      else
        co_await queue_->ended(std::move(id));
    } catch (const std::exception&) {
    }
  }

  // Rows are synced and acknowledged in batches: a few ms after the first, or at 256.
  asio::awaitable<void> ack_soon() {
    while (!to_ack_.empty() && !closing_) {
      if (to_ack_.size() < 256) {
        ack_timer_->expires_after(20ms);
        co_await ack_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
      }
      co_await ack_now();
      if (!to_ack_.empty()) {  // redis unreachable: again a little later
        ack_timer_->expires_after(200ms);
        co_await ack_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
    acking_ = false;
  }

  asio::awaitable<void> ack_now() {
    if (to_ack_.empty()) co_return;
    if (out_ != nullptr) out_->sync();  // durable first, then acknowledged
    std::vector<std::string> ids(to_ack_.begin(), to_ack_.end());
    try {
      co_await queue_->ack(ids);
      to_ack_.erase(to_ack_.begin(), to_ack_.begin() + static_cast<std::ptrdiff_t>(ids.size()));
      for (const auto& id : ids) held_.erase(id);
    } catch (const std::exception& e) {
      say(std::string(e.what()) + "; the acknowledgements are sent again");
    }
  }

  const run_config& c_;
  const queue_flags& f_;
  input_reader reader_cfg_;
  std::chrono::milliseconds claim_after_;
  std::string consumer_;
  std::unique_ptr<redis_client> client_, reader_;
  std::optional<redis_queue> queue_;
  std::optional<asio::steady_timer> ack_timer_;
  const fingerprint_set* done_ = nullptr;
  jsonl_writer* out_ = nullptr;
  std::deque<item_ptr> ready_;
  std::deque<std::string> to_ack_;
  /// The entries this worker took and has not acknowledged: queued, running, or written and
  /// waiting for their acknowledgement.
  boost::unordered_flat_set<std::string> held_;
  std::chrono::steady_clock::time_point next_claim_{};
  std::size_t seq_ = 0;
  bool acking_ = false, closing_ = false, stopped_ = false;
};

}  // namespace

// The server and the queue, as enqueue and queue status take them.
static void add_queue_target(CLI::App& app, queue_flags& f) {
  app.add_option("--redis", f.redis, "redis://[[user]:password@]host[:port][/db] or rediss://")
      ->required();
  app.add_option("--queue", f.queue, "The queue's name")->required();
}

void add_enqueue_flags(CLI::App& app, queue_flags& f) {
  add_queue_target(app, f);
  app.add_option("-i,--input", f.input, "Read inputs from FILE (default: standard input)");
  app.add_flag("--jsonl", f.jsonl, "Inputs are JSON Lines (each line an object)");
  app.add_flag("--lines", f.lines, "Inputs are text lines, even if they look like JSON");
  app.add_option("--key", f.key,
                 "The JSON Lines field that identifies a task (default: the whole row); an "
                 "input is added once per key and occurrence");
}

void add_worker_flags(CLI::App& app, queue_flags& f) {
  app.add_option("--queue", f.queue, "The queue's name")->required();
  app.add_option("--claim-after", f.claim_after,
                 "Take over an entry another worker has held this long without finishing it "
                 "(its worker died; default 5m: longer than a task takes)");
  app.add_option("--max-deliveries", f.max_deliveries,
                 "An entry whose workers died (or stalled past --claim-after) while running it "
                 "this often goes to the dead-letter stream (default 5)")
      ->check(whole_number(1, 1000000));
  app.add_flag("--follow", f.follow, "Wait for new entries when the queue is empty");
  app.add_option("--consumer", f.consumer, "This worker's name in the queue (default HOST:PID)");
  app.add_flag("--http", f.http,
               "Each input is an HTTP request, as sluice http's (--url, -X, -H, --body...), "
               "instead of a COMMAND");
}

void add_status_flags(CLI::App& app, queue_flags& f) {
  add_queue_target(app, f);
}

int enqueue_inputs(const queue_flags& f) {
  if (f.jsonl && f.lines) throw usage_error("--jsonl and --lines contradict each other");
  run_config c;
  c.sources = {source_spec::of_file(f.input)};
  c.format = f.jsonl ? input_format::jsonl : f.lines ? input_format::lines : input_format::detect;
  c.key = f.key;
  input_reader in(c, {});
  if (!c.key.empty() && !in.jsonl())
    throw usage_error("--key " + c.key + " needs JSON Lines input, and " + in.name() +
                      " is read as text lines");
  struct counts {
    std::size_t read = 0, added = 0;
  };
  const auto n = run_once<counts>(f.redis, [&](redis_client& client) -> asio::awaitable<counts> {
    redis_queue q(client, f.queue);
    try {
      co_await q.set_meta("format", in.jsonl() ? "jsonl" : "lines");
      co_await q.set_meta("key", c.key);
    } catch (const std::invalid_argument& e) {
      throw usage_error(std::string(e.what()) + ": give the same --jsonl/--lines and --key");
    }
    counts n;
    std::vector<std::pair<std::string, std::string>> batch;
    for (;;) {
      auto it = in.next();  // (a file is read and checked whole before the first)
      if (it) {
        ++n.read;
        batch.emplace_back(identity_hex(it->identity()), payload_of(*it));
      }
      if (batch.size() == 5000 || (!it && !batch.empty())) {
        n.added += co_await q.enqueue(std::move(batch));
        batch.clear();
      }
      if (!it) break;
    }
    co_return n;
  });
  say(fmt::format("queue {}: {} inputs read, {} added, {} there already", f.queue, n.read, n.added,
                  n.read - n.added));
  return all_ok;
}

int queue_status(const queue_flags& f) {
  const auto s = run_once<sluice::queue_status>(f.redis, [&](redis_client& client) {
    return [](redis_client& c, std::string name) -> asio::awaitable<sluice::queue_status> {
      redis_queue q(c, std::move(name));
      co_return co_await q.status();
    }(client, f.queue);
  });
  std::string text =
      fmt::format("queue {}: {} added, {} undelivered, {} in flight, {} done, {} dead-lettered\n",
                  f.queue, s.added, s.undelivered, s.pending, s.done, s.dead);
  for (const auto& [consumer, n] : s.pending_by_consumer)
    text += fmt::format("  in flight at {}: {}\n", consumer, n);
  std::fputs(text.c_str(), stdout);
  return all_ok;
}

int run_worker(run_config c, const queue_flags& f, std::optional<http_config> http) {
  if (c.redis.empty()) throw usage_error("sluice worker needs --redis URL (the queue's server)");
  if (c.output.empty())
    throw usage_error(
        "sluice worker needs -o FILE.jsonl: each row is synced there before its entry is "
        "acknowledged");
  if (c.sources.size() != 1 || c.sources[0].is_list || c.sources[0].file != "-")
    throw usage_error(
        "sluice worker takes its inputs from --queue, not from --input, -a, ::: or ::::");
  if (!c.delimiter.empty() || !c.colsep.empty() || c.per_task != 1 || c.pack)
    throw usage_error(
        "sluice worker runs each queue entry as one input: -0, -d, --colsep, -n, -N, -X and -m "
        "apply to sluice enqueue's reading, not here");
  if (c.dedupe || c.shard_of) throw usage_error("--dedupe and --shard do not apply to a worker");
  // How the queue's inputs are read, as enqueue stored it.
  struct meta_t {
    std::string format, key;
  };
  const auto meta = run_once<meta_t>(c.redis, [&](redis_client& client) {
    return [](redis_client& cl, std::string name) -> asio::awaitable<meta_t> {
      redis_queue q(cl, std::move(name));
      std::string format = co_await q.meta("format");
      std::string key = co_await q.meta("key");
      co_return meta_t{std::move(format), std::move(key)};
    }(client, f.queue);
  });
  if (meta.format.empty())
    throw usage_error("queue " + f.queue + " has never been filled (sluice enqueue)");
  if (!c.key.empty() && c.key != meta.key)
    throw usage_error("queue " + f.queue + " identifies its inputs by --key \"" + meta.key +
                      "\", not \"" + c.key + "\"");
  c.key = meta.key;
  c.format = meta.format == "jsonl" ? input_format::jsonl : input_format::lines;
  c.sources = {source_spec::list({})};  // (an empty ::: list: it reads nothing of its own)
  if (http)
    return run_http(c, std::move(*http), [&](const std::vector<std::string>& fields) {
      return std::make_unique<queue_source>(c, f, fields);
    });
  if (c.noop) {
    noop_task kind;
    queue_source source(c, f, kind.fields());
    return run_tasks(c, kind, &source);
  }
  command_task kind(c);
  queue_source source(c, f, kind.fields());
  return run_tasks(c, kind, &source);
}

}  // namespace sluice::cli
