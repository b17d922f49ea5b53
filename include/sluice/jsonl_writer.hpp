// sluice::jsonl_writer appends rows to a JSON Lines file, each row one line written by one
// write(2) on an O_APPEND descriptor, so rows from concurrent tasks never interleave and a
// crash leaves at most one torn last line. Durability follows an fsync policy.
#pragma once

#include "sluice/file_lock.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

namespace sluice {

/// When a jsonl_writer calls fdatasync. A row is in the file (safe from a crash of the
/// process, SIGKILL included) as soon as write() returns; fsync is about the machine
/// crashing or losing power. The default syncs at most once a second, when a row is written
/// a second or more after the last sync, and at close: a power cut loses at most the last
/// second of rows, and a fast writer pays for one sync a second.
struct fsync_policy {
  /// Sync after this many rows since the last sync (0: not by count). 1: every row.
  std::size_t every_rows = 0;
  /// Sync when a row is written this long after the last sync (0: not by time).
  std::chrono::milliseconds every{1000};
  bool at_close = true;

  static fsync_policy each_row() { return {.every_rows = 1, .every = {}, .at_close = true}; }
  static fsync_policy never() { return {.every_rows = 0, .every = {}, .at_close = false}; }
};

/// Appends JSON rows to a file, creating it if needed. Thread-safe: write() may be called
/// from any thread; each row is one line written whole. Errors (cannot open, disk full)
/// throw std::system_error naming the file. Not movable (the lock lives in it).
///
/// A row is valid UTF-8 or is not written (std::invalid_argument): a row of bytes from
/// outside puts them with put_bytes (bytes_field.hpp). A write that fails part way (a full
/// disk, a file size limit) is cut back to the row before it when this writer can see that
/// nothing else was appended meanwhile (always, under the file_lock of a resumable file), so
/// the file ends with a whole row and the next run has nothing to repair.
///
///     sluice::jsonl_writer out("results.jsonl");
///     out.write({{"id", 7}, {"ok", true}});
class jsonl_writer {
 public:
  explicit jsonl_writer(const std::filesystem::path& path, fsync_policy sync = {});
  /// The same, holding `lock` (of the same file) until close(): the file's only writer.
  jsonl_writer(const std::filesystem::path& path, fsync_policy sync, file_lock lock);
  ~jsonl_writer();  // close(), errors swallowed
  jsonl_writer(const jsonl_writer&) = delete;
  jsonl_writer& operator=(const jsonl_writer&) = delete;

  /// Serializes `row` (compact, UTF-8) and appends it with its '\n' in one write. Returns
  /// the offset at which the row starts (see end_offset).
  std::uint64_t write(const boost::json::value& row);
  /// Appends text that is already one serialized row (no '\n' in it); adds the '\n'.
  /// Returns the offset at which the row starts.
  std::uint64_t write_line(std::string_view text);
  /// Appends raw bytes as they are (for repairing a file that lacks its final '\n').
  void write_raw(std::string_view bytes);
  /// fdatasync now (and the directory, the first time, if this writer created the file).
  void sync();
  /// Syncs if the policy says so at close, then closes. Idempotent.
  void close();

  [[nodiscard]] std::size_t rows_written() const noexcept { return rows_; }
  [[nodiscard]] std::size_t syncs() const noexcept { return syncs_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The file's size as this writer counts it (its size at open plus what it appended): the
  /// offset of the next row, exact while no other writer appends (under a file_lock).
  [[nodiscard]] std::uint64_t end_offset() const noexcept { return size_; }

 private:
  std::uint64_t append_row_locked(std::string_view row_with_newline);
  void append_locked(std::string_view bytes);
  void cut_back_locked(std::uint64_t written) noexcept;
  void after_row_locked();
  void sync_locked();

  std::string name_;
  int fd_ = -1;
  fsync_policy policy_;
  bool created_ = false;  // the directory entry still needs a sync
  file_lock lock_;
  std::uint64_t size_ = 0;
  std::mutex m_;
  std::string buf_;
  std::size_t rows_ = 0, since_sync_ = 0, syncs_ = 0;
  std::chrono::steady_clock::time_point last_sync_;
};

}  // namespace sluice
