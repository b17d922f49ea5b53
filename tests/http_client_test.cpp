// sluice::http::client against a real server on loopback (tests/http_server.hpp): keep-alive
// reuse counted at the server, the per-host connection cap, each timeout as its own error,
// resets, malformed responses, redirects, the body cap, TLS with a self-signed certificate
// made by the openssl command, and Retry-After; then static files, statuses, keep-alive and
// redirects against a real nginx.
#include "files.hpp"
#include "http_server.hpp"
#include "nginx.hpp"

#include <sluice/http_client.hpp>
#include <sluice/run.hpp>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <array>
#include <cstdlib>
#include <map>

namespace sluice::test {
namespace {

namespace asio = boost::asio;
namespace http = sluice::http;
using namespace std::chrono_literals;

/// Runs `body(client)` to completion on a fresh io_context.
template <class Body>
void with_client(http::client_options o, Body body) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        http::client c(io.get_executor(), o);
        co_await body(c);
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

/// The error code client::request fails with.
template <class Body>
boost::system::error_code error_of(http::client_options o, Body body) {
  try {
    with_client(o, body);
  } catch (const boost::system::system_error& e) {
    return e.code();
  }
  return {};
}

TEST(HttpClient, GetsAResponseWithStatusHeadersBodyAndTiming) {
  http_test_server server;
  with_client({}, [&](http::client& c) -> asio::awaitable<void> {
    http::header_list headers{{"X-Test", "yes"}};  // (GCC 12: no braced lists in co_await)
    auto r = co_await c.request("POST", server.url("/echo"), std::move(headers), "payload");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("content-type"), "application/json");
    auto echo = boost::json::parse(r.body).as_object();
    EXPECT_EQ(echo["method"], "POST");
    EXPECT_EQ(echo["body"], "payload");
    EXPECT_EQ(echo["x_test"], "yes");
    EXPECT_GT(r.timing.connect.count(), 0);
    EXPECT_GE(r.timing.total, r.timing.first_byte);
    EXPECT_FALSE(r.reused_connection);
    r = co_await c.request("GET", server.url("/status/404"), {}, {});
    EXPECT_EQ(r.status, 404u);  // a status is a response, not an error
    EXPECT_TRUE(r.reused_connection);
  });
}

TEST(HttpClient, KeepAliveReusesConnectionsUpToThePerHostCap) {
  http_test_server server;
  http::client_options o;
  o.max_connections_per_host = 4;
  std::size_t opened = 0;
  with_client(o, [&](http::client& c) -> asio::awaitable<void> {
    // 200 requests, 16 at a time, on at most 4 connections.
    std::vector<int> ids(200);
    options ro;
    ro.max_at_once = 16;
    co_await run_on_each(
        [&](int) -> asio::awaitable<void> {
          auto r = co_await c.request("GET", server.url("/slow/2"), {}, {});
          EXPECT_EQ(r.status, 200u);
        },
        ids, ro);
    opened = c.connections_opened();
  });
  EXPECT_EQ(server.requests(), 200u);
  EXPECT_EQ(server.accepted(), 4u);
  EXPECT_EQ(opened, 4u);
}

TEST(HttpClient, AConnectionTheServerClosesIsNotReused) {
  http_test_server server;
  with_client({}, [&](http::client& c) -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await c.request("GET", server.url("/close"), {}, {});
      EXPECT_EQ(r.status, 200u);
      EXPECT_FALSE(r.reused_connection);
    }
  });
  EXPECT_EQ(server.accepted(), 3u);
}

TEST(HttpClient, AnIdleConnectionPastItsIdleTimeoutIsReplaced) {
  http_test_server server;
  http::client_options o;
  o.idle_timeout = 0ns;  // never reuse
  with_client(o, [&](http::client& c) -> asio::awaitable<void> {
    co_await c.request("GET", server.url("/ok"), {}, {});
    auto r = co_await c.request("GET", server.url("/ok"), {}, {});
    EXPECT_FALSE(r.reused_connection);
  });
  EXPECT_EQ(server.accepted(), 2u);
}

