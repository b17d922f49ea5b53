// sluice::jsonl_reader streams the rows of a JSON Lines file (one JSON object per line) with
// flat memory: one read buffer, one parsed row at a time. Unlike a plain getline loop it
// tells bad input apart and names it: the file, the line, the column and what is wrong.
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

namespace sluice {

/// What to do with bad input: `raise` throws sluice::jsonl_error; `print` writes the same
/// message to the report function (stderr by default) and goes on without that row.
enum class on_error { raise, print };

/// Receives the messages of on_error::print and other notices (a torn line cut away), one
/// line each, without a trailing newline. Empty: they go to stderr.
using report_fn = std::function<void(std::string_view)>;

namespace detail {
/// Sends a message to `report`, or to stderr when it is empty.
void report_line(const report_fn& report, std::string_view message);
}  // namespace detail

struct jsonl_read_options {
  on_error errors = on_error::raise;
  report_fn report{};
};

/// Reads a JSON Lines file row by row. Every row must be a JSON object. Blank lines (spaces,
/// tabs, '\r' only) are skipped and counted. A last line without its '\n' is a row if it
/// parses; if it does not, it is a torn line (what a crash in the middle of a write leaves)
/// and is reported as such. Other bad rows (invalid JSON, not an object) are errors naming
/// the line and column. Opening a missing file, a directory or an unreadable path throws
/// jsonl_error naming the path.
///
///     sluice::jsonl_reader in("rows.jsonl");
///     while (auto* row = in.next()) use(*row, in.line());
class jsonl_reader {
 public:
  explicit jsonl_reader(const std::filesystem::path& path, jsonl_read_options opts = {});
  ~jsonl_reader();
  jsonl_reader(jsonl_reader&&) noexcept;
  jsonl_reader& operator=(jsonl_reader&&) noexcept;

  /// The next row, or nullptr at the end of the file. The object is the reader's until the
  /// next call (move from it to keep it). Under on_error::raise a bad row throws
  /// jsonl_error; under print it is reported and skipped.
  boost::json::object* next();
  /// The line number (1-based) of the row last returned.
  [[nodiscard]] std::size_t line() const noexcept;
  [[nodiscard]] std::size_t blank_lines() const noexcept;
  /// Rows reported and skipped under on_error::print.
  [[nodiscard]] std::size_t skipped_rows() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice
