// An HTTP server for tests, on 127.0.0.1 and a thread of its own, that produces on demand the
// faults a real server rarely does: slow answers, 429 with Retry-After, 503 bursts, a reset
// in the middle of a body, a malformed response, no answer at all; over TLS too. It counts
// the connections it accepts, so tests can see keep-alive at work.
//
// Routes (the path decides):
//   /ok                 200 "ok"
//   /echo[?query]       200 {"method","target","body","x_test","host","user_agent"} as JSON
//   /json               200 {"a":1} (application/json)
//   /binary             200, every byte value 0..255 as the body, X-Name: caf\xe9 (Latin-1)
//   /status/N           status N
//   /slow/MS            200 after MS milliseconds
//   /retry-after/V      429 with Retry-After: V
//   /flaky/N/NAME       503 for the first N requests of NAME, then 200 "ok"
//   /reset              says 100,000 bytes, sends 10, then resets the connection
//   /malformed          a status line that is not HTTP
//   /never              reads the request and never answers
//   /redirect/N         302 to /redirect/N-1; /redirect/0 is 200 "landed"
//   /close              200 "ok" with Connection: close
//   /big/N              200 with an N-byte body
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace sluice::test {

class http_test_server {
 public:
  /// Plain HTTP, or TLS with the given certificate chain and key (PEM files).
  http_test_server() { start(); }
  http_test_server(const std::string& cert_file, const std::string& key_file)
      : tls_(std::in_place, boost::asio::ssl::context::tls_server) {
    tls_->use_certificate_chain_file(cert_file);
    tls_->use_private_key_file(key_file, boost::asio::ssl::context::pem);
    start();
  }
  ~http_test_server() {
    io_.stop();
    thread_.join();
  }
  http_test_server(const http_test_server&) = delete;
  http_test_server& operator=(const http_test_server&) = delete;

  unsigned short port() const { return port_; }
  std::string url(std::string_view path, std::string_view host = "127.0.0.1") const {
    return std::string(tls_ ? "https://" : "http://") + std::string(host) + ":" +
           std::to_string(port_) + std::string(path);
  }
  std::size_t accepted() const { return accepted_; }
  std::size_t requests() const { return requests_; }

 private:
  using tcp = boost::asio::ip::tcp;
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using response = boost::beast::http::response<boost::beast::http::string_body>;

  void start() {
    tcp::acceptor a(io_, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port_ = a.local_endpoint().port();
    boost::asio::co_spawn(io_, accept(std::move(a)), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  boost::asio::awaitable<void> accept(tcp::acceptor a) {
    for (;;) {
      auto [ec, s] = co_await a.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      ++accepted_;
      if (tls_) {
        boost::asio::co_spawn(io_, tls_session(std::move(s)), boost::asio::detached);
      } else {
        boost::asio::co_spawn(io_, session(boost::beast::tcp_stream(std::move(s))),
                              boost::asio::detached);
      }
    }
  }

  boost::asio::awaitable<void> tls_session(tcp::socket s) {
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream(std::move(s), *tls_);
    auto [ec] = co_await stream.async_handshake(boost::asio::ssl::stream_base::server,
                                                boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
    co_await session(std::move(stream));
  }

  static unsigned number(std::string_view s) {
    unsigned n = 0;
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
  }

  template <class Stream>
  boost::asio::awaitable<void> session(Stream stream) {
    namespace http = boost::beast::http;
    using boost::asio::as_tuple;
    using boost::asio::use_awaitable;
    boost::beast::flat_buffer buffer;
    for (;;) {
      request req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, as_tuple(use_awaitable));
      if (ec) co_return;
      ++requests_;
      const std::string path(req.target());
      response res(http::status::ok, 11);
      res.set(http::field::content_type, "text/plain");
      res.body() = "ok";
      auto arg = [&](std::string_view prefix) {
        return std::string_view(path).substr(prefix.size());
      };
      if (path == "/echo" || path.starts_with("/echo?")) {
        boost::json::object o{{"method", std::string(req.method_string())},
                              {"target", path},
                              {"body", req.body()},
                              {"x_test", std::string(req["X-Test"])},
                              {"host", std::string(req["Host"])},
                              {"user_agent", std::string(req["User-Agent"])}};
        res.set(http::field::content_type, "application/json");
        res.body() = boost::json::serialize(o);
      } else if (path == "/json") {
        res.set(http::field::content_type, "application/json");
        res.body() = R"({"a":1})";
      } else if (path.starts_with("/status/")) {
        res.result(number(arg("/status/")));
        res.body() = "status " + std::string(arg("/status/"));
      } else if (path.starts_with("/slow/")) {
        boost::asio::steady_timer t(io_, std::chrono::milliseconds(number(arg("/slow/"))));
        co_await t.async_wait(as_tuple(use_awaitable));
      } else if (path.starts_with("/retry-after/")) {
        res.result(http::status::too_many_requests);
        res.set(http::field::retry_after, arg("/retry-after/"));
      } else if (path.starts_with("/flaky/")) {
        auto rest = arg("/flaky/");
        const auto slash = rest.find('/');
        const unsigned fails = number(rest.substr(0, slash));
        std::lock_guard lock(mutex_);
        if (seen_[std::string(rest.substr(slash + 1))]++ < fails)
          res.result(http::status::service_unavailable);
      } else if (path == "/reset") {
        const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789";
        co_await boost::asio::async_write(stream, boost::asio::buffer(head),
                                          as_tuple(use_awaitable));
        auto& sock = boost::beast::get_lowest_layer(stream).socket();
        sock.set_option(boost::asio::socket_base::linger(true, 0));
        sock.close();
        co_return;
      } else if (path == "/malformed") {
        const std::string junk = "HTTP/1.1 two hundred OK\r\n\r\n";
        co_await boost::asio::async_write(stream, boost::asio::buffer(junk),
                                          as_tuple(use_awaitable));
        co_return;
      } else if (path == "/never") {
        boost::asio::steady_timer t(io_, std::chrono::hours(1));
        co_await t.async_wait(as_tuple(use_awaitable));
        co_return;
      } else if (path.starts_with("/redirect/")) {
        const unsigned left = number(arg("/redirect/"));
        if (left > 0) {
          res.result(http::status::found);
          res.set(http::field::location, "/redirect/" + std::to_string(left - 1));
        } else {
          res.body() = "landed";
        }
      } else if (path == "/close") {
        res.keep_alive(false);
      } else if (path == "/binary") {
        // Every byte value in the body, and a header value in Latin-1 (obs-text).
        res.set(http::field::content_type, "application/octet-stream");
        res.set("X-Name", "caf\xe9");
        res.body().clear();
        for (int b = 0; b < 256; ++b) res.body().push_back(static_cast<char>(b));
      } else if (path.starts_with("/big/")) {
        res.body() = std::string(number(arg("/big/")), 'x');
      }
      if (path != "/close") res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, as_tuple(use_awaitable));
      if (wec || !res.keep_alive()) co_return;
    }
  }

  std::optional<boost::asio::ssl::context> tls_;  // outlives the sessions in io_
  boost::asio::io_context io_;
  std::thread thread_;
  unsigned short port_ = 0;
  std::atomic<std::size_t> accepted_{0}, requests_{0};
  std::mutex mutex_;
  std::map<std::string, unsigned> seen_;
};

}  // namespace sluice::test
