#include "pipeline.hpp"

#include "dedupe.hpp"
#include "exit_codes.hpp"
#include "flags.hpp"
#include "inputs.hpp"
#include "progress_bar.hpp"
#include "run_limits.hpp"
#include "task_report.hpp"

#include <sluice/amap_results.hpp>
#include <sluice/errors.hpp>
#include <sluice/jsonl_writer.hpp>
#include <sluice/offload.hpp>
#include <sluice/progress.hpp>
#include <sluice/resumable_file.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <system_error>

namespace sluice::cli {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

using item_ptr = std::shared_ptr<const input_item>;

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "write");
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// What the results file already has.
struct previous_results {
  fingerprint_set done;  // the tasks not to run again (input_item::identity)
  /// --dedupe: by key (input_item::key_identity), its last row (with --retry-failed, its last
  /// ok one).
  boost::unordered_flat_map<fingerprint, row_ref, key_fingerprint_hash> by_key;
  /// What reading it took (--stats).
  std::size_t rows = 0, done_count = 0;
  std::uintmax_t bytes = 0;
  std::chrono::steady_clock::duration took{};
};

/// The tasks the results file already has: every row, or (with --retry-failed) the ok ones.
/// Read by the library's key scan (no row is parsed into a DOM), into 128-bit fingerprints:
/// about 20 bytes per done task. A real run also locks the file and opens it to append to
/// (`out`); a dry run only reads it, without the lock.
previous_results done_tasks(const run_config& c, std::unique_ptr<jsonl_writer>& out) {
  previous_results previous;
  if (c.output.empty()) return previous;
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code size_error;
  const std::uintmax_t file_size = std::filesystem::file_size(c.output, size_error);
  std::size_t& rows = previous.rows;
  // Inserted a batch at a time: the set fetches slots ahead, so that cache misses overlap.
  std::vector<fingerprint> batch;
  batch.reserve(256);
  static constexpr std::string_view fields[] = {"key_b64", "occurrence", "ok", "status"};
  auto on_row = [&](const keyed_row& r) {
    // Room for the whole file's rows at once, estimated from the first ones' length: the
    // table then never grows (no moment with two tables), and stays near 20 bytes a row.
    if (++rows == 4096 && !size_error)
      previous.done.reserve(
          static_cast<std::size_t>(static_cast<double>(file_size) * static_cast<double>(rows) /
                                       static_cast<double>(r.offset + r.line.size() + 1) * 1.02 +
                                   1024));
    const bool ok = row_ok(r.fields[2], r.fields[3]);
    if (c.retry_failed && !ok) return;
    batch.push_back(row_identity(r.key, r.fields[0], r.fields[1]));
    if (batch.size() == batch.capacity()) {
      previous.done.insert_all(batch);
      batch.clear();
    }
    if (c.dedupe)
      previous.by_key.insert_or_assign(
          task_identity(r.key, unquoted(r.fields[0]), 0),
          row_ref{r.offset, static_cast<std::uint32_t>(r.line.size()), ok});
  };
  try {
    if (c.dry_run)
      read_keyed_jsonl_file(c.output, "key", fields, on_row);  // a dry run changes nothing
    else
      out = resume_jsonl_file(c.output, "key", fields, on_row);
  } catch (const std::filesystem::filesystem_error& e) {
    throw std::system_error(e.code(), "cannot open " + c.output);
  }
  previous.done.insert_all(batch);
  previous.done_count = previous.done.size();
  previous.bytes = size_error ? 0 : file_size;
  previous.took = std::chrono::steady_clock::now() - t0;
  return previous;
}

/// The job log, appended to; a new file starts with GNU parallel's header.
class job_log {
 public:
  explicit job_log(const std::string& path) {
    if (path.empty()) return;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && st.st_size == 0) write_all(fd_, joblog_header());
  }
  ~job_log() {
    if (fd_ >= 0) ::close(fd_);
  }
  job_log(const job_log&) = delete;
  job_log& operator=(const job_log&) = delete;
  void write(const finished_task& t) {
    if (fd_ >= 0) write_all(fd_, joblog_line(t));
  }

 private:
  int fd_ = -1;
};

