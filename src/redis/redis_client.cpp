#include "sluice/redis_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <utility>

namespace sluice {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

long long redis_reply::as_integer() const {
  if (type == kind::integer) return integer;
  long long v = 0;
  if (type == kind::string || type == kind::status || type == kind::number) {
    const auto [p, ec] = std::from_chars(str.data(), str.data() + str.size(), v);
    if (ec == std::errc() && p == str.data() + str.size()) return v;
  }
  throw redis_error("redis: expected an integer reply, got " +
                    (type == kind::error ? "the error " + str : "'" + str + "'"));
}

// ----- configuration ------------------------------------------------------------------------

redis_config redis_config::from_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("--redis: " + why +
                                 " (expected redis://[[user]:password@]host[:port][/db])");
  };
  auto r = boost::urls::parse_uri(url);
  if (!r) throw bad("not a URL");
  const auto& u = *r;
  redis_config c;
  const auto scheme = u.scheme();
  if (scheme == "rediss")
    c.tls = true;
  else if (scheme != "redis")
    throw bad("the scheme must be redis or rediss, not '" + std::string(scheme) + "'");
  if (u.host().empty()) throw bad("no host");
  c.host = u.host_address();  // IPv6 without its brackets
  if (u.has_port()) {
    if (u.port_number() == 0) throw bad("bad port '" + std::string(u.port()) + "'");
    c.port = u.port_number();
  }
  if (u.has_userinfo()) {
    c.user = u.user();
    if (u.has_password()) c.password = u.password();
  }
  if (c.password.empty()) {
    for (const char* env : {"SLUICE_REDIS_PASSWORD", "REDISCLI_AUTH"})
      if (const char* p = std::getenv(env); p != nullptr && *p != '\0') {
        c.password = p;
        break;
      }
  }
  std::string_view path = u.encoded_path();
  if (!path.empty() && path != "/") {
    path.remove_prefix(1);
    int db = -1;
    const auto [p, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (ec != std::errc() || p != path.data() + path.size() || db < 0)
      throw bad("the path must be a database number, not '" + std::string(path) + "'");
    c.db = db;
  }
  if (u.has_query()) throw bad("no query is understood");
  return c;
}

std::string redis_config::display() const {
  std::string s = tls ? "rediss://" : "redis://";
  if (!user.empty()) s += user + "@";
  s += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  s += ":" + std::to_string(port);
  if (db != 0) s += "/" + std::to_string(db);
  return s;
}

// ----- the connection -----------------------------------------------------------------------

namespace {

redis_reply convert(const redisReply* r) {
  redis_reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r->type == REDIS_REPLY_STRING   ? redis_reply::kind::string
                 : r->type == REDIS_REPLY_STATUS ? redis_reply::kind::status
                                                 : redis_reply::kind::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = redis_reply::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = redis_reply::kind::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = redis_reply::kind::nil;
  }
  return out;
}

void append_command(std::string& out, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int n =
      redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv.data(), lens.data());
  if (n < 0 || cmd == nullptr) throw std::bad_alloc();
  out.append(cmd, static_cast<std::size_t>(n));
  redisFreeCommand(cmd);
}

// An error reply: refused (redis_error), or the server cannot answer yet (redis_unavailable:
// loading its data after a restart, a script running too long, a replica without its master).
[[noreturn]] void throw_error_reply(const std::string& config, const std::string& text) {
  for (const char* transient : {"LOADING ", "BUSY ", "TRYAGAIN ", "MASTERDOWN ", "CLUSTERDOWN "})
    if (text.rfind(transient, 0) == 0) throw redis_unavailable("redis " + config + ": " + text);
  throw redis_error(text);
}

struct reader_deleter {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};

}  // namespace

struct redis_client::impl : std::enable_shared_from_this<impl> {
  struct request {
    explicit request(const asio::any_io_executor& ex) : timer(ex) {}
    std::string payload;
    std::size_t expected = 0;
    std::vector<redis_reply> replies;
    std::exception_ptr error;
    bool done = false, sent = false;
    asio::steady_timer timer;  // the deadline; cancelled when done

    void finish(std::exception_ptr e = nullptr) {
      if (done) return;
      done = true;
      error = std::move(e);
      timer.cancel();
    }
  };
  using request_ptr = std::shared_ptr<request>;

  impl(asio::any_io_executor e, redis_config c)
      : ex(std::move(e)), cfg(std::move(c)), sock(ex), backoff_timer(ex) {}

