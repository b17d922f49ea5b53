#include "sluice/jsonl_reader.hpp"

#include "line_file.hpp"
#include "sluice/errors.hpp"

#include <boost/json/parser.hpp>

#include <cstdio>
#include <string>

namespace sluice {

void detail::report_line(const report_fn& report, std::string_view message) {
  if (report) {
    report(message);
    return;
  }
  std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
}

struct jsonl_reader::impl {
  impl(const std::filesystem::path& path, jsonl_read_options o) : lines(path), opts(std::move(o)) {}

  detail::line_file lines;
  jsonl_read_options opts;
  boost::json::parser parser{{}, detail::row_parse_options()};
  boost::json::value row;
  std::size_t line = 0, blank = 0, skipped = 0;

  /// Parses one line into `row`; an empty string, or what is wrong with it.
  std::string parse(const detail::file_line& l) {
    boost::json::error_code ec;
    parser.reset();
    std::size_t used = parser.write(l.text.data(), l.text.size(), ec);
    if (ec) {
      std::string what = detail::invalid_json_message(used, ec);
      if (!l.has_newline)
        what = "torn last line (no newline at the end of the file, and " + what + ")";
      return what;
    }
    row = parser.release();
    if (!row.is_object()) return detail::not_an_object_message(row.kind());
    return {};
  }
};

jsonl_reader::jsonl_reader(const std::filesystem::path& path, jsonl_read_options opts)
    : impl_(std::make_unique<impl>(path, std::move(opts))) {}
jsonl_reader::~jsonl_reader() = default;
jsonl_reader::jsonl_reader(jsonl_reader&&) noexcept = default;
jsonl_reader& jsonl_reader::operator=(jsonl_reader&&) noexcept = default;

boost::json::object* jsonl_reader::next() {
  auto& s = *impl_;
  detail::file_line l;
  while (s.lines.next(l)) {
    if (detail::is_blank(l.text)) {
      ++s.blank;
      continue;
    }
    std::string what = s.parse(l);
    if (what.empty()) {
      s.line = l.number;
      return &s.row.as_object();
    }
    jsonl_error e(s.lines.name(), l.number, {}, what);
    if (s.opts.errors == on_error::raise) throw e;
    detail::report_line(s.opts.report, e.what());
    ++s.skipped;
  }
  return nullptr;
}

std::size_t jsonl_reader::line() const noexcept {
  return impl_->line;
}
std::size_t jsonl_reader::blank_lines() const noexcept {
  return impl_->blank;
}
std::size_t jsonl_reader::skipped_rows() const noexcept {
  return impl_->skipped;
}

}  // namespace sluice
