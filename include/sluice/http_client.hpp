// sluice::http::client: HTTP/1.1 requests from coroutines, over a keep-alive connection pool
// per host, with TLS (certificates verified against the system store), a timeout per phase,
// a body cap and redirects; and what a retry policy needs from a response (retryable(),
// retry_after()). Boost.Beast does the protocol, Boost.URL the URLs, OpenSSL the TLS.
#pragma once

#include "sluice/limit_set.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice {}

namespace sluice::http {

/// The failures the client itself reports (others are the transport's: refused, reset, a TLS
/// certificate that does not verify...). Each timeout is its own code.
enum class error {
  resolve_timeout = 1,  // DNS did not answer within connect_timeout
  connect_timeout,      // TCP connect
  tls_timeout,          // TLS handshake
  request_timeout,      // sending the request and reading the whole response
  total_timeout,        // the request as a whole, redirects and waiting for a connection included
  body_too_large,       // the response body is over client_options::body_limit
  too_many_redirects,
  bad_url,       // not an absolute http:// or https:// URL
  bad_response,  // not HTTP/1.x as Beast parses it
  bad_request,   // a CR or LF in the method, the target or a header (it would add headers)
};
const boost::system::error_category& error_category() noexcept;
/// One of the client's timeouts (resolve, connect, TLS, request, total).
bool is_timeout(const boost::system::error_code& ec) noexcept;
boost::system::error_code make_error_code(error e) noexcept;

/// What client::request throws: the error code and where it happened, read as one line
/// ("https://api.example.com: connect: Connection refused").
class request_error : public boost::system::system_error {
 public:
  request_error(boost::system::error_code ec, const std::string& context)
      : boost::system::system_error(ec), text_(context + ": " + ec.message()) {}
  const char* what() const noexcept override { return text_.c_str(); }

 private:
  std::string text_;
};

struct client_options {
  /// Connections to one host (scheme, host, port), busy or idle. A request waits for one.
  std::size_t max_connections_per_host = 8;
  /// Requests started per second to one host (each redirect and retry is a start; 0: no
  /// limit), composed with any limit of the caller's.
  double max_per_second_per_host = 0;
  /// An idle connection unused this long is closed instead of reused.
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(30);
  /// DNS plus TCP connect; the TLS handshake; sending the request and reading the response;
  /// the whole request (0: none).
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds tls_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds total_timeout{0};
  /// A larger response body fails with error::body_too_large.
  std::size_t body_limit = std::size_t(64) << 20;
  /// Redirects followed (301, 302, 303, 307, 308) for GET and HEAD; other methods only with
  /// redirect_any_method.
  unsigned max_redirects = 5;
  bool redirect_any_method = false;
  /// Skip certificate verification (tests, self-signed servers you trust).
  bool insecure = false;
  /// A CA file trusted besides the system store (PEM).
  std::string ca_file;
  std::string user_agent = "sluice/0.1";
};

using header_list = std::vector<std::pair<std::string, std::string>>;

struct timing {
  std::chrono::nanoseconds queued{0};      // waiting for a connection slot of the host
  std::chrono::nanoseconds connect{0};     // DNS and TCP (0 on a reused connection)
  std::chrono::nanoseconds tls{0};         // TLS handshake (0 on a reused connection)
  std::chrono::nanoseconds first_byte{0};  // request sent until the response header is read
  std::chrono::nanoseconds total{0};       // the whole call, redirects included
  /// When the request was written (the last exchange's): the start the server counts.
  std::chrono::steady_clock::time_point sent{};
};

struct response {
  unsigned status = 0;
  boost::beast::http::fields headers;
  std::string body;
  std::string url;  // the last URL requested (after redirects)
  unsigned redirects = 0;
  bool reused_connection = false;  // the last exchange ran on a pooled connection
  http::timing timing;

  /// A header's value, empty when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const;
};

/// An HTTP client with a connection pool per host. Not thread-safe: use it from one thread
/// or strand, as any Asio I/O object. Requests in flight keep the client's state alive.
///
///     sluice::http::client c(co_await asio::this_coro::executor);
///     auto r = co_await c.request("GET", "https://example.com/");
class client {
 public:
  explicit client(boost::asio::any_io_executor ex, client_options opts = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Sends one request and returns the response, whatever its status. Host and User-Agent
  /// are the client's unless `headers` has them; Content-Length is set for a body. Throws
  /// request_error (a boost::system::system_error): an http::error, or the transport's error,
  /// the message naming the URL and the phase; a CR or LF in the method, target or a header
  /// is error::bad_request, before anything is sent. A pooled connection the server has
  /// closed meanwhile is replaced once, transparently. Cancellation closes the connection in
  /// use.
  ///
  /// `starts`, if given, is a limit set of the caller's, taken like the host's own
  /// max_per_second_per_host: once the connection is ready, right before the request is
  /// written, so that the starts the server counts keep the limit (a new connection's setup
  /// does not push a start towards the next one). Each redirect is a start of the host's
  /// limit; the caller's is taken once per call, with `cost`, and its ticket held until the
  /// response is read (a cap in the set bounds the requests in flight).
  boost::asio::awaitable<response> request(std::string method, std::string url, header_list headers,
                                           std::string body, limit_set* starts = nullptr,
                                           std::uint64_t cost = 1);

  /// Connections opened so far (all hosts).
  [[nodiscard]] std::size_t connections_opened() const noexcept;
  const client_options& options() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// Whether a response says "try again": 429 and 5xx but 501 (Not Implemented).
[[nodiscard]] bool retryable_status(unsigned status) noexcept;

/// Whether a failure of client::request is worth retrying: transport errors and timeouts;
/// not a bad URL or request, too many redirects, a body over the cap, a TLS verification
/// failure or a cancellation.
[[nodiscard]] bool retryable_error(const std::exception_ptr& e) noexcept;

/// The wait a response's Retry-After asks for (delta-seconds or an HTTP date, relative to
/// `now`), if it has a valid one; a date in the past is 0.
[[nodiscard]] std::optional<std::chrono::nanoseconds> retry_after(
    const response& r,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace sluice::http

template <>
struct boost::system::is_error_code_enum<sluice::http::error> : std::true_type {};