/// {%}: the lowest slot number free when a task starts, given back when it ends.
class slot_pool {
 public:
  std::size_t take() {
    auto it = std::find(used_.begin(), used_.end(), false);
    if (it == used_.end()) it = used_.insert(used_.end(), false);
    *it = true;
    return static_cast<std::size_t>(it - used_.begin()) + 1;
  }
  void give(std::size_t slot) { used_[slot - 1] = false; }

 private:
  std::vector<bool> used_;
};

/// The inputs until the first SIGINT/SIGTERM: then the runner sees the end of its input (a
/// wait for the next input ends at once) and lets the running tasks finish. The signal
/// handler cancels `stop`, which cancels the inner stream: a next() waiting on it ends.
class until_stopped final : public stream<item_ptr>::impl,
                            public std::enable_shared_from_this<until_stopped> {
 public:
  until_stopped(stream<item_ptr> inner, const bool& stopped)
      : inner_(std::move(inner)), stopped_(stopped) {}

  static stream<item_ptr> make(stream<item_ptr> inner, asio::steady_timer& stop,
                               const bool& stopped) {
    auto u = std::make_shared<until_stopped>(std::move(inner), stopped);
    stop.async_wait([w = std::weak_ptr<until_stopped>(u)](boost::system::error_code) {
      if (auto u = w.lock()) u->inner_.cancel();
    });
    return stream<item_ptr>(std::move(u));
  }

  asio::awaitable<std::optional<item_ptr>> next() override {
    if (stopped_) co_return std::nullopt;
    try {
      auto it = co_await inner_.next();
      if (stopped_) co_return std::nullopt;
      co_return it;
    } catch (const boost::system::system_error&) {
      if (!stopped_) throw;
    }
    co_return std::nullopt;
  }
  void cancel() noexcept override { inner_.cancel(); }
  asio::awaitable<void> close() override { co_await inner_.close(); }

 private:
  stream<item_ptr> inner_;
  const bool& stopped_;
};

bool is_retryable(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const task_failed& f) {
    return f.task.retryable;
  } catch (...) {
    return false;
  }
}

finished_task& failed_task(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (task_failed& f) {
    return f.task;
  }
}

/// What the input thread reads and skips. Shared with that thread, which may still be
/// blocked in a read of standard input when the run is over.
struct feed {
  feed(const run_config& c, const task_kind& kind)
      : inputs(c, kind.fields(), kind.command()), shard_of(c.shard_of) {}

  input_reader inputs;
  fingerprint_set done;
  std::optional<cli::shard> shard_of;
  std::atomic<std::size_t> skipped{0};
  std::exception_ptr failure;  // a bad input met while running: reported at the end

