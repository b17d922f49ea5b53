#include "sluice/http_client.hpp"

#include "sluice/errors.hpp"
#include "sluice/limiter.hpp"
#include "sluice/rate_limiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using boost::system::system_error;
using clock = std::chrono::steady_clock;

namespace {

class category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "sluice.http"; }
  std::string message(int e) const override {
    switch (static_cast<error>(e)) {
      case error::resolve_timeout:
        return "DNS resolution timed out";
      case error::connect_timeout:
        return "connect timed out";
      case error::tls_timeout:
        return "TLS handshake timed out";
      case error::request_timeout:
        return "request timed out";
      case error::total_timeout:
        return "total timeout reached";
      case error::body_too_large:
        return "response body over the size limit";
      case error::too_many_redirects:
        return "too many redirects";
      case error::bad_url:
        return "not an absolute http or https URL";
      case error::bad_response:
        return "malformed HTTP response";
      case error::bad_request:
        return "a CR or LF in the method, the target or a header";
    }
    return "unknown HTTP client error";
  }
};

/// Where a request goes: one pool per origin.
struct target {
  bool tls = false;
  std::string host, port, origin, path;  // path: the request target ("/a?b")
  bool default_port = true;
};

target parse_target(std::string_view text) {
  auto u = boost::urls::parse_uri(text);
  if (!u) throw request_error(error::bad_url, std::string(text));
  target t;
  const auto scheme = u->scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https)
    throw request_error(error::bad_url, std::string(text));
  t.tls = scheme == boost::urls::scheme::https;
  t.host = u->encoded_host();
  if (t.host.empty()) throw request_error(error::bad_url, std::string(text));
  if (t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  t.default_port = !u->has_port();
  t.port = u->has_port() ? std::string(u->port()) : t.tls ? "443" : "80";
  t.origin = std::string(u->scheme()) + "://" + std::string(u->encoded_host_and_port());
  t.path = u->encoded_target();
  if (t.path.empty()) t.path = "/";
  return t;
}

/// parse_target for a run of URLs that share their scheme and authority (thousands of paths
/// on one API): the part before the path is parsed once, and only the path and query of the
/// next URLs are (Boost.URL's origin-form rule: the same grammar as a URI's path and query).
class target_parser {
 public:
  target parse(std::string_view text) {
    const auto slashes = text.find("://");
    const auto path_at =
        slashes == std::string_view::npos ? slashes : text.find_first_of("/?#", slashes + 3);
    if (path_at != std::string_view::npos && text[path_at] == '/' &&
        text.find('#', path_at) == std::string_view::npos && !prefix_.empty() &&
        text.substr(0, path_at) == prefix_) {
      const auto rest = text.substr(path_at);
      if (!boost::urls::parse_origin_form(rest))
        throw request_error(error::bad_url, std::string(text));
      target t = last_;
      t.path = rest;
      return t;
    }
    target t = parse_target(text);
    prefix_.clear();
    if (path_at != std::string_view::npos && text[path_at] == '/') {
      prefix_ = text.substr(0, path_at);
      last_ = t;
    }
    return t;
  }

 private:
  std::string prefix_;  // "https://host:port" of the last URL with a path
  target last_;
};

/// One connection: a TCP stream, with TLS on top for https.
struct connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  clock::time_point idle_since;

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};
using connection_ptr = std::unique_ptr<connection>;

struct host_pool {
  host_pool(const asio::any_io_executor& ex, std::size_t n, double rate) : slots(n) {
    if (rate > 0) starts.emplace(ex, rate);
  }
  limiter slots;                       // connections busy or being opened
  std::optional<rate_limiter> starts;  // max_per_second_per_host
  std::vector<connection_ptr> idle;    // newest last
};

/// The deadline of one phase: its own timeout or the request's total deadline, whichever
/// comes first, and which error its expiry means.
struct phase {
  clock::time_point at;
  error code;
};

phase phase_for(std::chrono::nanoseconds timeout, error code, clock::time_point total) {
  clock::time_point own = timeout.count() > 0 ? clock::now() + timeout : clock::time_point::max();
  if (total < own) return {total, error::total_timeout};
  return {own, code};
}

