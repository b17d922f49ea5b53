// Private to the library: the lines of a file, read in large blocks with flat memory (one
// buffer, grown only for a line longer than it). Shared by jsonl_reader and the results-file
// scan of create_or_resume / map_by_key.
#pragma once

#include "sluice/errors.hpp"

#include <boost/json/kind.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::detail {

/// One line of a file, without its '\n'.
struct file_line {
  std::string_view text;
  std::size_t number = 0;    // 1-based
  std::uint64_t offset = 0;  // of its first byte
  bool has_newline = true;   // false only for a last line that the file ends in the middle of
};

/// Reads a file line by line. Opening fails with jsonl_error ("cannot open: ...", "is a
/// directory") naming the path; so does a read error.
class line_file {
 public:
  explicit line_file(const std::filesystem::path& path, std::size_t block = 1 << 20);
  ~line_file();
  line_file(const line_file&) = delete;
  line_file& operator=(const line_file&) = delete;

  /// The next line, or false at the end. The text stays valid until the next call.
  bool next(file_line& out);
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  bool fill();  // reads more after the unconsumed bytes; false at the end of the file

  std::string name_;
  int fd_ = -1;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0, scanned_ = 0;  // unconsumed bytes are [begin_, end_)
  std::uint64_t offset_ = 0;                       // file offset of buf_[begin_]
  std::size_t number_ = 0;
  bool eof_ = false;
};

/// How rows are parsed: Boost.JSON's defaults, but nesting up to 1000 deep (not 32).
boost::json::parse_options row_parse_options() noexcept;

/// A whole row that has already been validated, parsed as a DOM with row_parse_options.
boost::json::value parse_row(std::string_view text);

/// True for a line of spaces, tabs and '\r' only (or none).
bool is_blank(std::string_view line) noexcept;

/// "invalid JSON at column 6: syntax error": a parse that stopped after `used` bytes.
std::string invalid_json_message(std::size_t used, const boost::system::error_code& ec);

/// "row is an array, not a JSON object", for a row of this kind.
std::string not_an_object_message(boost::json::kind kind);

}  // namespace sluice::detail
