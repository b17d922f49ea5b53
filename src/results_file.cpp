#include "sluice/detail/results_file.hpp"

#include "sluice/detail/key_scan.hpp"
#include "sluice/errors.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <system_error>

namespace sluice::detail {
namespace json = boost::json;

results_file::results_file(std::filesystem::path path, std::string key_name, std::size_t key_count,
                           resume_options opts)
    : path_(std::move(path)),
      name_(path_.string()),
      key_name_(std::move(key_name)),
      key_count_(key_count),
      opts_(std::move(opts)) {}

void results_file::queue(std::string_view text, std::size_t line) {
  if (count_ == queued_.size()) {
    settle(queued_[head_]);
    head_ = (head_ + 1) % queued_.size();
    --count_;
  }
  auto& k = queued_[(head_ + count_) % queued_.size()];
  k.text.assign(text);
  k.hash = key_index::hash(text);
  k.line = line;
  index_.prefetch(k.hash);
  ++count_;
}

void results_file::drain() {
  for (; count_ > 0; --count_, head_ = (head_ + 1) % queued_.size()) settle(queued_[head_]);
}

void results_file::settle(queued_key& k) {
  if (!scanning_) {
    bool added = false;
    index_.insert(k.text, k.hash, added);
    if (added) needed_.push_back(key_count_);
    return;
  }
  std::size_t id = index_.find(k.text, k.hash);
  if (id == key_index::npos) {
    problem(k.line, key_name_,
            "has " + key_name_ + " " + k.text + ", which is not a key asked for");
    ++summary_.rows_ignored;
  } else if (needed_[id] == 0) {
    problem(k.line, key_name_,
            "has more rows for " + key_name_ + " " + k.text + " than the " +
                std::to_string(key_count_) + " asked for");
    ++summary_.rows_ignored;
  } else {
    --needed_[id];
    ++summary_.rows_found;
  }
}

void results_file::expect(const json::value& key) {
  queue(key_text(key), 0);
}

void results_file::expect_string(std::string_view key) {
  string_key_text(key, text_);
  queue(text_, 0);
}

void results_file::problem(std::size_t line, const std::string& field, const std::string& what) {
  bad_input(opts_.errors, opts_.report, jsonl_error(name_, line, field, what));
}

std::vector<key_need> results_file::open() {
  drain();
  // Locked before it is read: a second run on the file stops here, before it reads or writes.
  file_lock lock = file_lock::exclusive(path_);
  scan_result scan;
  if (!lock.created()) {
    scanning_ = true;
    scan = scan_keys(
        path_, key_name_, [&](const keyed_row& r) { queue(r.key, r.number); },
        [&](const jsonl_error& e) {
          drain();  // the rows before it first, so that problems come in line order
          bad_input(opts_.errors, opts_.report, e);
        });
    drain();
    summary_.rows_ignored += scan.bad_rows;
  }
  // Only now that the whole file has been accepted is anything changed in it.
  out_ = open_for_append(path_, scan, opts_.sync, opts_.report, std::move(lock));
  summary_.torn_bytes = scan.torn_bytes;
  std::vector<key_need> missing;
  for (std::size_t id = 0; id < needed_.size(); ++id)
    if (needed_[id] > 0) missing.push_back({json::parse(index_.text(id)), needed_[id]});
  return missing;
}

void results_file::append(const json::value& row) {
  const json::object* o = row.if_object();
  const json::value* k = o ? o->if_contains(key_name_) : nullptr;
  std::size_t id = k ? index_.find(key_text(*k)) : key_index::npos;
  std::string what;
  if (o == nullptr)
    what = "the value generator made a row that is not a JSON object: " + json::serialize(row);
  else if (k == nullptr)
    what = "the value generator made a row without the field \"" + key_name_ +
           "\": " + json::serialize(row);
  else if (id == key_index::npos || needed_[id] == 0)
    what =
        "the value generator made a row for " + key_name_ + " " + key_text(*k) +
        (id == key_index::npos ? ", which is not a key asked for" : ", which needs no more rows");
  if (!what.empty()) {
    problem(0, key_name_, what + "; not written");
    ++summary_.rows_rejected;
    return;
  }
  out_->write(row);
  --needed_[id];
  ++summary_.rows_written;
}

resume_summary results_file::finish() {
  out_->close();
  std::size_t owed = 0, first = key_index::npos;
  for (std::size_t id = 0; id < needed_.size(); ++id) {
    owed += needed_[id];
    if (needed_[id] > 0 && first == key_index::npos) first = id;
  }
  summary_.rows_missing = owed;
  if (first != key_index::npos)
    problem(0, key_name_,
            "the value generator ended " + std::to_string(owed) + " rows short (" + key_name_ +
                " " + std::string(index_.text(first)) + " needs " + std::to_string(needed_[first]) +
                " more); running again will ask for them");
  return summary_;
}

}  // namespace sluice::detail
