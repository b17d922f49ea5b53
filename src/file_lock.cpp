#include "sluice/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace sluice {

namespace {

/// The pid that /proc/locks gives for an flock on the file (device, inode), if any. A line
/// reads "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF" (device in hex, inode in decimal).
std::optional<pid_t> flock_holder(const struct stat& st) {
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream words(line);
    std::string number, type, mode, access, device;
    long pid = 0;
    if (!(words >> number >> type >> mode >> access >> pid >> device) || type != "FLOCK") continue;
    unsigned major_no = 0, minor_no = 0;
    unsigned long long inode = 0;
    if (std::sscanf(device.c_str(), "%x:%x:%llu", &major_no, &minor_no, &inode) != 3) continue;
    if (major_no == major(st.st_dev) && minor_no == minor(st.st_dev) && inode == st.st_ino &&
        pid > 0)
      return static_cast<pid_t>(pid);
  }
  return std::nullopt;
}

std::string in_use_message(const std::string& path, std::optional<pid_t> holder) {
  std::string what = path + ": in use by another sluice run";
  if (holder) what += " (pid " + std::to_string(*holder) + ")";
  return what + "; one run at a time writes a results file";
}

}  // namespace

file_in_use::file_in_use(std::string path, std::optional<pid_t> holder)
    : std::runtime_error(in_use_message(path, holder)), path_(std::move(path)), holder_(holder) {}

file_lock file_lock::exclusive(const std::filesystem::path& path) {
  file_lock lock;
  lock.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (lock.fd_ < 0 && errno == ENOENT) {
    lock.fd_ = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
    lock.created_ = lock.fd_ >= 0;
  }
  if (lock.fd_ < 0)
    throw std::system_error(errno, std::generic_category(), path.string() + ": cannot open");
  while (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    struct stat st {};
    if (err == EWOULDBLOCK && ::fstat(lock.fd_, &st) == 0)
      throw file_in_use(path.string(), flock_holder(st));
    throw std::system_error(err, std::generic_category(), path.string() + ": cannot lock");
  }
  return lock;
}

file_lock::file_lock(file_lock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), created_(other.created_) {}

file_lock& file_lock::operator=(file_lock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    created_ = other.created_;
  }
  return *this;
}

void file_lock::release() noexcept {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor of it drops the flock
  fd_ = -1;
}

}  // namespace sluice