TEST(HttpClient, EachTimeoutIsItsOwnError) {
  http_test_server server;
  http::client_options o;
  o.request_timeout = 200ms;
  EXPECT_EQ(error_of(o,
                     [&](http::client& c) -> asio::awaitable<void> {
                       co_await c.request("GET", server.url("/never"), {}, {});
                     }),
            http::error::request_timeout);
  o.request_timeout = 10s;
  o.total_timeout = 300ms;
  EXPECT_EQ(error_of(o,
                     [&](http::client& c) -> asio::awaitable<void> {
                       co_await c.request("GET", server.url("/slow/2000"), {}, {});
                     }),
            http::error::total_timeout);
  // A TLS handshake with a server that speaks no TLS never completes.
  o.total_timeout = 0ns;
  o.tls_timeout = 200ms;
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  silent.listen();  // accepted by the kernel, never read
  const auto port = std::to_string(silent.local_endpoint().port());
  EXPECT_EQ(error_of(o,
                     [&](http::client& c) -> asio::awaitable<void> {
                       co_await c.request("GET", "https://127.0.0.1:" + port + "/", {}, {});
                     }),
            http::error::tls_timeout);
  // Nothing listening: refused at once, a transport error (retryable).
  silent.close();
  auto refused = error_of({}, [&](http::client& c) -> asio::awaitable<void> {
    co_await c.request("GET", "http://127.0.0.1:" + port + "/", {}, {});
  });
  EXPECT_EQ(refused, boost::asio::error::connection_refused);
}

TEST(HttpClient, ResetsAndMalformedResponsesAreErrors) {
  http_test_server server;
  auto reset = error_of({}, [&](http::client& c) -> asio::awaitable<void> {
    co_await c.request("GET", server.url("/reset"), {}, {});
  });
  EXPECT_TRUE(reset == boost::asio::error::connection_reset ||
              reset == boost::beast::http::error::partial_message)
      << reset.message();
  EXPECT_EQ(error_of({},
                     [&](http::client& c) -> asio::awaitable<void> {
                       co_await c.request("GET", server.url("/malformed"), {}, {});
                     }),
            http::error::bad_response);
  http::client_options o;
  o.body_limit = 1000;
  EXPECT_EQ(error_of(o,
                     [&](http::client& c) -> asio::awaitable<void> {
                       auto r = co_await c.request("GET", server.url("/big/1000"), {}, {});
                       EXPECT_EQ(r.body.size(), 1000u);
                       co_await c.request("GET", server.url("/big/1001"), {}, {});
                     }),
            http::error::body_too_large);
  EXPECT_EQ(error_of({},
                     [&](http::client& c) -> asio::awaitable<void> {
                       co_await c.request("GET", "ftp://127.0.0.1/", {}, {});
                     }),
            http::error::bad_url);
}

TEST(HttpClient, FollowsRedirectsUpToTheLimitAndOnlyForGet) {
  http_test_server server;
  http::client_options o;
  o.max_redirects = 3;
  with_client(o, [&](http::client& c) -> asio::awaitable<void> {
    auto r = co_await c.request("GET", server.url("/redirect/3"), {}, {});
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "landed");
    EXPECT_EQ(r.redirects, 3u);
    EXPECT_EQ(r.url, server.url("/redirect/0"));
    r = co_await c.request("POST", server.url("/redirect/1"), {}, "x");
    EXPECT_EQ(r.status, 302u);  // not followed for POST
  });
  EXPECT_EQ(error_of(o,
                     [&](http::client& c) -> asio::awaitable<void> {
                       co_await c.request("GET", server.url("/redirect/4"), {}, {});
                     }),
            http::error::too_many_redirects);
}