  /// The next input to run: not done yet, of this shard. On resume from a file (or :::),
  /// inputs are read a few ahead and their done-set slots prefetched: a lookup in a table of
  /// millions is a cache miss, and these overlap. Standard input is never read ahead (a
  /// slow producer's line runs as soon as it comes).
  std::optional<input_item> next() {
    const std::size_t ahead = done.size() > 0 && inputs.total() ? 8 : 1;
    for (;;) {
      while (!read_error && !ended && pending.size() < ahead) {
        std::optional<input_item> it;
        try {
          it = inputs.next();
        } catch (...) {  // after the inputs read before it
          read_error = std::current_exception();
          break;
        }
        if (!it) {
          ended = true;
          break;
        }
        if (shard_of && key_hash(it->key_text) % shard_of->count != shard_of->index) {
          skipped.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        const fingerprint id = it->identity();
        done.prefetch(id);
        pending.push_back({std::move(*it), id});
      }
      if (pending.empty()) {
        if (read_error) std::rethrow_exception(std::exchange(read_error, nullptr));
        return std::nullopt;
      }
      read_ahead p = std::move(pending.front());
      pending.pop_front();
      if (!done.contains(p.id)) return std::move(p.item);
      skipped.fetch_add(1, std::memory_order_relaxed);
    }
  }

 private:
  struct read_ahead {
    input_item item;
    fingerprint id;
  };
  std::deque<read_ahead> pending;
  bool ended = false;
  std::exception_ptr read_error;
};

/// Everything one run shares between its coroutines.
struct run_state {
  const run_config& c;
  task_kind& kind;
  std::shared_ptr<cli::feed> feed;
  jsonl_writer* out = nullptr;
  job_log log;
  slot_pool slots;
  progress counters;
  std::optional<progress_bar> bar;
  std::optional<cli::dedupe> reuse;  // --dedupe
  /// -j (when it may change), -r, the windows and the per-key limits; what --adaptive and
  /// --control change, and what a server's Retry-After holds.
  std::optional<cli::run_limits> limits;
  input_source* source = nullptr;  // sluice worker: its queue
  std::size_t failed = 0, succeeded = 0;
  std::optional<int> first_failure{};  // the first failed task's exit status (--halt fail=1)
  bool stopping = false, killing = false;
};

/// One attempt of one task, in the lowest free {%} slot.
asio::awaitable<finished_task> attempt(run_state& s, item_ptr it) {
  const std::size_t slot = s.slots.take();
  struct give_back {
    slot_pool& p;
    std::size_t n;
    ~give_back() { p.give(n); }
  } guard{s.slots, slot};
  // (The clock only for --adaptive, which weighs each attempt by when it started.)
  const auto started = s.c.adaptive ? run_limits::now() : run_limits::duration{};
  try {
    auto done = co_await s.kind.attempt(std::move(it), slot);
    if (s.c.adaptive) s.limits->succeeded(started);
    co_return done;
  } catch (const task_failed& f) {
    if (f.task.overload && s.c.adaptive) s.limits->overloaded(f.task.sent.value_or(started));
    // The server asks every task to hold off (HTTP Retry-After), not only this one's retry.
    if (f.task.hold) s.limits->hold(*f.task.hold);
    throw;
  }
}

/// --tag: each line of `text` (the last one even without its newline) after `tag` and a tab.
std::string tagged(std::string_view text, std::string_view tag) {
  std::string out;
  out.reserve(text.size() + (tag.size() + 1) * 4);
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const auto line = text.substr(0, eol == std::string_view::npos ? text.size() : eol + 1);
    out.append(tag).append(1, '\t').append(line);
    text.remove_prefix(line.size());
  }
  return out;
}

void record(run_state& s, finished_task& t, std::size_t attempts) {
  if (t.ok) {
    ++s.succeeded;
  } else if (++s.failed == 1) {
    s.first_failure = t.exitval != 0 ? t.exitval : t.signal != 0 ? 128 + t.signal : 1;
  }
  if (s.out != nullptr) {
    const std::string line = result_line(t, attempts);
    const std::uint64_t at = s.out->write_line(line);
    if (s.reuse) s.reuse->ran(*t.input, {at, static_cast<std::uint32_t>(line.size()), t.ok});
    if (s.source) s.source->written(*t.input, *s.out);
  } else {
    // Each task's output whole, never mixed with another's.
    if (!t.out.empty()) write_all(STDOUT_FILENO, s.c.tag ? tagged(t.out, t.input->text) : t.out);
    if (!t.err.empty())
      write_all(STDERR_FILENO,
                (s.bar ? "\r\x1b[2K" : "") + (s.c.tag ? tagged(t.err, t.input->text) : t.err));
  }
  s.log.write(t);
}

std::size_t reused(const run_state& s) {
  return s.reuse ? s.reuse->reused() : 0;
}

asio::awaitable<void> draw_progress(run_state& s, asio::steady_timer& t) {
  for (;;) {
    s.bar->limits = s.limits->describe();
    s.bar->draw(s.counters.snapshot(), s.feed->skipped, reused(s));
    t.expires_after(std::chrono::milliseconds(200));
    auto [e] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (e) co_return;
  }
}

/// A small text file whole (a --control file: 1 MiB at most).
std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open it");
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || text.size() > (1u << 20)) {
      const int e = errno;
      ::close(fd);
      if (n < 0) throw std::system_error(e, std::generic_category(), "cannot read it");
      if (n > 0) throw std::runtime_error("it is larger than 1 MiB");
      return text;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
}

