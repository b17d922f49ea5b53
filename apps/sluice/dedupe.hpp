// --dedupe: the command runs once per distinct key, and every input gets a row. The first
// input of a key runs; the later ones (and, on resume, every input of a key the results file
// already has a row for) are held back here until their key's row exists, and are written
// as a copy of it with their own key, occurrence and input.
//
// Memory: per distinct key, its fingerprint and where its row is in the results file (about
// 40 bytes), not the row: a held input's row is read back from the file when it is written.
#pragma once

#include "inputs.hpp"

#include <sluice/fingerprint_set.hpp>
#include <sluice/jsonl_writer.hpp>
#include <sluice/stream.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace sluice::cli {

/// Keys' fingerprints in hash tables: their low word (already uniform).
struct key_fingerprint_hash {
  std::size_t operator()(const fingerprint& f) const noexcept { return f.lo; }
};

/// Where a row is in the results file, and whether it records a success.
struct row_ref {
  std::uint64_t offset = 0;
  std::uint32_t length = 0;  // without the '\n'
  bool ok = false;
};

class dedupe {
 public:
  using item_ptr = std::shared_ptr<const input_item>;

  /// Rows go to `out`, whose file is read back at `path`. With `keep_order`, a held-back
  /// input's row waits for the rows of every input before it. At most `max_held` inputs are
  /// held back: then reading waits.
  dedupe(jsonl_writer& out, const std::string& path, bool keep_order, std::size_t max_held);
  ~dedupe();
  dedupe(const dedupe&) = delete;
  dedupe& operator=(const dedupe&) = delete;

  /// The results file's row for a key (input_item::key_identity) on resume: later inputs of
  /// that key reuse it.
  void known(fingerprint key, row_ref row);

  /// `inputs` with only the first input of each key not already known: the tasks to run.
  stream<item_ptr> first_of_each_key(stream<item_ptr> inputs, boost::asio::any_io_executor ex);

  /// A task that ran has its row (written by the caller at `row`): its key's held inputs may
  /// follow.
  void ran(const input_item& in, row_ref row);

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
  std::string path_;
  int read_fd_ = -1;  // the results file, to read rows back
  bool keep_order_;
  std::size_t max_held_;
  // By key: its row, or nullopt while its first input runs.
  boost::unordered_flat_map<fingerprint, std::optional<row_ref>, key_fingerprint_hash> rows_;
  std::deque<held> held_;
  std::size_t passed_ = 0, ran_ = 0;
  std::size_t reused_ = 0, reused_failed_ = 0;
  std::optional<boost::asio::steady_timer> room_;  // cancelled when held inputs are written
};

}  // namespace sluice::cli