TEST(HttpClient, WritesTheRequestWithTheCallersHeadersAndRefusesCrOrLfInThem) {
  http_test_server server;
  with_client({}, [&](http::client& c) -> asio::awaitable<void> {
    auto r = co_await c.request("GET", server.url("/echo"), {}, {});
    auto echo = boost::json::parse(r.body).as_object();
    EXPECT_EQ(echo["host"].as_string(), server.url("").substr(7));  // 127.0.0.1:PORT
    EXPECT_EQ(echo["user_agent"].as_string(), http::client_options{}.user_agent);
    // The caller's Host and User-Agent replace the client's own.
    http::header_list mine{{"Host", "example.test"}, {"User-Agent", "me/1"}};
    r = co_await c.request("GET", server.url("/echo"), std::move(mine), {});
    echo = boost::json::parse(r.body).as_object();
    EXPECT_EQ(echo["host"], "example.test");
    EXPECT_EQ(echo["user_agent"], "me/1");
  });
  // An input with a CR or LF would add headers of its own: the request is not sent.
  const std::size_t before = server.requests();
  EXPECT_EQ(error_of({},
                     [&](http::client& c) -> asio::awaitable<void> {
                       http::header_list h{{"X-Test", "a\r\nX-Injected: 1"}};
                       co_await c.request("GET", server.url("/echo"), std::move(h), {});
                     }),
            http::error::bad_request);
  EXPECT_EQ(error_of({},
                     [&](http::client& c) -> asio::awaitable<void> {
                       co_await c.request("GET", server.url("/echo?a\nb"), {}, {});
                     }),
            http::error::bad_url);  // Boost.URL refuses it first
  EXPECT_EQ(server.requests(), before);
}

// The client parses a known scheme and authority once; the paths after it are still checked.
TEST(HttpClient, PathsOnAKnownOriginAreStillValidated) {
  http_test_server server;
  std::vector<std::string> targets;
  std::vector<http::error> errors;
  with_client({}, [&](http::client& c) -> asio::awaitable<void> {
    for (std::string path : {"/echo?i=1", "/echo?a\nb", "/echo?i=2#part", "/a b", "/echo/%zz",
                             "/echo?i=3", "?i=4", ""}) {
      try {
        auto r = co_await c.request("GET", server.url(path), {}, {});
        targets.push_back(r.body == "ok"
                              ? "ok"
                              : std::string(boost::json::parse(r.body).at("target").as_string()));
      } catch (const http::request_error& e) {
        errors.push_back(static_cast<http::error>(e.code().value()));
      }
    }
  });
  EXPECT_EQ(targets, (std::vector<std::string>{"/echo?i=1", "/echo?i=2", "/echo?i=3", "ok", "ok"}));
  EXPECT_EQ(errors, (std::vector<http::error>(3, http::error::bad_url)));
}

