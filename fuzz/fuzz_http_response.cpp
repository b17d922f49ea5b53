// An HTTP response from a server, parsed as sluice's client parses it (Beast's
// response_parser with a body limit), then what the client and `sluice http` read from it:
// Retry-After, the retryable status, and the row's fields (put_bytes). Invariants: no crash;
// a parsed response's fields become valid UTF-8 that gives the bytes back.
#include "fuzz_support.hpp"

#include <sluice/bytes_field.hpp>
#include <sluice/http_client.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/serialize.hpp>

using namespace sluice;
namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 16);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == bhttp::error::need_more) break;
    if (ec) return 0;
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return 0;
  auto msg = parser.release();
  http::response r;
  r.status = msg.result_int();
  r.headers = msg.base();
  r.body = std::move(msg.body());
  (void)http::retryable_status(r.status);
  const auto wait = http::retry_after(r, std::chrono::system_clock::time_point{});
  if (wait) fuzz::check(wait->count() >= 0, "a Retry-After is not negative");
  // As `sluice http` writes its row: the body, and kept headers in an object of their own
  // (names ending in _b64 cannot be kept: --keep-header refuses them).
  boost::json::object row, headers;
  put_bytes(row, "body", r.body);
  for (const auto& field : r.headers) {
    const std::string_view name(field.name_string().data(), field.name_string().size());
    if (name.ends_with("_b64") || headers.contains(name)) continue;
    put_bytes(headers, name, std::string_view(field.value().data(), field.value().size()));
  }
  row["headers"] = headers;
  fuzz::check(is_utf8(boost::json::serialize(row)), "a row is valid UTF-8");
  fuzz::check(get_bytes(row, "body") == r.body, "the body comes back exactly");
  for (const auto& field : r.headers) {
    const std::string_view name(field.name_string().data(), field.name_string().size());
    if (name.ends_with("_b64") || r.headers.count(name) > 1) continue;
    fuzz::check(get_bytes(headers, name) == std::string(field.value().data(), field.value().size()),
                "a header comes back exactly");
  }
  return 0;
}
