// What the fuzz targets share: the fuzzer's bytes as a file (the readers take paths) and as
// newline-separated fields, and a check that stops the fuzzer (abort) on a broken invariant.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::fuzz {

/// An invariant the code under test must keep; a violation is a finding, like a crash.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

/// The bytes in an anonymous in-memory file, reachable by path (/proc/self/fd/N).
class memory_file {
 public:
  explicit memory_file(std::string_view bytes) : fd_(::memfd_create("fuzz", MFD_CLOEXEC)) {
    check(fd_ >= 0, "memfd_create");
    check(::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()),
          "write to the memory file");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~memory_file() { ::close(fd_); }
  memory_file(const memory_file&) = delete;
  memory_file& operator=(const memory_file&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

/// The bytes split at each '\n' (an empty field where two are adjacent).
inline std::vector<std::string> fields_of(std::string_view bytes) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = bytes.find('\n', start)) != std::string_view::npos; start = nl + 1)
    out.emplace_back(bytes.substr(start, nl - start));
  out.emplace_back(bytes.substr(start));
  return out;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace sluice::fuzz
