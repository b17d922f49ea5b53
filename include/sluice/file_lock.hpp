// An exclusive lock on a file for as long as a writer appends to it: the one-writer rule of a
// resumable results file. It is an flock(2) lock, held by an open file description that no
// child process inherits (O_CLOEXEC): the kernel drops it when its holder exits, kill -9
// included, so a stale lock cannot outlive a crash as a lock file's pid can.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

namespace sluice {

/// Another process holds the lock of `path()`: what() names the file and, when the system
/// tells it (/proc/locks), the holder's pid.
class file_in_use : public std::runtime_error {
 public:
  file_in_use(std::string path, std::optional<pid_t> holder);
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::optional<pid_t> holder() const noexcept { return holder_; }

 private:
  std::string path_;
  std::optional<pid_t> holder_;
};

/// An exclusive advisory lock on a file. Movable; the destructor (or release()) unlocks it.
/// Advisory: it keeps out every writer that asks for it (every sluice writer of a resumable
/// file), not a program that writes without asking.
///
///     auto lock = sluice::file_lock::exclusive("results.jsonl");  // throws file_in_use
class file_lock {
 public:
  /// Locks `path`, creating it empty if it does not exist, without waiting: throws
  /// file_in_use if another open file description (another process) holds it, and
  /// std::system_error naming the path if it cannot be opened.
  static file_lock exclusive(const std::filesystem::path& path);

  file_lock() = default;
  file_lock(file_lock&& other) noexcept;
  file_lock& operator=(file_lock&& other) noexcept;
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;
  ~file_lock() { release(); }

  [[nodiscard]] bool held() const noexcept { return fd_ >= 0; }
  /// exclusive() created the file.
  [[nodiscard]] bool created() const noexcept { return created_; }
  void release() noexcept;

 private:
  int fd_ = -1;
  bool created_ = false;
};

}  // namespace sluice
