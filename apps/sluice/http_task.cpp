#include "http_task.hpp"

#include "flags.hpp"
#include "pipeline.hpp"

#include <sluice/bytes_field.hpp>
#include <sluice/errors.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace sluice::cli {

namespace json = boost::json;

namespace {

std::vector<std::string> template_parts(const http_config& h) {
  std::vector<std::string> parts{h.url};
  for (const auto& header : h.headers) {
    if (header.find(':') == std::string::npos)
      throw usage_error("--header: \"" + header + "\" is not Name: value");
    parts.push_back(header);
  }
  if (h.body) parts.push_back(*h.body);
  return parts;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The row's body: JSON when the response says it is JSON and it parses, else its bytes
/// (put_bytes: text, or a lossy text and body_b64).
void put_body(json::object& row, const http::response& r) {
  if (r.header("Content-Type").find("json") != std::string_view::npos) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec, row.storage());
    if (!ec) {
      row["body"] = std::move(v);
      return;
    }
  }
  put_bytes(row, "body", r.body);
}

}  // namespace

std::vector<std::pair<unsigned, unsigned>> parse_status_list(const std::string& text) {
  std::vector<std::pair<unsigned, unsigned>> out;
  auto bad = [&] {
    return usage_error("--ok-status: \"" + text +
                       "\" is not a list of codes and ranges (like 200-299,404)");
  };
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto dash = item.find('-');
    auto num = [&](std::string_view s) {
      unsigned n = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc() || end != s.data() + s.size() || s.empty() || n < 100 || n > 999)
        throw bad();
      return n;
    };
    const unsigned lo = num(item.substr(0, dash));
    const unsigned hi = dash == std::string_view::npos ? lo : num(item.substr(dash + 1));
    if (hi < lo) throw bad();
    out.emplace_back(lo, hi);
  }
  if (out.empty()) throw bad();
  return out;
}

http_task::http_task(const run_config& c, http_config h)
    : c_(c), h_(std::move(h)), tmpl_(template_parts(h_), true, multi_args::joined) {
  if (h_.body && !h_.body_field.empty())
    throw usage_error("--body and --body-field both give the body; use one");
}

std::vector<std::string> http_task::fields() const {
  auto f = tmpl_.fields();
  if (!h_.body_field.empty() && std::find(f.begin(), f.end(), h_.body_field) == f.end())
    f.push_back(h_.body_field);
  return f;
}

void http_task::inputs_are_lines() {
  if (!h_.body_field.empty())
    throw usage_error("--body-field " + h_.body_field + " needs JSON Lines input");
  tmpl_ = command_template(template_parts(h_), false, multi_args::joined);
}

http_task::request_parts http_task::expand(const input_item& in, std::size_t slot) const {
  auto parts = tmpl_.expand(in.as_task_input(), in.seq, slot);
  request_parts r;
  r.url = std::move(parts[0]);
  for (std::size_t i = 0; i < h_.headers.size(); ++i) {
    std::string_view line = parts[1 + i];
    const auto colon = line.find(':');
    r.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  if (h_.body) r.body = std::move(parts[1 + h_.headers.size()]);
  if (!h_.body_field.empty() && in.row) {
    r.body = json::serialize(*find_field(*in.row, h_.body_field));
    const bool typed = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
      return boost::beast::iequals(h.first, "Content-Type");
    });
    if (!typed) r.headers.emplace_back("Content-Type", "application/json");
  }
  return r;
}

std::string http_task::describe(const input_item& in) const {
  auto r = expand(in, 1);
  std::string line = h_.method + " " + r.url;
  for (const auto& [name, value] : r.headers) line += " -H " + shell_quote(name + ": " + value);
  if (!r.body.empty()) line += " --data " + shell_quote(r.body);
  return line;
}

bool http_task::ok_status(unsigned status) const {
  return std::any_of(h_.ok_status.begin(), h_.ok_status.end(),
                     [&](const auto& r) { return status >= r.first && status <= r.second; });
}

boost::asio::awaitable<finished_task> http_task::attempt(std::shared_ptr<const input_item> in,
                                                         std::size_t slot) {
  if (!client_) {
    http::client_options o;
    o.max_connections_per_host = h_.max_per_host  ? h_.max_per_host
                                 : c_.max_at_once ? c_.max_at_once
                                                  : 1024;
    o.max_per_second_per_host = h_.rate_per_host;
    o.total_timeout = c_.timeout;
    o.body_limit = c_.output_cap;
    o.insecure = h_.insecure;
    o.ca_file = h_.ca_file;
    o.max_redirects = h_.max_redirects;
    client_.emplace(co_await boost::asio::this_coro::executor, std::move(o));
  }
  request_parts req = expand(*in, slot);
  finished_task t;
  t.input = std::move(in);
  t.started_at = std::chrono::system_clock::now();
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<http::response> r;
  std::string error;
  try {
    r = co_await client_->request(h_.method, req.url, std::move(req.headers), std::move(req.body),
                                  starts_, t.input->cost);
  } catch (const boost::system::system_error& e) {
    if (is_cancellation(std::current_exception())) throw;
    error = e.what();
    t.retryable = http::retryable_error(std::current_exception());
    t.overload = http::is_timeout(e.code());
  }
  t.duration = std::chrono::steady_clock::now() - t0;

  json::object& row = t.columns;
  row.reserve(6);
  t.ok = r && ok_status(r->status);
  // The command line of the job log and of messages: not made for a row that needs neither.
  if (!t.ok || !c_.joblog.empty() || c_.output.empty()) t.command = h_.method + " " + req.url;
  row["ok"] = t.ok;
  row["status"] = r ? json::value(r->status) : json::value(nullptr);
  if (r) {
    if (!h_.keep_headers.empty()) {
      json::object kept(row.storage());
      for (const auto& name : h_.keep_headers)
        if (auto it = r->headers.find(name); it != r->headers.end())
          put_bytes(kept, name, std::string_view(it->value().data(), it->value().size()));
      row["headers"] = std::move(kept);
    }
    put_body(row, *r);
    put_bytes(row, "url", r->url);
    t.received = r->body.size();
    t.exitval = t.ok ? 0 : static_cast<int>(r->status);
    if (!t.ok) {
      t.retryable = http::retryable_status(r->status);
      t.hold = http::retry_after(*r);
      t.overload = r->status == 429 || r->status == 503;
      t.sent = r->timing.sent.time_since_epoch();
    }
  } else {
    put_bytes(row, "error", error);
    t.exitval = -1;
  }
  if (c_.output.empty()) {
    if (r) t.out = r->body + (r->body.empty() || r->body.back() == '\n' ? "" : "\n");
    if (!t.ok)
      t.err =
          fmt::format("sluice: {}: {}\n", t.command, r ? fmt::format("HTTP {}", r->status) : error);
  }
  if (t.ok) co_return t;
  std::string what = t.command + ": " + (r ? "HTTP " + std::to_string(r->status) : error);
  throw task_failed(std::move(what), std::move(t));
}

int run_http(const run_config& c, http_config h, const source_maker& source) {
  http_task kind(c, std::move(h));
  if (!source) return run_tasks(c, kind);
  auto s = source(kind.fields());
  return run_tasks(c, kind, s.get());
}

}  // namespace sluice::cli