[[noreturn]] void fail(error_code ec, const phase& p, const std::string& what) {
  if (ec == beast::error::timeout) ec = p.code;
  throw request_error(ec, what);
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/// The request as it goes on the wire (HTTP/1.1). Host and User-Agent are ours unless the
/// caller's headers give them; Content-Length is set for a body, and for POST, PUT and PATCH
/// (an empty body), unless given. A CR or LF in the method, a header or the target is
/// error::bad_request: it would let an input add headers of its own.
std::string request_text(std::string_view method, const target& t, const header_list& headers,
                         std::string_view body, std::string_view user_agent,
                         const std::string& url) {
  auto has = [&](std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const auto& h) { return beast::iequals(h.first, name); });
  };
  auto check = [&](std::string_view part) {
    // (A plain loop: find_first_of calls a search of the set for every character.)
    for (const char c : part)
      if (c == '\r' || c == '\n') throw request_error(error::bad_request, url);
  };
  std::size_t size = method.size() + t.path.size() + t.host.size() + user_agent.size() + 64;
  for (const auto& [name, value] : headers) size += name.size() + value.size() + 4;
  std::string w;
  w.reserve(size + body.size());
  check(method);
  check(t.path);
  w.append(method).append(" ").append(t.path).append(" HTTP/1.1\r\n");
  if (!has("Host")) {
    w.append("Host: ").append(t.host);
    if (!t.default_port) w.append(":").append(t.port);
    w.append("\r\n");
  }
  if (!has("User-Agent")) w.append("User-Agent: ").append(user_agent).append("\r\n");
  for (const auto& [name, value] : headers) {
    check(name);
    check(value);
    w.append(name).append(": ").append(value).append("\r\n");
  }
  if ((!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") &&
      !has("Content-Length") && !has("Transfer-Encoding"))
    w.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  w.append("\r\n").append(body);
  return w;
}

/// A pooled connection the server closed while it was idle fails like this on first use.
bool is_stale(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category_impl c;
  return c;
}

error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

std::string_view response::header(std::string_view name) const {
  auto it = headers.find(name);
  if (it == headers.end()) return {};
  return {it->value().data(), it->value().size()};
}

struct client::impl : std::enable_shared_from_this<client::impl> {
  impl(asio::any_io_executor e, client_options o)
      : ex(std::move(e)), opts(std::move(o)), watchdog(ex) {
    if (opts.max_connections_per_host == 0)
      throw std::invalid_argument("http::client: max_connections_per_host must be > 0");
    if (!opts.ca_file.empty()) tls_context();  // a bad CA file is an error now, not later
  }

  /// The TLS context, made at the first https connection: loading the system store takes
  /// tens of milliseconds, which a client of plain http should not pay.
  ssl::context& tls_context() {
    if (tls) return *tls;
    ssl::context c(ssl::context::tls_client);
    if (opts.insecure) {
      c.set_verify_mode(ssl::verify_none);
    } else {
      c.set_default_verify_paths();
      if (!opts.ca_file.empty()) c.load_verify_file(opts.ca_file);
      c.set_verify_mode(ssl::verify_peer);
    }
    return tls.emplace(std::move(c));
  }

  asio::any_io_executor ex;
  client_options opts;
  std::optional<ssl::context> tls;
  target_parser targets;

  // Request timeouts. Beast's tcp_stream arms and cancels a timer for every read and write;
  // here one watchdog serves every exchange in flight. It ticks while exchanges run, every
  // tenth of the shortest time left to one of them (1 ms to 100 ms), and closes the socket of
  // an exchange past its deadline, which then fails with its phase's timeout.
  struct watched_exchange {
    clock::time_point deadline;
    connection* c;
    bool expired = false;
    std::size_t at = 0;  // its place in `watched`
  };
  std::vector<watched_exchange*> watched;
  asio::steady_timer watchdog;
  clock::time_point watchdog_at = clock::time_point::max();  // its armed expiry, if armed

