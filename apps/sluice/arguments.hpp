// The argument lists of `sluice run`'s tasks, from their input sources, as GNU parallel makes
// them:
//   records     each source's records (records.hpp): a file's lines, a ::: list...
//   columns     --colsep REGEX splits each record into columns, each an argument
//   tuples      one record from each source: every combination of the sources (the last
//               varies fastest), except that a source linked to the one before it (:::+,
//               ::::+) goes along with it, record for record, as far as the shorter goes
//   groups      -n N / -N N: N tuples per task; -X / -m: as many as the command line holds
// A task's arguments are its group's tuples' columns, in order.
//
// Memory: the first source is read as the tasks go (a pipe is never read ahead); the others
// are held, and the combinations are counted through, never stored.
#pragma once

#include "records.hpp"

#include <boost/regex.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sluice::cli {

struct grouping {
  std::size_t per_task = 1;   // -n / -N: at most this many tuples per task
  bool pack = false;          // -X / -m: as many as fit within max_chars
  std::size_t max_chars = 0;  // the command line's length limit (pack)
  /// What one more argument adds to the command line, and its length with none (pack).
  std::function<std::size_t(const std::string&)> cost_of;
  std::size_t base_length = 0;
};

class argument_reader {
 public:
  /// `sources` in command-line order; `linked[i]`: source i goes along with source i - 1.
  /// `colsep`: empty for none. Throws usage_error for a bad regex.
  argument_reader(std::vector<record_source> sources, std::vector<bool> linked,
                  const std::string& colsep, grouping g);

  /// The next task's arguments and the number of its first record in the first source, or
  /// false at the end.
  bool next(std::vector<std::string>& args, std::size_t& number);
  /// How many tasks there will be, when known before reading (regular files and ::: lists,
  /// without -X / -m).
  [[nodiscard]] std::optional<std::size_t> total() const noexcept { return total_; }
  /// The name of the first source, for messages.
  [[nodiscard]] const std::string& name() const noexcept { return first_.front().name(); }

 private:
  bool next_tuple(std::vector<std::string>& args, std::size_t& number);
  void split(std::string record, std::vector<std::string>& args) const;

  std::vector<record_source> first_;  // the first dimension: its linked sources, streamed
  // The other dimensions: each a set of linked sources, held, as far as the shortest goes.
  struct dimension {
    std::vector<std::vector<std::string>> sources;
    std::size_t size = 0;
    std::size_t at = 0;
  };
  std::vector<dimension> held_;
  std::vector<std::string> row_;  // the first dimension's current records
  std::size_t row_number_ = 0;
  bool row_valid_ = false;
  std::optional<boost::regex> colsep_;
  grouping group_;
  std::optional<std::vector<std::string>> carried_;  // a tuple that did not fit the last group
  std::size_t carried_number_ = 0;
  std::optional<std::size_t> total_;
  bool empty_ = false;  // a held dimension has no record: no combination at all
};

}  // namespace sluice::cli
