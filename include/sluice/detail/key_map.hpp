// The non-template core of map_by_key_jsonl_file: what dst already holds per key, the src
// rows waiting for their key's result (in src order), and writing them out.
#pragma once

#include "sluice/jsonl_reader.hpp"
#include "sluice/jsonl_writer.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice {

struct map_by_key_options {
  /// The column whose value makes rows equivalent (1 and "1" are different keys).
  std::string key;
  /// How many calls of f may run at once (>= 1).
  std::size_t num_concurrent = 1;
  /// src columns copied to every output row, in this order, before the key column.
  std::vector<std::string> keep_columns{};
  /// Bad src rows, f failing, and dst rows that src does not account for: raise throws
  /// (f's own exception for f), print reports and goes on without them.
  on_error errors = on_error::raise;
  report_fn report{};
  /// Called once per src row: true when its output row is written or was already in dst,
  /// false when it is left out because f failed for its key.
  std::function<void(bool)> progress{};
  fsync_policy sync{};
  /// At most this many src rows are held waiting for their key's result (>= 1).
  std::size_t window = 4096;
};

/// What map_by_key_jsonl_file found and did.
struct map_by_key_summary {
  std::size_t rows_read = 0;     // src rows (bad rows skipped under print not included)
  std::size_t rows_resumed = 0;  // src rows whose output row dst already held
  std::size_t rows_written = 0;  // output rows written by this call
  std::size_t rows_failed = 0;   // src rows left out because f failed for their key
  std::size_t calls = 0;         // calls of f made by this call
  std::size_t keys_failed = 0;
  std::uint64_t torn_bytes = 0;  // a torn last line of dst cut away (0: none)
};

namespace detail {

class key_map {
 public:
  struct key_state {
    std::string_view text;                          // key_text of the key (the map's own string)
    std::size_t done = 0;                           // output rows dst already holds for this key
    std::size_t seen = 0;                           // src rows read so far with this key
    std::size_t line = 0;                           // src line of the row f gets
    std::optional<boost::json::object> first_done;  // dst's first row, until `result` is rebuilt
    std::optional<boost::json::object> result;      // f's columns
    bool started = false, failed = false;
  };

  /// Checks the options, reads dst (cutting a torn last line away), opens src and dst.
  key_map(const std::filesystem::path& src, const std::filesystem::path& dst,
          map_by_key_options opts);
  ~key_map();

  /// Reads src up to the next row that needs its key's f started, which is then moved into
  /// `row`; returns its key's state, or nullptr at the end of src. Rows whose output dst
  /// holds are passed over; other rows join the queue of rows to write.
  key_state* next(boost::json::object& row);
  /// f's result for a key: checked (f may not change the key) and kept.
  void resolved(key_state& k, boost::json::object result);
  /// f failed for a key: under print, reported (its rows will be left out); under raise,
  /// nothing here (the caller rethrows).
  void failed(key_state& k, const std::exception_ptr& error);
  /// Writes the queued rows whose key is resolved, from the front, in src order.
  void write_ready();
  /// The key the front queued row waits for, or nullptr if the queue is empty.
  [[nodiscard]] key_state* front_waiting() const;
  [[nodiscard]] bool full() const noexcept { return queue_.size() >= opts_.window; }
  [[nodiscard]] const map_by_key_options& opts() const noexcept { return opts_; }
  /// Checks dst against src (rows of keys src lacks or has fewer of), closes dst.
  map_by_key_summary finish();

 private:
  struct queued {
    key_state* key;
    boost::json::object kept;  // the keep columns and the key, in output order
  };
  key_state& state(std::string text);
  void read_dst(const std::filesystem::path& dst);
  void rebuild_result(key_state& k, const boost::json::object& src_row);
  void progress(bool ok) const {
    if (opts_.progress) opts_.progress(ok);
  }

  map_by_key_options opts_;
  std::string src_name_, dst_name_;
  std::unordered_map<std::string, key_state> keys_;  // key_text -> state
  std::deque<queued> queue_;
  std::unique_ptr<jsonl_reader> src_;
  std::unique_ptr<jsonl_writer> dst_;
  map_by_key_summary summary_;
};

}  // namespace detail
}  // namespace sluice
