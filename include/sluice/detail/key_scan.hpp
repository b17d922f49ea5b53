// The scan of an existing results file that resuming starts with: every row's key, fast
// (a SAX parse that builds no DOM), with bad rows named and a torn last line recognised.
#pragma once

#include "sluice/jsonl_reader.hpp"
#include "sluice/jsonl_writer.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace sluice {
class jsonl_error;
}

namespace sluice::detail {

/// The identity of a key value: its compact JSON text. 1 and "1" differ, as do 1 and 1.0;
/// objects and arrays compare by their text (member order counts).
std::string key_text(const boost::json::value& key);
/// key_text of a JSON string, into `out` (replacing what it held).
void string_key_text(std::string_view s, std::string& out);

/// One row of a scanned file.
struct keyed_row {
  std::string_view line;                // the row's text
  std::size_t number;                   // its line number
  std::uint64_t offset;                 // of its first byte in the file
  std::string_view key;                 // key_text of its key field
  std::span<const std::string> fields;  // key_text of each `also` field; empty: absent
};

/// What a scan found besides the rows.
struct scan_result {
  std::size_t rows = 0;  // rows passed to on_row
  std::size_t blank_lines = 0;
  std::size_t bad_rows = 0;       // reported under on_error::print
  bool needs_newline = false;     // the last row is whole but its '\n' is missing
  std::size_t torn_line = 0;      // line number of a torn last line, 0 if none
  std::uint64_t torn_offset = 0;  // where it starts: the length to truncate the file to
  std::uint64_t torn_bytes = 0;
};

/// Reads `path` and calls on_row for every row, with the key and the `also` fields of the
/// row. Invalid JSON, a row that is not an object and a row without `key_name` go to on_bad
/// (which throws or reports); a last line that has no '\n' and does not parse is a torn
/// line, left to the caller (not reported here).
scan_result scan_keys(const std::filesystem::path& path, std::string_view key_name,
                      const std::function<void(const keyed_row&)>& on_row,
                      const std::function<void(const jsonl_error&)>& on_bad,
                      std::span<const std::string_view> also = {});

/// Raises `e` (on_error::raise) or reports it and returns (print).
void bad_input(on_error errors, const report_fn& report, const jsonl_error& e);

/// Opens a scanned file for appending, holding its `lock` from then on: cuts its torn last
/// line away (and reports it), and ends a last row that lacks its '\n' with one.
std::unique_ptr<jsonl_writer> open_for_append(const std::filesystem::path& path,
                                              const scan_result& scan, fsync_policy sync,
                                              const report_fn& report, file_lock lock);

}  // namespace sluice::detail