  /// Watches `w` (unwatch() before it goes).
  void watch(watched_exchange& w) {
    if (w.deadline == clock::time_point::max()) return;
    w.at = watched.size();
    watched.push_back(&w);
    arm_watchdog(wake_for(w, clock::now()));
  }
  void unwatch(watched_exchange& w) {
    if (w.deadline == clock::time_point::max()) return;  // (never watched)
    watched[w.at] = watched.back();
    watched[w.at]->at = w.at;
    watched.pop_back();
    if (watched.empty() && watchdog_at != clock::time_point::max()) {
      watchdog_at = clock::time_point::max();
      watchdog.cancel();  // nothing left to time: no wait keeps the client (or a run) alive
    }
  }
  // When the watchdog should look at `w` next: at its deadline, or a tenth of the way there.
  static clock::time_point wake_for(const watched_exchange& w, clock::time_point now) {
    const auto tick = std::clamp<clock::duration>(
        (w.deadline - now) / 10, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
    return std::min(w.deadline, now + tick);
  }
  void arm_watchdog(clock::time_point next) {
    if (next >= watchdog_at) return;  // armed early enough
    watchdog_at = next;
    watchdog.expires_at(next);  // (a wait armed for later ends with operation_aborted)
    watchdog.async_wait([self = shared_from_this(), next](error_code ec) {
      if (ec || self->watchdog_at != next) return;  // re-armed meanwhile
      self->watchdog_at = clock::time_point::max();
      self->check_deadlines();
    });
  }
  void check_deadlines() {
    const auto now = clock::now();
    auto next = clock::time_point::max();
    for (auto* w : watched) {
      if (w->expired) continue;
      if (w->deadline <= now) {
        w->expired = true;
        error_code ignored;
        w->c->tcp().socket().close(ignored);  // its read or write ends now
      } else {
        next = std::min(next, wake_for(*w, now));
      }
    }
    arm_watchdog(next);
  }

  std::map<std::string, std::unique_ptr<host_pool>, std::less<>> pools;
  std::size_t opened = 0;

  host_pool& pool_for(const std::string& origin) {
    auto it = pools.find(origin);
    if (it == pools.end())
      it = pools
               .emplace(origin, std::make_unique<host_pool>(ex, opts.max_connections_per_host,
                                                            opts.max_per_second_per_host))
               .first;
    return *it->second;
  }

  /// The newest idle connection not idle for too long; the older ones are closed.
  connection_ptr take_idle(host_pool& p) {
    const auto now = clock::now();
    while (!p.idle.empty()) {
      connection_ptr c = std::move(p.idle.back());
      p.idle.pop_back();
      if (now - c->idle_since < opts.idle_timeout) return c;
    }
    return nullptr;
  }

  asio::awaitable<connection_ptr> connect(const target& t, clock::time_point total, timing& time) {
    using namespace asio::experimental::awaitable_operators;
    const auto t0 = clock::now();
    const phase p = phase_for(opts.connect_timeout, error::connect_timeout, total);
    tcp::resolver resolver(ex);
    asio::steady_timer timer(ex, p.at);
    auto resolved =
        co_await (resolver.async_resolve(t.host, t.port, asio::as_tuple(asio::use_awaitable)) ||
                  timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (resolved.index() == 1)
      throw request_error(
          p.code == error::total_timeout ? error::total_timeout : error::resolve_timeout,
          t.origin + ": resolving " + t.host);
    auto [rec, endpoints] = std::get<0>(std::move(resolved));
    if (rec) throw request_error(rec, t.origin + ": resolving " + t.host);

    auto c = std::make_unique<connection>();
    auto stream = std::make_unique<beast::tcp_stream>(ex);
    stream->expires_at(p.at);
    auto [cec, ep] = co_await stream->async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (cec) fail(cec, p, t.origin + ": connect");
    stream->socket().set_option(tcp::no_delay(true));
    ++opened;
    const auto t1 = clock::now();
    time.connect = t1 - t0;
    if (!t.tls) {
      stream->expires_never();  // from now on the watchdog times each exchange
      c->plain = std::move(stream);
      co_return c;
    }
    c->secure =
        std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), tls_context());
    auto& s = *c->secure;
    if (!SSL_set_tlsext_host_name(s.native_handle(), t.host.c_str()))
      throw request_error(
          error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()),
          t.origin + ": TLS server name");
    if (!opts.insecure) s.set_verify_callback(ssl::host_name_verification(t.host));
    const phase hp = phase_for(opts.tls_timeout, error::tls_timeout, total);
    beast::get_lowest_layer(s).expires_at(hp.at);
    auto [hec] =
        co_await s.async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (hec) fail(hec, hp, t.origin + ": TLS handshake");
    beast::get_lowest_layer(s).expires_never();  // from now on the watchdog times exchanges
    time.tls = clock::now() - t1;
    co_return c;
  }

  /// Sends `wire` (a whole request) on `c` and reads the response into `out`. An error before any
  /// byte of the response arrived is returned as `stale` (the caller may retry on a new
  /// connection).
  template <class Stream>
  asio::awaitable<error_code> exchange(Stream& s, connection& c, const std::string& wire, bool head,
                                       const phase& p, response& out, bool& stale) {
    watched_exchange w{p.at, &c};
    watch(w);
    struct unwatch_at_exit {
      impl& s;
      watched_exchange& w;
      ~unwatch_at_exit() { s.unwatch(w); }
    } guard{*this, w};
    // Past its deadline, an exchange is a timeout; a response that was complete all the same
    // is kept, and its connection (closed by the watchdog) is not reused.
    auto timed = [&](error_code ec) {
      if (!w.expired) return ec;
      stale = false;
      return ec ? error_code(beast::error::timeout) : error_code(asio::error::eof);
    };
    const auto t0 = clock::now();
    out.timing.sent = t0;
    auto [wec, wn] =
        co_await asio::async_write(s, asio::buffer(wire), asio::as_tuple(asio::use_awaitable));
    if (wec) {
      stale = is_stale(wec);
      co_return timed(wec);
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(opts.body_limit);
    parser.skip(head);   // a HEAD response's Content-Length describes no body
    parser.eager(true);  // each read parses all it got: a small response takes one read
    std::size_t received = 0;
    bool header_seen = false;
    while (!parser.is_done()) {
      auto [rec, rn] =
          co_await bhttp::async_read_some(s, c.buffer, parser, asio::as_tuple(asio::use_awaitable));
      received += rn;
      if (rec) {
        stale = !header_seen && received == 0 && is_stale(rec);
        co_return timed(rec);
      }
      if (!header_seen && parser.is_header_done()) {
        header_seen = true;
        out.timing.first_byte = clock::now() - t0;
      }
    }
    auto msg = parser.release();
    out.status = msg.result_int();
    out.body = std::move(msg.body());
    out.headers = std::move(msg.base());
    co_return timed(msg.keep_alive() ? error_code() : error_code(asio::error::eof));
  }
};

