#include "sluice/jsonl_writer.hpp"

#include "sluice/bytes_field.hpp"

#include <boost/json/serializer.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <system_error>

namespace sluice {
namespace {

[[noreturn]] void fail(const std::string& name, const char* what) {
  throw std::system_error(errno, std::generic_category(), name + ": " + what);
}

}  // namespace

jsonl_writer::jsonl_writer(const std::filesystem::path& path, fsync_policy sync)
    : name_(path.string()), policy_(sync), last_sync_(std::chrono::steady_clock::now()) {
  fd_ = ::open(name_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0 && errno == ENOENT) {
    fd_ = ::open(name_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    created_ = fd_ >= 0;
  }
  if (fd_ < 0) fail(name_, "cannot open for appending");
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    errno = err;
    fail(name_, "cannot open for appending");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

jsonl_writer::jsonl_writer(const std::filesystem::path& path, fsync_policy sync, file_lock lock)
    : jsonl_writer(path, sync) {
  created_ = created_ || lock.created();
  lock_ = std::move(lock);
}

jsonl_writer::~jsonl_writer() {
  try {
    close();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; close() reports
  }
}

std::uint64_t jsonl_writer::write(const boost::json::value& row) {
  std::lock_guard lock(m_);
  buf_.clear();
  boost::json::serializer sr;
  sr.reset(&row);
  char chunk[4096];
  while (!sr.done()) buf_.append(sr.read(chunk, sizeof chunk));
  buf_.push_back('\n');
  return append_row_locked(buf_);
}

std::uint64_t jsonl_writer::write_line(std::string_view text) {
  std::lock_guard lock(m_);
  buf_.assign(text);
  buf_.push_back('\n');
  return append_row_locked(buf_);
}

std::uint64_t jsonl_writer::append_row_locked(std::string_view row) {
  // A string holding bytes that are not UTF-8 would make a row no JSON parser reads back,
  // and stop the next run's resume at it.
  if (!is_utf8(row))
    throw std::invalid_argument(name_ +
                                ": a row that is not valid UTF-8 is not written (put bytes from "
                                "outside with sluice::put_bytes)");
  const std::uint64_t at = size_;
  append_locked(row);
  after_row_locked();
  return at;
}

void jsonl_writer::write_raw(std::string_view bytes) {
  std::lock_guard lock(m_);
  append_locked(bytes);
}

void jsonl_writer::append_locked(std::string_view bytes) {
  if (fd_ < 0) throw std::logic_error(name_ + ": write after close");
  // One write() for the whole line; a regular file takes it whole unless the disk is full
  // (or a size limit is reached): then the rest is retried, and the error that follows cuts
  // what was written of it away.
  std::uint64_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      cut_back_locked(written);
      errno = err;
      fail(name_, "cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  size_ += written;
}

void jsonl_writer::cut_back_locked(std::uint64_t written) noexcept {
  if (written == 0) return;
  // Only when the file is exactly what this writer made of it: another writer's rows (an
  // unlocked file shared by processes) are never cut; resuming repairs the torn line then.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) == size_ + written)
    (void)::ftruncate(fd_, static_cast<off_t>(size_));
}

void jsonl_writer::after_row_locked() {
  ++rows_;
  ++since_sync_;
  bool due = policy_.every_rows != 0 && since_sync_ >= policy_.every_rows;
  if (!due && policy_.every.count() > 0)
    due = std::chrono::steady_clock::now() - last_sync_ >= policy_.every;
  if (due) sync_locked();
}

void jsonl_writer::sync() {
  std::lock_guard lock(m_);
  if (fd_ >= 0) sync_locked();
}

void jsonl_writer::sync_locked() {
  if (::fdatasync(fd_) != 0) fail(name_, "cannot sync");
  if (created_) {  // make the new file's directory entry durable too
    auto dir = std::filesystem::path(name_).parent_path();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    created_ = false;
  }
  ++syncs_;
  since_sync_ = 0;
  last_sync_ = std::chrono::steady_clock::now();
}

void jsonl_writer::close() {
  std::lock_guard lock(m_);
  if (fd_ < 0) return;
  int fd = fd_;
  try {
    if (policy_.at_close && (since_sync_ > 0 || created_)) sync_locked();
  } catch (...) {
    ::close(fd);
    fd_ = -1;
    lock_.release();
    throw;
  }
  fd_ = -1;
  const int closed = ::close(fd);
  lock_.release();  // after the last row is on disk
  if (closed != 0) fail(name_, "cannot close");
}

}  // namespace sluice
