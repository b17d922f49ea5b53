#include "line_file.hpp"

#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace sluice::detail {

line_file::line_file(const std::filesystem::path& path, std::size_t block)
    : name_(path.string()), buf_(block) {
  fd_ = ::open(name_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw jsonl_error(name_, 0, {}, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw jsonl_error(name_, 0, {}, "is a directory, not a JSON Lines file");
  }
}

line_file::~line_file() {
  if (fd_ >= 0) ::close(fd_);
}

bool line_file::fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // move the unconsumed tail to the front
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    scanned_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);  // a line longer than the buffer
  for (;;) {
    ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno != EINTR)
      throw jsonl_error(name_, number_ + 1, {},
                        std::string("cannot read: ") + std::strerror(errno));
  }
}

bool line_file::next(file_line& out) {
  for (;;) {
    if (auto* nl =
            static_cast<const char*>(std::memchr(buf_.data() + scanned_, '\n', end_ - scanned_))) {
      auto at = static_cast<std::size_t>(nl - buf_.data());
      out = {{buf_.data() + begin_, at - begin_}, ++number_, offset_, true};
      offset_ += at + 1 - begin_;
      begin_ = scanned_ = at + 1;
      return true;
    }
    scanned_ = end_;
    if (!fill()) break;
  }
  if (begin_ == end_) return false;
  out = {{buf_.data() + begin_, end_ - begin_}, ++number_, offset_, false};
  offset_ += end_ - begin_;
  begin_ = scanned_ = end_;
  return true;
}

boost::json::parse_options row_parse_options() noexcept {
  boost::json::parse_options o;
  o.max_depth = 1000;
  return o;
}

boost::json::value parse_row(std::string_view text) {
  return boost::json::parse(boost::json::string_view(text.data(), text.size()), {},
                            row_parse_options());
}

bool is_blank(std::string_view line) noexcept {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

std::string invalid_json_message(std::size_t used, const boost::system::error_code& ec) {
  return "invalid JSON at column " + std::to_string(used + 1) + ": " + ec.message();
}

std::string not_an_object_message(boost::json::kind kind) {
  const char* name = "a JSON value";
  switch (kind) {
    case boost::json::kind::null:
      name = "null";
      break;
    case boost::json::kind::bool_:
      name = "a boolean";
      break;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      name = "a number";
      break;
    case boost::json::kind::string:
      name = "a string";
      break;
    case boost::json::kind::array:
      name = "an array";
      break;
    case boost::json::kind::object:
      name = "an object";
      break;
  }
  return std::string("row is ") + name + ", not a JSON object";
}

}  // namespace sluice::detail
