// --dedupe: the command runs once per distinct key, and every input gets a row. The first
// input of a key runs; the later ones (and, on resume, every input of a key the results file
// already has a row for) are held back here until their key's row exists, and are written
// as a copy of it with their own key, occurrence and input.
#pragma once

#include "inputs.hpp"

#include <sluice/jsonl_writer.hpp>
#include <sluice/stream.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace sluice::cli {

class dedupe {
 public:
  using item_ptr = std::shared_ptr<const input_item>;

  /// Rows go to `out`. With `keep_order`, a held-back input's row waits for the rows of every
  /// input before it. At most `max_held` inputs are held back: then reading waits.
  dedupe(jsonl_writer& out, bool keep_order, std::size_t max_held);

  /// The results file's row for `key_text` (resume): later inputs of that key reuse it.
  void known(std::string key_text, boost::json::object row);

  /// `inputs` with only the first input of each key not already known: the tasks to run.
  stream<item_ptr> first_of_each_key(stream<item_ptr> inputs, boost::asio::any_io_executor ex);

  /// A task that ran has its row (written by the caller): its key's held inputs may follow.
  void ran(const input_item& in, const boost::json::object& row);

  /// Writes what can be written now.
  void flush();

  /// Rows written for held-back inputs, and how many of them are not "ok".
  std::size_t reused() const noexcept { return reused_; }
  std::size_t reused_failed() const noexcept { return reused_failed_; }

 private:
  class filter;
  struct held {
    item_ptr in;
    std::size_t ran_before;  // tasks passed on before it (for keep_order)
  };

  jsonl_writer& out_;
  bool keep_order_;
  std::size_t max_held_;
  std::unordered_map<std::string, std::optional<boost::json::object>> rows_;  // by key
  std::deque<held> held_;
  std::size_t passed_ = 0, ran_ = 0;
  std::size_t reused_ = 0, reused_failed_ = 0;
  std::optional<boost::asio::steady_timer> room_;  // cancelled when held inputs are written
};

}  // namespace sluice::cli