TEST(HttpClient, RetryAfterInSecondsOrAsAnHttpDate) {
  http_test_server server;
  with_client({}, [&](http::client& c) -> asio::awaitable<void> {
    auto r = co_await c.request("GET", server.url("/retry-after/7"), {}, {});
    EXPECT_EQ(r.status, 429u);
    EXPECT_TRUE(http::retryable_status(r.status));
    EXPECT_EQ(http::retry_after(r), std::chrono::nanoseconds(7s));
  });
  http::response r;
  const auto now = std::chrono::system_clock::from_time_t(784111767);  // Sun, 06 Nov 1994 08:49:27
  r.headers.set("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(http::retry_after(r, now), std::chrono::nanoseconds(10s));
  r.headers.set("Retry-After", "Sun, 06 Nov 1994 08:49:00 GMT");
  EXPECT_EQ(http::retry_after(r, now), std::chrono::nanoseconds(0));
  // Far dates and numbers are a year (found by fuzz_http_response: 4030 overflowed the clock).
  r.headers.set("Retry-After", "Wed, 21 Oct 4030 07:28:00 GMT");
  EXPECT_EQ(http::retry_after(r, now), std::chrono::nanoseconds(std::chrono::hours(24 * 365)));
  r.headers.set("Retry-After", "Mon, 06 Nov 1995 08:49:27 GMT");  // a year and a day
  EXPECT_EQ(http::retry_after(r, now), std::chrono::nanoseconds(std::chrono::hours(24 * 365)));
  r.headers.set("Retry-After", "99999999999");
  EXPECT_EQ(http::retry_after(r, now), std::chrono::nanoseconds(std::chrono::hours(24 * 365)));
  r.headers.set("Retry-After", "soon");
  EXPECT_EQ(http::retry_after(r, now), std::nullopt);
  r.headers.erase("Retry-After");
  EXPECT_EQ(http::retry_after(r, now), std::nullopt);
  for (unsigned s : {429u, 500u, 502u, 503u, 504u}) EXPECT_TRUE(http::retryable_status(s)) << s;
  for (unsigned s : {200u, 301u, 400u, 404u, 501u}) EXPECT_FALSE(http::retryable_status(s)) << s;
}

TEST(HttpClient, RetryableErrorsAreTransportFailuresAndTimeouts) {
  auto as_ptr = [](boost::system::error_code ec) {
    return std::make_exception_ptr(boost::system::system_error(ec));
  };
  EXPECT_TRUE(http::retryable_error(as_ptr(boost::asio::error::connection_refused)));
  EXPECT_TRUE(http::retryable_error(as_ptr(http::error::request_timeout)));
  EXPECT_FALSE(http::retryable_error(as_ptr(http::error::bad_url)));
  EXPECT_FALSE(http::retryable_error(as_ptr(http::error::body_too_large)));
  EXPECT_FALSE(http::retryable_error(as_ptr(boost::asio::error::operation_aborted)));
}

/// A self-signed certificate for localhost and 127.0.0.1, made by the openssl command.
struct self_signed {
  temp_dir dir;
  std::string cert = dir / "cert.pem", key = dir / "key.pem";
  self_signed() {
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
        "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        key + " -out " + cert + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl req failed");
  }
};

TEST(HttpClient, TlsVerifiesTheCertificate) {
  self_signed cert;
  http_test_server server(cert.cert, cert.key);
  // Not in the system store: verification fails, and that is not worth retrying.
  std::exception_ptr failure;
  try {
    with_client({}, [&](http::client& c) -> asio::awaitable<void> {
      co_await c.request("GET", server.url("/ok", "localhost"), {}, {});
    });
  } catch (const boost::system::system_error& e) {
    failure = std::current_exception();
    EXPECT_NE(std::string(e.what()).find("certificate verify failed"), std::string::npos)
        << e.what();
  }
  ASSERT_TRUE(failure);
  EXPECT_FALSE(http::retryable_error(failure));
  // Trusted through ca_file: verified, host name included, and the connection reused.
  http::client_options o;
  o.ca_file = cert.cert;
  with_client(o, [&](http::client& c) -> asio::awaitable<void> {
    auto r = co_await c.request("GET", server.url("/json", "localhost"), {}, {});
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, R"({"a":1})");
    EXPECT_GT(r.timing.tls.count(), 0);
    r = co_await c.request("GET", server.url("/ok", "localhost"), {}, {});
    EXPECT_TRUE(r.reused_connection);
  });
  // insecure: no verification.
  http::client_options insecure;
  insecure.insecure = true;
  with_client(insecure, [&](http::client& c) -> asio::awaitable<void> {
    auto r = co_await c.request("GET", server.url("/ok"), {}, {});
    EXPECT_EQ(r.status, 200u);
  });
  EXPECT_EQ(server.accepted(), 3u);
}

// Against the real nginx of the CTest fixture (tests/nginx.hpp).

