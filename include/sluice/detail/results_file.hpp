// The non-template core of create_or_resume_jsonl_file: the tally of keys and the rows each
// still needs, the scan of an existing file, and the checked appending of new rows.
#pragma once

#include "sluice/detail/key_index.hpp"
#include "sluice/jsonl_reader.hpp"
#include "sluice/jsonl_writer.hpp"

#include <boost/json/value.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// A key and how many rows it needs: what a value generator is asked to produce.
struct key_need {
  boost::json::value key;
  std::size_t count = 0;
};

struct resume_options {
  /// Inconsistencies (rows of keys not asked for, too many rows for a key, bad rows, a row
  /// the generator made for a key that needs none, rows the generator still owes at the
  /// end): raise throws sluice::jsonl_error before anything is written; print reports them.
  on_error errors = on_error::raise;
  report_fn report{};
  fsync_policy sync{};
};

/// What create_or_resume_jsonl_file found and did.
struct resume_summary {
  std::size_t rows_found = 0;     // rows already in the file that counted
  std::size_t rows_ignored = 0;   // rows of the file reported under on_error::print
  std::size_t rows_written = 0;   // rows this call appended
  std::size_t rows_rejected = 0;  // generated rows reported under print and not written
  std::size_t rows_missing = 0;   // rows the generator still owed at the end
  std::uint64_t torn_bytes = 0;   // length of a torn last line cut away (0: none)
};

namespace detail {

class results_file {
 public:
  results_file(std::filesystem::path path, std::string key_name, std::size_t key_count,
               resume_options opts);

  void reserve(std::size_t keys) { index_.reserve(keys); }
  /// Adds a key that must end up key_count times (a repeated key counts once).
  void expect(const boost::json::value& key);
  /// The same for a string key, without making a json::value of it.
  void expect_string(std::string_view key);
  /// Counts the rows already in the file (if it exists), cuts a torn last line away, opens
  /// the file for appending and returns the rows missing, in the order keys were expected.
  std::vector<key_need> open();
  /// Checks a generated row (an object with the key field, for a key that needs a row) and
  /// appends it.
  void append(const boost::json::value& row);
  /// Checks that no key still needs rows, closes the file (fsync per policy).
  resume_summary finish();

 private:
  // Keys are looked up a few rows behind the read: each is hashed and its table entry
  // prefetched when it is queued, so that the cache misses of many keys overlap.
  struct queued_key {
    std::string text;
    std::uint64_t hash = 0;
    std::size_t line = 0;
  };
  void queue(std::string_view text, std::size_t line);
  void drain();
  void settle(queued_key& k);  // expects the key (before open) or counts its row (during it)
  void problem(std::size_t line, const std::string& field, const std::string& what);

  std::filesystem::path path_;
  std::string name_;
  std::string key_name_;
  std::size_t key_count_;
  resume_options opts_;
  key_index index_;                  // key_text of each key -> id, in the order expected
  std::vector<std::size_t> needed_;  // rows each key still needs, by id
  std::string text_;                 // scratch for key texts
  std::array<queued_key, 16> queued_{};
  std::size_t head_ = 0, count_ = 0;
  bool scanning_ = false;
  std::unique_ptr<jsonl_writer> out_;
  resume_summary summary_;
};

}  // namespace detail
}  // namespace sluice