/// --control FILE: read again when its modification time or size changes (looked at twice a
/// second) and on SIGHUP. Each bad line is reported on stderr and ignored, as is a file that
/// cannot be read: a running job is never stopped by it.
class control_file {
 public:
  explicit control_file(std::string path) : path_(std::move(path)) {}

  /// Applies the file to `limits` if it changed since the last look (or always, `force`).
  void look(run_limits& limits, bool force) {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      report(fmt::format("sluice: --control {}: {}; the limits stay as they are\n", path_,
                         std::strerror(errno)));
      return;
    }
    const bool changed = st.st_mtim.tv_sec != mtime_.tv_sec ||
                         st.st_mtim.tv_nsec != mtime_.tv_nsec || st.st_size != size_;
    if (!changed && !force) return;
    mtime_ = st.st_mtim;
    size_ = st.st_size;
    std::string text;
    try {
      text = read_file(path_);
    } catch (const std::exception& e) {
      report(
          fmt::format("sluice: --control {}: {}; the limits stay as they are\n", path_, e.what()));
      return;
    }
    last_report_.clear();
    for (const auto& m : limits.control(text, path_))
      write_all(STDERR_FILENO, "sluice: " + m + "\n");
  }

 private:
  void report(const std::string& m) {
    if (m == last_report_) return;  // once, not twice a second
    last_report_ = m;
    write_all(STDERR_FILENO, m);
  }
  std::string path_;
  timespec mtime_{};
  off_t size_ = -1;
  std::string last_report_;
};

asio::awaitable<void> watch_control(run_state& s, control_file& f, asio::steady_timer& t) {
  for (;;) {
    t.expires_after(std::chrono::milliseconds(500));
    auto [e] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (e) co_return;
    f.look(*s.limits, false);
  }
}

asio::awaitable<void> run_all_tasks(run_state& s, asio::steady_timer& stop) {
  const run_config& c = s.c;
  co_await s.limits->open();  // --redis: a wrong password ends the run before it starts
  // The inputs are read on a thread of their own (standard input may block), the ones
  // already done or of another shard skipped there; or they come from the source.
  const auto ex = co_await asio::this_coro::executor;
  auto items = s.source != nullptr
                   ? s.source->items(ex, s.feed->done)
                   : generate_in_thread(
                         [f = s.feed]() -> std::optional<item_ptr> {
                           try {
                             if (auto it = f->next())
                               return std::make_shared<const input_item>(std::move(*it));
                           } catch (...) {
                             f->failure = std::current_exception();
                           }
                           return std::nullopt;
                         },
                         std::max<std::size_t>(64, 2 * c.max_at_once));
  // --dedupe: the later inputs of a key wait for its row instead of running.
  if (s.reuse) items = s.reuse->first_of_each_key(std::move(items), ex);
  stream<item_ptr> inputs = until_stopped::make(std::move(items), stop, s.stopping);

  options o;
  s.limits->apply(o);
  o.ordered = c.keep_order;
  o.reorder_window = c.keep_order ? std::max<std::size_t>(64, 4 * c.max_at_once) : 0;
  o.errors = c.halt ? error_policy::halt : error_policy::keep_going;
  if (c.halt) o.halt = *c.halt;
  o.retry.attempts = c.retries + 1;
  o.retry.base = c.backoff_base;
  o.retry.cap = c.backoff_cap;
  o.retry.retryable = is_retryable;
  // A retry waits at least what the server asked (Retry-After), --max-hold at most.
  o.retry.wait_at_least = [&c](const std::exception_ptr& e) -> std::chrono::nanoseconds {
    try {
      std::rethrow_exception(e);
    } catch (const task_failed& f) {
      if (f.task.hold) return std::min(*f.task.hold, c.max_hold);
    } catch (...) {
    }
    return {};
  };
  o.progress = &s.counters;
  auto results =
      amap_results([&s](const item_ptr& it) { return attempt(s, it); }, std::move(inputs), o);
  while (auto r = co_await results.next()) {
    if (r->result)
      record(s, r->result.value(), r->attempts);
    else
      record(s, failed_task(r->result.error()), r->attempts);
  }
  if (s.source) co_await s.source->close();  // the rows synced, then acknowledged
  co_await s.limits->close();                // --redis: leases given back, the connection closed
}