TEST(HttpClientNginx, GetsStaticFilesStatusesAndHead) {
  with_client({}, [&](http::client& c) -> asio::awaitable<void> {
    auto r = co_await c.request("GET", nginx_url("/small.txt"), {}, {});
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, std::string(100, 'a'));
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_TRUE(r.header("Server").starts_with("nginx"));
    r = co_await c.request("GET", nginx_url("/data.json"), {}, {});
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(boost::json::parse(r.body).at("name"), "sluice");
    r = co_await c.request("GET", nginx_url("/big.bin"), {}, {});
    EXPECT_EQ(r.body.size(), 1u << 20);
    const std::array<unsigned, 4> statuses{404, 429, 500, 503};
    for (unsigned s : statuses) {
      const auto text = std::to_string(s);
      r = co_await c.request("GET", nginx_url("/status/" + text), {}, {});
      EXPECT_EQ(r.status, s);
      EXPECT_EQ(r.body, "status " + text);
      EXPECT_TRUE(r.reused_connection);
    }
    // HEAD: a Content-Length and no body, and the connection still good for the next request.
    r = co_await c.request("HEAD", nginx_url("/small.txt"), {}, {});
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Content-Length"), "100");
    EXPECT_EQ(r.body, "");
    r = co_await c.request("PUT", nginx_url("/method"), {}, "x");
    EXPECT_EQ(r.body, "PUT");
    EXPECT_TRUE(r.reused_connection);
  });
}

TEST(HttpClientNginx, NginxSeesKeepAliveReuse) {
  http::client_options o;
  o.max_connections_per_host = 4;
  std::map<std::string, int> carried;  // nginx's connection number -> requests it carried
  with_client(o, [&](http::client& c) -> asio::awaitable<void> {
    // In sequence: one connection, whose request count at nginx rises 1, 2, ..., 50.
    std::string first;
    for (int i = 1; i <= 50; ++i) {
      auto r = co_await c.request("GET", nginx_url("/conn"), {}, {});
      auto [conn, count] = connection_and_count(r.body);
      if (i == 1) first = conn;
      EXPECT_EQ(conn, first);
      EXPECT_EQ(count, i);
    }
    // 400 requests, 32 at a time, on at most 4 connections: nginx counts all 400 on them.
    std::vector<int> ids(400);
    options ro;
    ro.max_at_once = 32;
    co_await run_on_each(
        [&](int) -> asio::awaitable<void> {
          auto r = co_await c.request("GET", nginx_url("/conn"), {}, {});
          auto [conn, count] = connection_and_count(r.body);
          carried[conn] = std::max(carried[conn], count);
        },
        ids, ro);
    EXPECT_EQ(c.connections_opened(), 4u);
  });
  EXPECT_EQ(carried.size(), 4u);
  int total = 0;
  for (auto& [conn, count] : carried) total += count;
  EXPECT_EQ(total, 450);  // the first connection's 50 are in its count
}

TEST(HttpClientNginx, FollowsNginxRedirectsAndCapsBodies) {
  with_client({}, [&](http::client& c) -> asio::awaitable<void> {
    auto r = co_await c.request("GET", nginx_url("/moved"), {}, {});
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.redirects, 1u);
    EXPECT_EQ(r.url, nginx_url("/small.txt"));
    EXPECT_EQ(r.body.size(), 100u);
    r = co_await c.request("POST", nginx_url("/moved"), {}, "x");
    EXPECT_EQ(r.status, 301u);  // not followed for POST
  });
  http::client_options o;
  o.body_limit = 64 << 10;
  EXPECT_EQ(error_of(o,
                     [&](http::client& c) -> asio::awaitable<void> {
                       co_await c.request("GET", nginx_url("/big.bin"), {}, {});
                     }),
            http::error::body_too_large);
  with_client(o, [&](http::client& c) -> asio::awaitable<void> {
    // The cut-off response's connection is dropped; the next request gets a new one.
    std::exception_ptr cut;
    try {
      co_await c.request("GET", nginx_url("/big.bin"), {}, {});
    } catch (...) {
      cut = std::current_exception();
    }
    EXPECT_TRUE(cut);
    auto r = co_await c.request("GET", nginx_url("/small.txt"), {}, {});
    EXPECT_EQ(r.status, 200u);
    EXPECT_FALSE(r.reused_connection);
  });
}

}  // namespace
}  // namespace sluice::test
