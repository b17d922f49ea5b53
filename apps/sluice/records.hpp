// The records of one input source of `sluice run`: the lines of a file or of standard input
// (or its -0 / -d records), or the arguments of one ::: list. Bytes, never assumed UTF-8.
//
// A line ends at '\n' (a '\r' before it goes too, as a CRLF file's lines end); -0 records end
// at NUL and -d records at the given delimiter (one byte or several), with nothing stripped.
// The last record needs no delimiter after it. An empty record is an input, as in GNU
// parallel, unless --skip-empty.
#pragma once

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace sluice::cli {

/// Opens an input file ("-" is standard input) for one reading thread; throws
/// sluice::jsonl_error naming it when it cannot be read or is a directory.
std::FILE* open_input(const std::string& path);

/// Whether `path` is a regular file (not a pipe, a terminal or standard input).
bool is_regular_file(const std::string& path);

/// -d's text with its C escapes (\n \t \0 \\ \xHH \NNN) resolved; throws usage_error for an
/// empty delimiter or a bad escape.
std::string parse_delimiter(const std::string& text);

class record_source {
 public:
  /// The records of `f` (owned: closed at the end), separated by `delimiter` (empty: lines).
  record_source(std::FILE* f, std::string name, std::string delimiter, bool skip_empty);
  /// The arguments of a ::: list.
  record_source(std::vector<std::string> args, bool skip_empty);
  ~record_source();
  record_source(record_source&&) noexcept;
  record_source(const record_source&) = delete;
  record_source& operator=(const record_source&) = delete;

  /// The next record and its number (its line, or its place in the ::: list), or false at
  /// the end. A line holding a NUL byte is reported once on stderr (its NUL reaches a
  /// command as the two characters \0, as in GNU parallel).
  bool next(std::string& out, std::size_t& number);
  /// How many records remain, counted without keeping them (a regular file or a ::: list),
  /// before the first next(); std::nullopt for a pipe or a terminal.
  std::optional<std::size_t> count();
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  bool read_record(std::string& out);
  std::FILE* f_ = nullptr;
  std::string name_;
  std::string delim_;
  std::vector<std::string> args_;
  std::size_t arg_ = 0;
  bool skip_empty_ = false;
  bool warned_nul_ = false;
  char* buf_ = nullptr;
  std::size_t cap_ = 0;
  std::string pending_;  // a multi-byte delimiter: what was read past the last record
  bool eof_ = false;
  std::size_t number_ = 0;
};

}  // namespace sluice::cli