/// --stats: what the run did, how fast, and what sluice itself cost (its threads' CPU time;
/// the commands' own time is not in it).
void print_stats(const previous_results& previous, const progress::counts& n, std::size_t skipped,
                 std::size_t reused, std::chrono::steady_clock::duration wall) {
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  const double cpu = seconds(self.ru_utime) + seconds(self.ru_stime);
  const double secs = std::chrono::duration<double>(wall).count();
  const std::size_t ran = n.succeeded + n.failed;
  std::string line;
  if (previous.rows > 0) {
    const double read = std::chrono::duration<double>(previous.took).count();
    line = fmt::format(
        "sluice: resumed: {} rows ({:.1f} MB) read in {:.3f} s: {:.0f} MB/s, {} done\n",
        previous.rows, static_cast<double>(previous.bytes) / 1e6, read,
        read > 0 ? static_cast<double>(previous.bytes) / 1e6 / read : 0.0, previous.done_count);
  }
  line += fmt::format(
      "sluice: {} tasks ({} failed, {} skipped, {} reused) in {:.3f} s: {:.0f} tasks/s; sluice's "
      "own CPU "
      "{:.3f} s, {:.1f} us per task\n",
      ran, n.failed, skipped, reused, secs, secs > 0 ? static_cast<double>(ran) / secs : 0.0, cpu,
      ran ? cpu * 1e6 / static_cast<double>(ran) : 0.0);
  write_all(STDERR_FILENO, line);
}

/// The exit code, as GNU parallel's: the number of failed tasks (100 at most). Under --halt:
/// 0 when it halted on success; the failing task's own exit status when fail=1 halted it;
/// with a percentage, the percentage of the tasks that failed.
int run_exit_code(const run_state& s, std::optional<std::size_t> total, std::size_t skipped) {
  const std::size_t failed = s.failed + (s.reuse ? s.reuse->reused_failed() : 0);
  if (s.c.halt) {
    const halt_policy& h = *s.c.halt;
    if (h.on == halt_policy::trigger::success && h.met(s.succeeded, failed)) return all_ok;
    if (h.on == halt_policy::trigger::fail && h.count == 1 && s.first_failure)
      return std::min(*s.first_failure, 255);
    if (h.count == 0 && failed > 0) {
      const std::size_t ended = s.succeeded + failed;
      const std::size_t of = std::max(ended, total && *total > skipped ? *total - skipped : 0);
      return static_cast<int>(std::clamp<std::size_t>((failed * 100 + of / 2) / of, 1, 100));
    }
  }
  return failures_exit_code(failed);
}

int dry_run(run_state& s, const previous_results& previous) {
  std::string text;
  fingerprint_set keys;  // --dedupe: the keys that would run
  while (auto it = s.feed->next()) {
    const fingerprint key = it->key_identity();
    if (s.c.dedupe && (previous.by_key.contains(key) || !keys.insert(key))) continue;
    text = s.kind.describe(*it);
    text += '\n';
    write_all(STDOUT_FILENO, text);
  }
  return all_ok;
}

}  // namespace