  asio::any_io_executor ex;
  redis_config cfg;
  tcp::socket sock;
  std::optional<ssl::context> tls_ctx;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;
  std::unique_ptr<redisReader, reader_deleter> reader;
  std::deque<request_ptr> queued;  // not written yet (no connection, or a write in flight)
  std::deque<request_ptr> sent;    // written, in reply order
  std::string out_buf;
  char in_buf[16384];
  asio::steady_timer backoff_timer;
  std::function<void(const std::string&)> state_cb;
  std::map<const redis_script*, std::string> shas;
  std::string last_failure;  // why the connection is down (for messages)
  std::string drop_reason;   // why drop() closed it
  bool up = false, writing = false, running = false, closed = false, ever_up = false;

  void report(const std::string& s) {
    if (state_cb) state_cb(s);
  }

  // Queues a request and makes sure the connection is being made.
  void submit(const request_ptr& r) {
    queued.push_back(r);
    if (!running) {
      running = true;
      asio::co_spawn(ex, maintain(shared_from_this()), asio::detached);
    }
    flush();
  }

  void flush() {
    if (!up || writing || queued.empty()) return;
    out_buf.clear();
    while (!queued.empty()) {
      auto r = std::move(queued.front());
      queued.pop_front();
      if (r->done) continue;  // timed out while queued
      r->sent = true;
      out_buf += r->payload;
      sent.push_back(std::move(r));
    }
    if (out_buf.empty()) return;
    writing = true;
    auto on_written = [self = shared_from_this()](boost::system::error_code e, std::size_t) {
      self->writing = false;
      if (e) {
        self->drop("write: " + e.message());
        return;
      }
      self->flush();
    };
    if (tls)
      asio::async_write(*tls, asio::buffer(out_buf), on_written);
    else
      asio::async_write(sock, asio::buffer(out_buf), on_written);
  }

  // Ends the connection: the reader sees it and maintain() makes a new one.
  void drop(const std::string& why) {
    if (drop_reason.empty()) drop_reason = why;
    boost::system::error_code ignored;
    sock.close(ignored);
  }

  void fail_sent(const std::string& why) {
    while (!sent.empty()) {
      auto r = std::move(sent.front());
      sent.pop_front();
      r->finish(std::make_exception_ptr(redis_unavailable(
          "redis " + cfg.display() + ": connection lost before the reply (" + why + ")")));
    }
  }

  asio::awaitable<std::size_t> read_some() {
    if (tls) co_return co_await tls->async_read_some(asio::buffer(in_buf), asio::use_awaitable);
    co_return co_await sock.async_read_some(asio::buffer(in_buf), asio::use_awaitable);
  }

