// The non-template core of create_or_resume_jsonl_file: the tally of keys and the rows each
// still needs, the scan of an existing file, and the checked appending of new rows.
#pragma once

#include "sluice/jsonl_reader.hpp"
#include "sluice/jsonl_writer.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
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

  /// Adds a key that must end up key_count times (a repeated key counts once).
  void expect(boost::json::value key);
  /// Counts the rows already in the file (if it exists), cuts a torn last line away, opens
  /// the file for appending and returns the rows missing, in the order keys were expected.
  std::vector<key_need> open();
  /// Checks a generated row (an object with the key field, for a key that needs a row) and
  /// appends it.
  void append(const boost::json::value& row);
  /// Checks that no key still needs rows, closes the file (fsync per policy).
  resume_summary finish();

 private:
  struct entry {
    boost::json::value key;
    std::size_t needed;
  };
  entry* find(const std::string& text);
  void problem(std::size_t line, const std::string& field, const std::string& what);

  std::filesystem::path path_;
  std::string name_;
  std::string key_name_;
  std::size_t key_count_;
  resume_options opts_;
  std::vector<entry> keys_;
  std::unordered_map<std::string, std::size_t> index_;  // key_text -> position in keys_
  std::unique_ptr<jsonl_writer> out_;
  resume_summary summary_;
};

}  // namespace detail
}  // namespace sluice
