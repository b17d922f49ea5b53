#include "records.hpp"

#include "flags.hpp"

#include <sluice/errors.hpp>

#include <stdio_ext.h>
#include <sys/stat.h>

#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace sluice::cli {

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// The input, read by one thread only. Its stdio lock is turned off: a read blocked on an
/// idle pipe would otherwise hold it, and exit() (which locks every FILE to flush it) would
/// wait for that read forever after a SIGINT ended the run.
std::FILE* open_input(const std::string& path) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "re");
  if (f == nullptr)
    throw jsonl_error(path, 0, {}, std::string("cannot read the input: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (f != stdin) std::fclose(f);
    throw jsonl_error(path, 0, {}, "cannot read the input: it is a directory");
  }
  ::__fsetlocking(f, FSETLOCKING_BYCALLER);
  return f;
}

std::string parse_delimiter(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return usage_error("--delimiter: \"" + text + "\" " + why +
                       " (a character, or a C escape: \\n \\t \\0 \\\\ \\xHH \\NNN)");
  };
  std::string d;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      d += text[i];
      continue;
    }
    if (++i == text.size()) throw bad("ends with a lone \\");
    const char c = text[i];
    static constexpr std::string_view simple = "abfnrtv\\";
    static constexpr std::string_view value = "\a\b\f\n\r\t\v\\";
    if (const auto at = simple.find(c); at != std::string_view::npos) {
      d += value[at];
    } else if (c == 'x') {
      std::size_t n = 0;
      unsigned v = 0;
      while (n < 2 && i + 1 < text.size() &&
             std::isxdigit(static_cast<unsigned char>(text[i + 1]))) {
        const char h = text[++i];
        v = v * 16 +
            static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(h))
                                      ? h - '0'
                                      : (std::tolower(static_cast<unsigned char>(h)) - 'a' + 10));
        ++n;
      }
      if (n == 0) throw bad("has \\x without hex digits");
      d += static_cast<char>(v);
    } else if (c >= '0' && c <= '7') {
      unsigned v = static_cast<unsigned>(c - '0');
      for (int n = 1; n < 3 && i + 1 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '7'; ++n)
        v = v * 8 + static_cast<unsigned>(text[++i] - '0');
      if (v > 255) throw bad("has an octal escape above \\377");
      d += static_cast<char>(v);
    } else {
      throw bad(std::string("has an unknown escape \\") + c);
    }
  }
  if (d.empty()) throw bad("is empty");
  return d;
}

record_source::record_source(std::FILE* f, std::string name, std::string delimiter, bool skip_empty)
    : f_(f), name_(std::move(name)), delim_(std::move(delimiter)), skip_empty_(skip_empty) {}

record_source::record_source(std::vector<std::string> args, bool skip_empty)
    : name_(":::"), args_(std::move(args)), skip_empty_(skip_empty) {}

record_source::record_source(record_source&& o) noexcept
    : f_(std::exchange(o.f_, nullptr)),
      name_(std::move(o.name_)),
      delim_(std::move(o.delim_)),
      args_(std::move(o.args_)),
      arg_(o.arg_),
      skip_empty_(o.skip_empty_),
      warned_nul_(o.warned_nul_),
      buf_(std::exchange(o.buf_, nullptr)),
      cap_(std::exchange(o.cap_, 0)),
      pending_(std::move(o.pending_)),
      eof_(o.eof_),
      number_(o.number_) {}

record_source::~record_source() {
  std::free(buf_);
  if (f_ != nullptr && f_ != stdin) std::fclose(f_);
}

bool record_source::read_record(std::string& out) {
  if (delim_.size() <= 1) {
    const char end = delim_.empty() ? '\n' : delim_[0];
    const ssize_t n = ::getdelim(&buf_, &cap_, end, f_);
    if (n < 0) {
      if (std::ferror(f_)) throw std::system_error(errno, std::generic_category(), "read");
      return false;
    }
    std::size_t len = static_cast<std::size_t>(n);
    if (len > 0 && buf_[len - 1] == end) {
      --len;
      if (delim_.empty() && len > 0 && buf_[len - 1] == '\r') --len;  // a CRLF line
    }
    out.assign(buf_, len);
    return true;
  }
  // A delimiter of several bytes: read what has come (a pipe's records go on as they arrive),
  // split at each occurrence. (Nothing else reads this FILE: its buffer stays empty.)
  for (;;) {
    if (const auto at = pending_.find(delim_); at != std::string::npos) {
      out.assign(pending_, 0, at);
      pending_.erase(0, at + delim_.size());
      return true;
    }
    if (eof_) {
      if (pending_.empty()) return false;
      out = std::move(pending_);
      pending_.clear();
      return true;
    }
    char block[65536];
    const ssize_t n = ::read(::fileno(f_), block, sizeof block);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "read");
    eof_ = n == 0;
    pending_.append(block, static_cast<std::size_t>(n));
  }
}

bool record_source::next(std::string& out, std::size_t& number) {
  if (f_ == nullptr) {
    while (skip_empty_ && arg_ < args_.size() && args_[arg_].empty()) ++arg_;
    if (arg_ == args_.size()) return false;
    number = ++arg_;
    out = std::move(args_[arg_ - 1]);
    return true;
  }
  for (;;) {
    if (!read_record(out)) return false;
    ++number_;
    if (out.empty() && skip_empty_) continue;
    if (!warned_nul_ && delim_.empty() && out.find('\0') != std::string::npos) [[unlikely]] {
      warned_nul_ = true;
      const std::string note = "sluice: " + name_ + " line " + std::to_string(number_) +
                               ": a NUL byte cannot be passed to a command: it is passed as "
                               "\\0 (for NUL-separated input, give -0)\n";
      (void)!::write(STDERR_FILENO, note.data(), note.size());
    }
    number = number_;
    return true;
  }
}

std::optional<std::size_t> record_source::count() {
  if (f_ == nullptr) {
    if (!skip_empty_) return args_.size() - arg_;
    return static_cast<std::size_t>(std::count_if(args_.begin() + static_cast<long>(arg_),
                                                  args_.end(),
                                                  [](const auto& a) { return !a.empty(); }));
  }
  if (f_ == stdin || !is_regular_file(name_)) return std::nullopt;
  record_source again(open_input(name_), name_, delim_, skip_empty_);
  again.warned_nul_ = true;
  std::size_t n = 0, number = 0;
  for (std::string r; again.next(r, number);) ++n;
  return n;
}

}  // namespace sluice::cli
