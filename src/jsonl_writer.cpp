#include "sluice/jsonl_writer.hpp"

#include <boost/json/serializer.hpp>

#include <fcntl.h>
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
}

jsonl_writer::~jsonl_writer() {
  try {
    close();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; close() reports
  }
}

void jsonl_writer::write(const boost::json::value& row) {
  std::lock_guard lock(m_);
  buf_.clear();
  boost::json::serializer sr;
  sr.reset(&row);
  char chunk[4096];
  while (!sr.done()) buf_.append(sr.read(chunk, sizeof chunk));
  buf_.push_back('\n');
  append_locked(buf_);
  after_row_locked();
}

void jsonl_writer::write_line(std::string_view text) {
  std::lock_guard lock(m_);
  buf_.assign(text);
  buf_.push_back('\n');
  append_locked(buf_);
  after_row_locked();
}

void jsonl_writer::write_raw(std::string_view bytes) {
  std::lock_guard lock(m_);
  append_locked(bytes);
}

void jsonl_writer::append_locked(std::string_view bytes) {
  if (fd_ < 0) throw std::logic_error(name_ + ": write after close");
  // One write() for the whole line; a regular file takes it whole unless the disk is full,
  // in which case the rest is retried and any error leaves a torn last line that resuming
  // cuts away.
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(name_, "cannot write");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
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
    throw;
  }
  fd_ = -1;
  if (::close(fd) != 0) fail(name_, "cannot close");
}

}  // namespace sluice