int run_tasks(const run_config& c, task_kind& kind, input_source* source) {
  auto f = std::make_shared<feed>(c, kind);
  const input_reader& inputs = f->inputs;
  if (!inputs.jsonl()) {
    if (!c.key.empty())
      throw usage_error("--key " + c.key + " needs JSON Lines input, and " + inputs.name() +
                        " is read as text lines" +
                        (c.format == input_format::lines ? " (--lines)" : " (give --jsonl)"));
    if (!c.per_key_field.empty())
      throw usage_error("--per-key " + c.per_key_field + " needs JSON Lines input, and " +
                        inputs.name() + " is read as text lines" +
                        (c.format == input_format::lines ? " (--lines)" : " (give --jsonl)"));
    if (!c.cost_field.empty())
      throw usage_error("--cost " + c.cost_field + " needs JSON Lines input, and " + inputs.name() +
                        " is read as text lines (give --jsonl)");
    kind.inputs_are_lines();
  }

  std::unique_ptr<jsonl_writer> out;
  previous_results previous = done_tasks(c, out);
  f->done = std::move(previous.done);
  // Before the run's state: what the state makes on it (the rate limiter's timer) goes first.
  asio::io_context io(1);  // run by this thread alone (other threads only post to it)
  run_state s{.c = c,
              .kind = kind,
              .feed = f,
              .out = out.get(),
              .log = job_log(c.dry_run ? std::string() : c.joblog),
              .slots = {},
              .counters = {},
              .bar = {},
              .reuse = {},
              .limits = {},
              .source = source};
  if (c.dry_run) return dry_run(s, previous);
  if (c.dedupe) {
    s.reuse.emplace(*out, c.output, c.keep_order, std::max<std::size_t>(1024, 16 * c.max_at_once));
    for (const auto& [key, row] : previous.by_key) s.reuse->known(key, row);
    previous.by_key = {};
  }

  // Every limit in one decision: a start is admitted when all of them admit it (and a
  // server's Retry-After holds it even with no limit). -r, --window and --min-gap count
  // starts; --cost-window counts each task's --cost.
  s.limits.emplace(c, io.get_executor(), kind.takes_starts(), kind.may_hold());
  kind.starts_from(s.limits->starts());
  asio::steady_timer stop(io, asio::steady_timer::time_point::max());
  asio::steady_timer bar_timer(io);
  asio::cancellation_signal kill;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void()> on_signal = [&] {
    signals.async_wait([&](boost::system::error_code e, int) {
      if (e) return;
      if (!s.stopping) {
        s.stopping = true;
        stop.cancel();
        const std::string note = fmt::format(
            "\r\x1b[2Ksluice: stopping: waiting for {} running task(s); again to kill them\n",
            s.counters.snapshot().running);
        write_all(STDERR_FILENO, s.bar ? note : note.substr(5));
        on_signal();
      } else {
        s.killing = true;
        kill.emit(asio::cancellation_type::terminal);
      }
    });
  };
  on_signal();

  // --control: applied before the first start, then watched; SIGHUP reads it at once.
  std::optional<control_file> control;
  asio::steady_timer control_timer(io);
  asio::signal_set hangup(io);
  std::function<void()> on_hangup = [&] {
    hangup.async_wait([&](boost::system::error_code e, int) {
      if (e) return;
      control->look(*s.limits, true);
      on_hangup();
    });
  };
  if (!c.control.empty()) {
    control.emplace(c.control);
    control->look(*s.limits, true);
    hangup.add(SIGHUP);
    on_hangup();
    asio::co_spawn(io, watch_control(s, *control, control_timer), asio::detached);
  }

  if (c.progress) {
    s.bar.emplace(inputs.total());
    asio::co_spawn(io, draw_progress(s, bar_timer), asio::detached);
  }
  std::exception_ptr failure;
  asio::co_spawn(io, run_all_tasks(s, stop),
                 asio::bind_cancellation_slot(kill.slot(), [&](std::exception_ptr e) {
                   failure = e;
                   s.limits->close_now();
                   signals.cancel();
                   hangup.cancel();
                   control_timer.cancel();
                   bar_timer.cancel();
                   stop.cancel();
                 }));
  const auto t0 = std::chrono::steady_clock::now();
  io.run();
  kind.run_over();
  if (source) source->run_over();
  const auto wall = std::chrono::steady_clock::now() - t0;
  if (s.bar) s.bar->draw(s.counters.snapshot(), f->skipped, reused(s), true);
  if (c.stats) print_stats(previous, s.counters.snapshot(), f->skipped, reused(s), wall);
  if (out) out->close();
  if (failure && !(s.killing && is_cancellation(failure))) std::rethrow_exception(failure);
  if (s.stopping) return interrupted;
  // The input thread has ended (the run saw the end of its input): its failure is visible.
  if (f->failure) std::rethrow_exception(f->failure);
  return run_exit_code(s, f->inputs.total(), f->skipped);
}

}  // namespace sluice::cli