client::client(asio::any_io_executor ex, client_options opts)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(opts))) {}

client::~client() = default;

std::size_t client::connections_opened() const noexcept {
  return impl_->opened;
}
const client_options& client::options() const noexcept {
  return impl_->opts;
}

asio::awaitable<response> client::request(std::string method, std::string url, header_list headers,
                                          std::string body, limit_set* starts, std::uint64_t cost) {
  auto self = impl_;  // the state outlives the client while this runs
  impl& s = *self;
  const auto start = clock::now();
  const auto total =
      s.opts.total_timeout.count() > 0 ? start + s.opts.total_timeout : clock::time_point::max();
  response out;
  for (;;) {
    const target t = s.targets.parse(url);
    host_pool& pool = s.pool_for(t.origin);

    // A connection slot of the host, within the total deadline.
    const auto q0 = clock::now();
    permit slot;
    if (auto p = pool.slots.try_acquire()) {
      slot = std::move(p);
    } else {
      using namespace asio::experimental::awaitable_operators;
      asio::steady_timer timer(s.ex, total);
      auto got =
          co_await (pool.slots.acquire() || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (got.index() == 1)
        throw request_error(error::total_timeout, url + ": waiting for a connection");
      slot = std::get<0>(std::move(got));
    }
    out.timing.queued += clock::now() - q0;

    const std::string wire = request_text(method, t, headers, body, s.opts.user_agent, url);
    const bool head = method == "HEAD";

    connection_ptr c = s.take_idle(pool);
    bool started = false;
    limit_set::ticket held;  // the caller's limits, taken once
    for (int tries = 0;; ++tries) {
      out.reused_connection = c != nullptr;
      if (!c) c = co_await s.connect(t, total, out.timing);
      if (!started) {
        // The start is taken once the connection is ready, right before the request is
        // written, because that is when the server counts it: taken before a new connection's
        // setup, a burst would reach the server that much later than its slot, and closer to
        // the next one than the limit allows.
        const auto w0 = clock::now();
        if (pool.starts) co_await pool.starts->acquire();
        if (starts != nullptr) held = co_await std::exchange(starts, nullptr)->acquire(cost);
        out.timing.queued += clock::now() - w0;
        started = true;
      }
      const phase p = phase_for(s.opts.request_timeout, error::request_timeout, total);
      bool stale = false;
      error_code ec = c->secure ? co_await s.exchange(*c->secure, *c, wire, head, p, out, stale)
                                : co_await s.exchange(*c->plain, *c, wire, head, p, out, stale);
      if (!ec) {
        c->idle_since = clock::now();
        pool.idle.push_back(std::move(c));
        break;
      }
      if (ec == asio::error::eof && out.status != 0) break;  // complete; the server closes
      c.reset();
      if (stale && out.reused_connection && tries == 0) continue;  // closed while idle
      if (ec == bhttp::error::body_limit) fail(error::body_too_large, p, url);
      if (ec.category() == make_error_code(bhttp::error::bad_version).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
        fail(error::bad_response, p, url + ": " + ec.message());
      fail(ec, p, url);
    }
    slot.release();

    const bool may_follow = method == "GET" || method == "HEAD" || s.opts.redirect_any_method;
    if (!is_redirect(out.status) || !may_follow) break;
    const auto location = out.header("Location");
    if (location.empty()) break;
    if (out.redirects == s.opts.max_redirects) throw request_error(error::too_many_redirects, url);
    auto base = boost::urls::parse_uri(url);
    auto ref = boost::urls::parse_uri_reference(location);
    if (!base || !ref) throw request_error(error::bad_url, std::string(location));
    boost::urls::url next;
    if (auto r = boost::urls::resolve(*base, *ref, next); !r)
      throw request_error(error::bad_url, std::string(location));
    url = next.buffer();
    ++out.redirects;
    if (out.status == 303 && method != "HEAD") {
      method = "GET";
      body.clear();
    }
    out.status = 0;
  }
  out.url = std::move(url);
  out.timing.total = clock::now() - start;
  co_return out;
}

bool retryable_status(unsigned status) noexcept {
  return status == 429 || (status >= 500 && status <= 599 && status != 501);
}

bool is_timeout(const boost::system::error_code& ec) noexcept {
  return ec.category() == error_category() &&
         ec.value() >= static_cast<int>(error::resolve_timeout) &&
         ec.value() <= static_cast<int>(error::total_timeout);
}

bool retryable_error(const std::exception_ptr& e) noexcept {
  if (!e || is_cancellation(e)) return false;
  try {
    std::rethrow_exception(e);
  } catch (const system_error& s) {
    const auto ec = s.code();
    if (ec.category() == error_category())
      return ec != error::bad_url && ec != error::bad_request && ec != error::too_many_redirects &&
             ec != error::body_too_large;
    if (ec.category() == asio::error::get_ssl_category()) return false;  // verification and such
    return true;
  } catch (...) {
    return false;
  }
}

std::optional<std::chrono::nanoseconds> retry_after(const response& r,
                                                    std::chrono::system_clock::time_point now) {
  std::string v(r.header("Retry-After"));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  if (v.empty()) return std::nullopt;
  // A wait of more than a year is taken as a year: either form can ask for more than the
  // nanosecond clock holds (292 years).
  constexpr std::chrono::seconds year = std::chrono::hours(24 * 365);
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    if (v.size() > 9) return year;
    return std::chrono::seconds(std::stol(v));
  }
  std::tm tm{};
  const char* end = ::strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  // In seconds first (found by fuzz_http_response: a date in the year 4030 overflowed).
  const std::chrono::seconds at(::timegm(&tm));
  const auto since_epoch = now.time_since_epoch();
  const auto now_s = std::chrono::floor<std::chrono::seconds>(since_epoch);
  if (at <= now_s) return std::chrono::nanoseconds(0);
  if (at - now_s > year) return year;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at) - since_epoch;
}

}  // namespace sluice::http
