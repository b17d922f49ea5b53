#include "sluice/detail/results_file.hpp"

#include "sluice/detail/key_scan.hpp"
#include "sluice/errors.hpp"

#include <boost/json/serialize.hpp>

#include <system_error>

namespace sluice::detail {
namespace json = boost::json;

results_file::results_file(std::filesystem::path path, std::string key_name,
                           std::size_t key_count, resume_options opts)
    : path_(std::move(path)),
      name_(path_.string()),
      key_name_(std::move(key_name)),
      key_count_(key_count),
      opts_(std::move(opts)) {}

void results_file::expect(json::value key) {
  auto [it, fresh] = index_.try_emplace(key_text(key), keys_.size());
  if (fresh) keys_.push_back({std::move(key), key_count_});
}

results_file::entry* results_file::find(const std::string& text) {
  auto it = index_.find(text);
  return it == index_.end() ? nullptr : &keys_[it->second];
}

void results_file::problem(std::size_t line, const std::string& field, const std::string& what) {
  bad_input(opts_.errors, opts_.report, jsonl_error(name_, line, field, what));
}

std::vector<key_need> results_file::open() {
  std::error_code ec;
  bool exists = std::filesystem::exists(path_, ec);
  scan_result scan;
  if (exists) {
    std::string text;
    scan = scan_keys(path_, key_name_, opts_.errors, opts_.report, [&](const keyed_row& r) {
      text.assign(r.key);
      entry* e = find(text);
      if (e == nullptr) {
        problem(r.number, key_name_, "has " + key_name_ + " " + text + ", which is not a key asked for");
        ++summary_.rows_ignored;
      } else if (e->needed == 0) {
        problem(r.number, key_name_,
                "has more rows for " + key_name_ + " " + text + " than the " +
                    std::to_string(key_count_) + " asked for");
        ++summary_.rows_ignored;
      } else {
        --e->needed;
        ++summary_.rows_found;
      }
    });
    summary_.rows_ignored += scan.bad_rows;
  }
  // Only now that the whole file has been accepted is anything changed in it.
  if (scan.torn_line != 0) {
    truncate_file(path_, scan.torn_offset);
    summary_.torn_bytes = scan.torn_bytes;
    report_line(opts_.report, name_ + ":" + std::to_string(scan.torn_line) +
                                  ": torn last line (" + std::to_string(scan.torn_bytes) +
                                  " bytes, no newline, not valid JSON) cut away; resuming");
  }
  out_ = std::make_unique<jsonl_writer>(path_, opts_.sync);
  if (scan.needs_newline && scan.torn_line == 0) out_->write_raw("\n");
  std::vector<key_need> missing;
  for (const auto& e : keys_)
    if (e.needed > 0) missing.push_back({e.key, e.needed});
  return missing;
}

void results_file::append(const json::value& row) {
  const json::object* o = row.if_object();
  const json::value* k = o ? o->if_contains(key_name_) : nullptr;
  entry* e = k ? find(key_text(*k)) : nullptr;
  std::string what;
  if (o == nullptr)
    what = "the value generator made a row that is not a JSON object: " + json::serialize(row);
  else if (k == nullptr)
    what = "the value generator made a row without the field \"" + key_name_ +
           "\": " + json::serialize(row);
  else if (e == nullptr || e->needed == 0)
    what = "the value generator made a row for " + key_name_ + " " + key_text(*k) +
           (e == nullptr ? ", which is not a key asked for" : ", which needs no more rows");
  if (!what.empty()) {
    problem(0, key_name_, what + "; not written");
    ++summary_.rows_rejected;
    return;
  }
  out_->write(row);
  --e->needed;
  ++summary_.rows_written;
}

resume_summary results_file::finish() {
  out_->close();
  std::size_t owed = 0;
  const entry* first = nullptr;
  for (const auto& e : keys_) {
    owed += e.needed;
    if (e.needed > 0 && first == nullptr) first = &e;
  }
  summary_.rows_missing = owed;
  if (first != nullptr)
    problem(0, key_name_,
            "the value generator ended " + std::to_string(owed) + " rows short (" + key_name_ +
                " " + key_text(first->key) + " needs " + std::to_string(first->needed) +
                " more); running again will ask for them");
  return summary_;
}

}  // namespace sluice::detail