  // Parses what has been read; hands each reply to the request it answers.
  void deliver(std::size_t n) {
    if (redisReaderFeed(reader.get(), in_buf, n) != REDIS_OK)
      throw std::runtime_error("cannot read the reply");
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK)
        throw std::runtime_error(std::string("bad reply: ") + reader->errstr);
      if (raw == nullptr) return;
      auto* rep = static_cast<redisReply*>(raw);
      redis_reply value = convert(rep);
      freeReplyObject(rep);
      if (sent.empty()) throw std::runtime_error("a reply no command asked for");
      request& r = *sent.front();
      r.replies.push_back(std::move(value));
      if (r.replies.size() == r.expected) {
        auto done = std::move(sent.front());
        sent.pop_front();
        done->finish();
      }
    }
  }

  asio::awaitable<void> connect() {
    // One deadline for resolving, connecting, the TLS handshake and AUTH: when it passes,
    // the socket is closed and whatever step is waiting fails.
    asio::steady_timer deadline(ex);
    deadline.expires_after(cfg.connect_timeout);
    bool expired = false;
    tcp::resolver resolver(ex);
    deadline.async_wait([&expired, &resolver, this](boost::system::error_code e) {
      if (e) return;
      expired = true;
      resolver.cancel();
      boost::system::error_code ignored;
      sock.close(ignored);
    });
    struct stop_deadline {
      asio::steady_timer& t;
      ~stop_deadline() { t.cancel(); }
    } guard{deadline};
    auto step = [&](const std::string& what) -> std::string {
      return expired
                 ? what + " timed out after " + std::to_string(cfg.connect_timeout.count()) + " ms"
                 : what;
    };
    tcp::resolver::results_type endpoints;
    try {
      endpoints =
          co_await resolver.async_resolve(cfg.host, std::to_string(cfg.port), asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(expired ? step("resolving " + cfg.host) : e.code().message());
    }
    tls.reset();  // (it refers to the socket)
    sock = tcp::socket(ex);
    try {
      co_await asio::async_connect(sock, endpoints, asio::use_awaitable);
      sock.set_option(tcp::no_delay(true));
      if (cfg.tls) {
        if (!tls_ctx) {
          tls_ctx.emplace(ssl::context::tls_client);
          tls_ctx->set_default_verify_paths();
          tls_ctx->set_verify_mode(ssl::verify_peer);
        }
        tls = std::make_unique<ssl::stream<tcp::socket&>>(sock, *tls_ctx);
        if (!SSL_set_tlsext_host_name(tls->native_handle(), cfg.host.c_str()))
          throw std::runtime_error("TLS: cannot set the server name");
        tls->set_verify_callback(ssl::host_name_verification(cfg.host));
        co_await tls->async_handshake(ssl::stream_base::client, asio::use_awaitable);
      }
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(expired ? step("connect") : e.code().message());
    }
    reader.reset(redisReaderCreate());
    if (!reader) throw std::bad_alloc();
    // AUTH and SELECT before anything else, answered before the queued commands are written.
    std::vector<std::vector<std::string>> hello;
    if (!cfg.password.empty()) {
      if (cfg.user.empty())
        hello.push_back({"AUTH", cfg.password});
      else
        hello.push_back({"AUTH", cfg.user, cfg.password});
    }
    if (cfg.db != 0) hello.push_back({"SELECT", std::to_string(cfg.db)});
    if (hello.empty()) co_return;
    auto r = std::make_shared<request>(ex);
    for (const auto& c : hello) append_command(r->payload, c);
    r->expected = hello.size();
    sent.push_back(r);
    try {
      if (tls)
        co_await asio::async_write(*tls, asio::buffer(r->payload), asio::use_awaitable);
      else
        co_await asio::async_write(sock, asio::buffer(r->payload), asio::use_awaitable);
      while (!r->done) deliver(co_await read_some());
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(expired ? step("AUTH") : e.code().message());
    }
    for (const auto& rep : r->replies)
      if (rep.is_error()) {
        // Not retried at once: a wrong password stays wrong. What waits fails with it.
        const bool auth = rep.str.rfind("WRONGPASS", 0) == 0 || rep.str.rfind("NOAUTH", 0) == 0 ||
                          rep.str.find("AUTH") != std::string::npos;
        throw redis_error(auth ? "authentication failed: " + rep.str : rep.str);
      }
  }

  void fail_queued(const std::exception_ptr& e) {
    while (!queued.empty()) {
      queued.front()->finish(e);
      queued.pop_front();
    }
  }

  static asio::awaitable<void> maintain(std::shared_ptr<impl> self) {
    impl& s = *self;
    auto wait = s.cfg.backoff_min;
    std::minstd_rand jitter(std::random_device{}());
    while (!s.closed) {
      std::string why;
      std::exception_ptr fatal;
      try {
        co_await s.connect();
        s.up = true;
        if (s.ever_up && !s.last_failure.empty()) s.report("connected again");
        s.ever_up = true;
        s.last_failure.clear();
        wait = s.cfg.backoff_min;
        s.flush();
        for (;;) s.deliver(co_await s.read_some());
      } catch (const redis_error& e) {
        why = e.what();
        fatal = std::current_exception();
      } catch (const boost::system::system_error& e) {
        why = e.code().message();  // (what() adds Asio's source location)
      } catch (const std::exception& e) {
        why = e.what();
      }
      if (!s.drop_reason.empty()) why = std::exchange(s.drop_reason, {});
      s.up = false;
      s.writing = false;
      boost::system::error_code ignored;
      s.sock.close(ignored);
      s.fail_sent(why);
      if (s.closed) break;
      if (s.last_failure.empty() || s.last_failure != why)
        s.report("connection lost: " + why + "; retrying");
      s.last_failure = why;
      // A refused password fails what waits now; later commands try again (it may be fixed).
      if (fatal) s.fail_queued(fatal);
      s.backoff_timer.expires_after(wait +
                                    std::chrono::milliseconds(jitter() % (wait.count() / 4 + 1)));
      co_await s.backoff_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      wait = std::min(wait * 2, s.cfg.backoff_max);
    }
    s.running = false;
  }

  asio::awaitable<std::vector<redis_reply>> run(std::vector<std::vector<std::string>> commands) {
    if (closed) throw redis_unavailable("redis " + cfg.display() + ": the client is closed");
    auto r = std::make_shared<request>(ex);
    for (const auto& c : commands) append_command(r->payload, c);
    r->expected = commands.size();
    if (r->expected == 0) co_return std::vector<redis_reply>{};
    r->timer.expires_after(cfg.timeout);
    submit(r);
    auto keep = shared_from_this();
    co_await r->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!r->done) {
      // No reply in time: the connection is made again (a late reply would answer no one).
      r->finish();
      const bool was_sent = r->sent;
      if (was_sent) drop("no reply within " + std::to_string(cfg.timeout.count()) + " ms");
      throw redis_unavailable(
          "redis " + cfg.display() +
          (was_sent ? ": no reply within " + std::to_string(cfg.timeout.count()) + " ms"
                    : ": not connected within " + std::to_string(cfg.timeout.count()) + " ms" +
                          (last_failure.empty() ? "" : " (" + last_failure + ")")));
    }
    if (r->error) std::rethrow_exception(r->error);
    co_return std::move(r->replies);
  }
};

