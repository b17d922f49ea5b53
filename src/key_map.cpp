#include "sluice/detail/key_map.hpp"

#include "line_file.hpp"

#include "sluice/detail/key_scan.hpp"
#include "sluice/errors.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <stdexcept>
#include <system_error>

namespace sluice::detail {
namespace json = boost::json;

namespace {

const map_by_key_options& checked(const map_by_key_options& o) {
  if (o.key.empty())
    throw std::invalid_argument("map_by_key_jsonl_file: key must be a column name");
  if (o.num_concurrent == 0)
    throw std::invalid_argument("map_by_key_jsonl_file: num_concurrent must be >= 1, got 0");
  if (o.window == 0)
    throw std::invalid_argument("map_by_key_jsonl_file: window must be >= 1, got 0");
  return o;
}

bool is_kept(const map_by_key_options& o, std::string_view column) {
  return std::find(o.keep_columns.begin(), o.keep_columns.end(), column) != o.keep_columns.end();
}

}  // namespace

key_map::key_map(const std::filesystem::path& src, const std::filesystem::path& dst,
                 map_by_key_options opts)
    : opts_(checked(opts)), src_name_(src.string()), dst_name_(dst.string()) {
  src_ = std::make_unique<jsonl_reader>(src, jsonl_read_options{opts_.errors, opts_.report});
  read_dst(dst);
}

key_map::~key_map() = default;

void key_map::read_dst(const std::filesystem::path& dst) {
  // Locked before it is read: a second run on dst stops here, before it reads or writes.
  file_lock lock = file_lock::exclusive(dst);
  scan_result scan;
  if (!lock.created()) {
    scan = scan_keys(
        dst, opts_.key,
        [&](const keyed_row& r) {
          auto& k = state(std::string(r.key));
          if (k.done++ == 0) k.first_done = parse_row(r.line).as_object();
        },
        [&](const jsonl_error& e) { bad_input(opts_.errors, opts_.report, e); });
  }
  dst_ = open_for_append(dst, scan, opts_.sync, opts_.report, std::move(lock));
  summary_.torn_bytes = scan.torn_bytes;
}

// f's columns of a resumed key, from dst's first row of it and the src row it was made from:
// every column but the key, and a kept column only where f overrode it (its value differs).
void key_map::rebuild_result(key_state& k, const json::object& src_row) {
  json::object r;
  for (const auto& [name, value] : *k.first_done) {
    if (name == opts_.key) continue;
    if (is_kept(opts_, name)) {
      const json::value* from_src = src_row.if_contains(name);
      if (from_src != nullptr && *from_src == value) continue;
    }
    r[name] = value;
  }
  k.result = std::move(r);
  k.first_done.reset();
}

key_map::key_state* key_map::next(json::object& row) {
  while (json::object* r = src_->next()) {
    std::size_t line = src_->line();
    const json::value* key = r->if_contains(opts_.key);
    if (key == nullptr) {
      bad_input(opts_.errors, opts_.report,
                jsonl_error(src_name_, line, opts_.key,
                            "field \"" + opts_.key + "\" (the key) is missing"));
      continue;
    }
    queued q{nullptr, {}};
    bool complete = true;
    for (const auto& c : opts_.keep_columns) {
      const json::value* v = r->if_contains(c);
      if (v == nullptr) {
        bad_input(
            opts_.errors, opts_.report,
            jsonl_error(src_name_, line, c, "field \"" + c + "\" (a keep column) is missing"));
        complete = false;
        break;
      }
      q.kept[c] = *v;
    }
    if (!complete) continue;
    if (!is_kept(opts_, opts_.key)) q.kept[opts_.key] = *key;
    ++summary_.rows_read;

    auto& k = state(key_text(*key));
    std::size_t occurrence = k.seen++;
    if (k.first_done && occurrence == 0) rebuild_result(k, *r);
    if (occurrence < k.done) {  // this row's output is in dst already
      ++summary_.rows_resumed;
      progress(true);
      continue;
    }
    q.key = &k;
    queue_.push_back(std::move(q));
    if (!k.started && !k.result) {
      k.started = true;
      k.line = line;
      ++summary_.calls;
      row = std::move(*r);
      return &k;
    }
  }
  return nullptr;
}

void key_map::resolved(key_state& k, json::object result) {
  // f may return the key column (the seed's example does) but not change it: the key is the
  // rows' identity on resume.
  if (const json::value* from_f = result.if_contains(opts_.key);
      from_f && key_text(*from_f) != k.text)
    throw jsonl_error(src_name_, k.line, opts_.key,
                      "f changed " + opts_.key + " " + std::string(k.text) + " to " +
                          key_text(*from_f) + "; f may not change the key column");
  k.result = std::move(result);
}

void key_map::failed(key_state& k, const std::exception_ptr& error) {
  ++summary_.keys_failed;
  k.failed = true;
  if (opts_.errors == on_error::print)
    report_line(opts_.report, src_name_ + ":" + std::to_string(k.line) + ": f failed for " +
                                  opts_.key + " " + std::string(k.text) +
                                  " (its rows are left out): " + describe(error));
}

key_map::key_state& key_map::state(std::string text) {
  auto [it, fresh] = keys_.try_emplace(std::move(text));
  if (fresh) it->second.text = it->first;
  return it->second;
}

key_map::key_state* key_map::front_waiting() const {
  return queue_.empty() ? nullptr : queue_.front().key;
}

void key_map::write_ready() {
  while (!queue_.empty()) {
    auto& q = queue_.front();
    key_state& k = *q.key;
    if (k.failed) {
      ++summary_.rows_failed;
      progress(false);
    } else if (k.result) {
      json::object out = std::move(q.kept);
      for (const auto& [name, value] : *k.result) out[name] = value;  // f's columns win, in place
      dst_->write(out);
      ++summary_.rows_written;
      progress(true);
    } else {
      return;
    }
    queue_.pop_front();
  }
}

map_by_key_summary key_map::finish() {
  for (const auto& [text, k] : keys_) {
    if (k.done <= k.seen) continue;
    bad_input(opts_.errors, opts_.report,
              jsonl_error(dst_name_, 0, opts_.key,
                          "has " + std::to_string(k.done) + " rows for " + opts_.key + " " + text +
                              ", but " + src_name_ + " has " + std::to_string(k.seen)));
  }
  dst_->close();
  return summary_;
}

}  // namespace sluice::detail
