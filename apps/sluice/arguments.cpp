#include "arguments.hpp"

#include "flags.hpp"

#include <algorithm>
#include <utility>

namespace sluice::cli {

argument_reader::argument_reader(std::vector<record_source> sources, std::vector<bool> linked,
                                 const std::string& colsep, grouping g)
    : group_(std::move(g)) {
  if (!colsep.empty()) {
    try {
      colsep_.emplace(colsep, boost::regex::perl);
    } catch (const boost::regex_error& e) {
      throw usage_error("--colsep: \"" + colsep + "\" is not a regular expression (" + e.what() +
                        ")");
    }
  }
  std::size_t i = 0;
  do first_.push_back(std::move(sources[i++]));
  while (i < sources.size() && linked[i]);
  while (i < sources.size()) {
    dimension d;
    do {
      auto& s = sources[i++];
      std::vector<std::string> records;
      std::string r;
      std::size_t number = 0;
      while (s.next(r, number)) records.push_back(std::move(r));
      d.sources.push_back(std::move(records));
    } while (i < sources.size() && linked[i]);
    d.size = d.sources.front().size();
    for (const auto& s : d.sources) d.size = std::min(d.size, s.size());
    empty_ = empty_ || d.size == 0;
    held_.push_back(std::move(d));
  }
  if (group_.pack) return;  // (how many fit a command line is known only as they come)
  std::optional<std::size_t> rows;
  for (auto& s : first_) {
    const auto n = s.count();
    if (!n) return;
    rows = rows ? std::min(*rows, *n) : *n;
  }
  std::size_t tuples = empty_ ? 0 : *rows;
  for (const auto& d : held_) tuples *= d.size;
  total_ =
      tuples / group_.per_task + (tuples % group_.per_task != 0);  // (no overflow at -n 2^64-1)
}

void argument_reader::split(std::string record, std::vector<std::string>& args) const {
  if (!colsep_) {
    args.push_back(std::move(record));
    return;
  }
  // Every column, the empty ones at either end included (as GNU parallel: "a\t" is "a", "").
  // A separator is at least one byte: a match of nothing splits nothing.
  auto from = record.cbegin();
  boost::smatch m;
  boost::regex_constants::match_flag_type flags = boost::match_not_null;
  while (boost::regex_search(from, record.cend(), m, *colsep_, flags)) {
    args.emplace_back(from, m[0].first);
    from = m[0].second;
    flags = boost::match_not_null | boost::match_prev_avail;  // (^ and \b see what precedes)
  }
  args.emplace_back(from, record.cend());
}

bool argument_reader::next_tuple(std::vector<std::string>& args, std::size_t& number) {
  if (empty_) return false;
  if (!row_valid_) {
    row_.resize(first_.size());
    for (std::size_t i = 0; i < first_.size(); ++i) {
      std::size_t n = 0;
      if (!first_[i].next(row_[i], n)) return false;  // the shortest linked source ends it
      if (i == 0) row_number_ = n;
    }
    row_valid_ = true;
    for (auto& d : held_) d.at = 0;
  }
  number = row_number_;
  if (held_.empty()) {  // one dimension: its records are used once, moved
    for (auto& r : row_) split(std::move(r), args);
    row_valid_ = false;
    return true;
  }
  for (const auto& r : row_) split(r, args);
  for (const auto& d : held_)
    for (const auto& s : d.sources) split(s[d.at], args);
  // The next combination: the last dimension varies fastest.
  std::size_t k = held_.size();
  while (k > 0) {
    auto& d = held_[k - 1];
    if (++d.at < d.size) break;
    d.at = 0;
    --k;
  }
  if (k == 0) row_valid_ = false;
  return true;
}

bool argument_reader::next(std::vector<std::string>& args, std::size_t& number) {
  args.clear();
  if (group_.per_task == 1 && !group_.pack) return next_tuple(args, number);
  std::size_t tuples = 0;
  std::size_t length = group_.base_length;
  std::vector<std::string> tuple;
  while (tuples < group_.per_task) {
    std::size_t n = 0;
    tuple.clear();
    if (carried_) {
      tuple = std::move(*carried_);
      carried_.reset();
      n = carried_number_;
    } else if (!next_tuple(tuple, n)) {
      break;
    }
    if (group_.pack) {
      std::size_t cost = 0;
      for (const auto& a : tuple) cost += group_.cost_of(a);
      // (A tuple too long for any command line goes alone: its start fails, saying so.)
      if (tuples > 0 && length + cost > group_.max_chars) {
        carried_ = std::move(tuple);
        carried_number_ = n;
        break;
      }
      length += cost;
    }
    if (tuples++ == 0) number = n;
    for (auto& a : tuple) args.push_back(std::move(a));
  }
  return tuples > 0;
}

}  // namespace sluice::cli