redis_client::redis_client(asio::any_io_executor ex, redis_config config)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(config))) {}

redis_client::~redis_client() {
  close();
}

void redis_client::close() {
  impl& s = *impl_;
  if (s.closed) return;
  s.closed = true;
  const auto e = std::make_exception_ptr(
      redis_unavailable("redis " + s.cfg.display() + ": the client is closed"));
  s.fail_queued(e);
  while (!s.sent.empty()) {
    s.sent.front()->finish(e);
    s.sent.pop_front();
  }
  boost::system::error_code ignored;
  s.sock.close(ignored);
  s.backoff_timer.cancel();
}

asio::awaitable<redis_reply> redis_client::command(std::vector<std::string> args) {
  std::vector<std::vector<std::string>> one;
  one.push_back(std::move(args));
  auto keep = impl_;
  auto replies = co_await keep->run(std::move(one));
  if (replies.front().is_error()) throw_error_reply(keep->cfg.display(), replies.front().str);
  co_return std::move(replies.front());
}

asio::awaitable<std::vector<redis_reply>> redis_client::pipeline(
    std::vector<std::vector<std::string>> commands) {
  auto keep = impl_;
  co_return co_await keep->run(std::move(commands));
}

asio::awaitable<redis_reply> redis_client::eval(const redis_script& script,
                                                std::vector<std::string> keys,
                                                std::vector<std::string> args) {
  impl& s = *impl_;
  auto keep = impl_;
  for (int attempt = 0;; ++attempt) {
    auto it = s.shas.find(&script);
    if (it == s.shas.end()) {
      // (Through the impl only: this client object may be gone when the call resumes.)
      std::vector<std::vector<std::string>> load{{"SCRIPT", "LOAD", script.source}};
      auto sha = co_await s.run(std::move(load));
      if (sha.front().is_error()) throw_error_reply(s.cfg.display(), sha.front().str);
      it = s.shas.insert_or_assign(&script, sha.front().str).first;
    }
    std::vector<std::string> cmd{"EVALSHA", it->second, std::to_string(keys.size())};
    cmd.insert(cmd.end(), keys.begin(), keys.end());
    cmd.insert(cmd.end(), args.begin(), args.end());
    std::vector<std::vector<std::string>> one;
    one.push_back(std::move(cmd));
    auto replies = co_await s.run(std::move(one));
    redis_reply& r = replies.front();
    if (r.is_error()) {
      if (r.str.rfind("NOSCRIPT", 0) == 0 && attempt == 0) {
        s.shas.erase(&script);  // the server lost it (restarted): load it again
        continue;
      }
      throw_error_reply(s.cfg.display(), r.str);
    }
    co_return std::move(r);
  }
}

void redis_client::on_state(std::function<void(const std::string&)> f) {
  impl_->state_cb = std::move(f);
}

const redis_config& redis_client::config() const noexcept {
  return impl_->cfg;
}
bool redis_client::connected() const noexcept {
  return impl_->up;
}
const asio::any_io_executor& redis_client::get_executor() const noexcept {
  return impl_->ex;
}

}  // namespace sluice
