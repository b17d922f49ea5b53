// sluice::redis_client: Redis commands from coroutines over one pipelined connection, with
// reconnection (backoff), AUTH, a database number, TLS (rediss://) and a timeout per command.
// hiredis formats the commands and reads the replies (RESP); the I/O is Asio's, so that no
// command blocks the executor. It is what the shared limits (redis_limit.hpp) and the work
// queue (redis_queue.hpp) speak through.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// One RESP reply, copied out of hiredis.
struct redis_reply {
  enum class kind { nil, integer, string, status, error, array, number };
  kind type = kind::nil;
  long long integer = 0;  // kind::integer
  std::string str;        // string, status, error (and a number's text)
  std::vector<redis_reply> elements;

  [[nodiscard]] bool is_nil() const noexcept { return type == kind::nil; }
  [[nodiscard]] bool is_error() const noexcept { return type == kind::error; }
  /// An integer reply, or a string holding one; throws redis_error otherwise.
  [[nodiscard]] long long as_integer() const;
};

/// An error reply from the server ("WRONGPASS ...", "NOSCRIPT ...", "ERR ..."): the command
/// was read and refused. Retrying it unchanged fails again.
class redis_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The server could not be reached, did not answer within the command's timeout, or cannot
/// answer yet (LOADING after a restart, BUSY with a long script): the command may or may not
/// have run. Retrying later is the remedy.
class redis_unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where the server is and how to talk to it.
struct redis_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;      // AUTH user (Redis 6 ACL); empty: AUTH with the password alone
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT
  bool tls = false;      // rediss://: certificates verified against the system store
  /// A command not answered within this fails with redis_unavailable (and the connection is
  /// made again: a reply that came late would belong to no one).
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds connect_timeout{2000};
  /// Reconnection waits from `backoff_min` doubling to `backoff_max`.
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{2000};

  /// `redis://[[user]:password@]host[:port][/db]` or `rediss://...`. A password may also come
  /// from the environment: SLUICE_REDIS_PASSWORD (then REDISCLI_AUTH), when the URL has none.
  /// Throws std::invalid_argument naming what is wrong (the password never appears in it).
  static redis_config from_url(std::string_view url);
  /// The URL without its password: what messages show.
  [[nodiscard]] std::string display() const;
};

/// A Lua script run with EVALSHA: loaded on first use, and loaded again when the server
/// answers NOSCRIPT (it was restarted, or SCRIPT FLUSH). Shared by every client.
struct redis_script {
  explicit redis_script(std::string src) : source(std::move(src)) {}
  std::string source;
};

/// Commands on one connection, pipelined: whatever is asked while a write is in flight goes
/// in the next write. Replies come back in order. Not thread-safe: used from one thread or
/// strand. The connection is made on first use and again after any failure (each attempt
/// waits longer, up to backoff_max); a command asked while there is none waits for it, its
/// timeout running.
///
///     sluice::redis_client r{ex, sluice::redis_config::from_url("redis://127.0.0.1:6379/0")};
///     auto n = (co_await r.command({"INCR", "hits"})).as_integer();
class redis_client {
 public:
  redis_client(boost::asio::any_io_executor ex, redis_config config);
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;
  /// Closes the connection; commands still waiting fail with redis_unavailable.
  ~redis_client();

  /// One command. Suspends until its reply (resumes on the client's executor). An error reply
  /// throws redis_error (redis_unavailable for LOADING, BUSY, TRYAGAIN, MASTERDOWN and
  /// CLUSTERDOWN); no reply in time, or no connection, throws redis_unavailable.
  /// Cancellation is not supported: the command runs to its reply or its timeout.
  [[nodiscard]] boost::asio::awaitable<redis_reply> command(std::vector<std::string> args);
  /// Several commands in one write; their replies in order, error replies among them (not
  /// thrown). Throws redis_unavailable as command() does.
  [[nodiscard]] boost::asio::awaitable<std::vector<redis_reply>> pipeline(
      std::vector<std::vector<std::string>> commands);
  /// EVALSHA of `script` (SCRIPT LOAD first, and again after NOSCRIPT). Throws as command().
  [[nodiscard]] boost::asio::awaitable<redis_reply> eval(const redis_script& script,
                                                         std::vector<std::string> keys,
                                                         std::vector<std::string> args);

  /// Told of each change: "connected", or "connection lost: <why>; retrying". (The password
  /// is never in it.)
  void on_state(std::function<void(const std::string&)> f);
  /// Fails the waiting commands with redis_unavailable and closes the connection; later
  /// commands fail at once.
  void close();

  [[nodiscard]] const redis_config& config() const noexcept;
  [[nodiscard]] bool connected() const noexcept;
  [[nodiscard]] const boost::asio::any_io_executor& get_executor() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace sluice
