#include "sluice/detail/key_scan.hpp"

#include "line_file.hpp"
#include "sluice/errors.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace sluice::detail {
namespace json = boost::json;

std::string key_text(const json::value& key) {
  return json::serialize(key);
}

void string_key_text(std::string_view s, std::string& out) {
  // Most keys need no escaping: then their text is the string in quotes, as serialize gives.
  bool plain = true;
  for (char c : s) plain &= static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\';
  if (!plain) {
    out = json::serialize(json::string_view(s.data(), s.size()));
    return;
  }
  out.clear();
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

namespace {

// SAX handler that validates a whole row but keeps only its kind and the values of a few
// top-level fields (names[0] is the key, which must be there; the others may be absent), as
// key_text would give them. A field whose value is an object or array is flagged, and the
// caller parses that (rare) row again as a DOM.
struct key_handler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::vector<std::string_view> names;
  int depth = 0;
  json::kind top = json::kind::object;
  int at = -1;                    // the field whose value comes next (the last member name's)
  std::vector<std::string> text;  // key_text of each field's value; empty: not found
  std::vector<char> composite;    // the field's value is an object or array
  bool any_composite = false;
  std::string part;  // a member name or a field's string value, as it arrives

  key_handler(std::string_view key, std::span<const std::string_view> also) : names{key} {
    names.insert(names.end(), also.begin(), also.end());
    text.resize(names.size());
    composite.resize(names.size());
  }

  [[nodiscard]] bool found(std::size_t i) const { return !text[i].empty(); }

  int mine() {  // the field whose value is now starting, if any (consumes the flag)
    const int m = depth == 1 ? at : -1;
    at = -1;
    return m;
  }
  // A scalar value: its key_text is written into the field's string (no allocation once
  // the string has room), as json::serialize writes it.
  template <class Write>
  void scalar(json::kind k, Write write) {
    if (depth == 0) top = k;
    if (const int m = mine(); m >= 0) {
      write(text[m]);
      composite[m] = false;
    }
  }
  template <class Int>
  void integer(json::kind k, Int v) {
    scalar(k, [v](std::string& out) {
      char digits[24];
      const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
      out.assign(digits, end);
    });
  }
  void open(json::kind k) {
    if (depth == 0) top = k;
    if (const int m = mine(); m >= 0) {
      text[m].assign(1, '?');  // found; its text comes from a DOM parse of the row
      composite[m] = any_composite = true;
    }
    ++depth;
  }
  void member(std::string_view name) {
    at = -1;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) {
        at = static_cast<int>(i);
        return;
      }
  }

  bool on_document_begin(json::error_code&) {
    depth = 0;
    at = -1;
    for (auto& t : text) t.clear();
    any_composite = false;
    top = json::kind::object;
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open(json::kind::object);
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    --depth;
    return true;
  }
  bool on_array_begin(json::error_code&) {
    open(json::kind::array);
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    --depth;
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (depth == 1) part.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (depth == 1) {
      if (part.empty()) {
        member({s.data(), s.size()});
      } else {
        part.append(s.data(), s.size());
        member(part);
        part.clear();
      }
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (depth == 1 && at >= 0) part.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    if (depth == 0) top = json::kind::string;
    const int m = mine();
    if (m < 0) return true;
    if (part.empty()) {
      string_key_text({s.data(), s.size()}, text[m]);
    } else {
      part.append(s.data(), s.size());
      string_key_text(part, text[m]);
      part.clear();
    }
    composite[m] = false;
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t v, json::string_view, json::error_code&) {
    integer(json::kind::int64, v);
    return true;
  }
  bool on_uint64(std::uint64_t v, json::string_view, json::error_code&) {
    integer(json::kind::uint64, v);
    return true;
  }
  bool on_double(double v, json::string_view, json::error_code&) {
    scalar(json::kind::double_, [v](std::string& out) { out = json::serialize(json::value(v)); });
    return true;
  }
  bool on_bool(bool v, json::error_code&) {
    scalar(json::kind::bool_, [v](std::string& out) { out.assign(v ? "true" : "false"); });
    return true;
  }
  bool on_null(json::error_code&) {
    scalar(json::kind::null, [](std::string& out) { out.assign("null"); });
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

void bad_input(on_error errors, const report_fn& report, const jsonl_error& e) {
  if (errors == on_error::raise) throw e;
  report_line(report, e.what());
}

scan_result scan_keys(const std::filesystem::path& path, std::string_view key_name,
                      const std::function<void(const keyed_row&)>& on_row,
                      const std::function<void(const jsonl_error&)>& on_bad,
                      std::span<const std::string_view> also) {
  line_file lines(path);
  json::basic_parser<key_handler> p(row_parse_options(), key_name, also);
  scan_result out;
  file_line l;
  while (lines.next(l)) {
    if (is_blank(l.text)) {
      ++out.blank_lines;
      if (!l.has_newline) out.needs_newline = true;  // keeps the next row on a line of its own
      continue;
    }
    // A last line without its '\n', row or bad row (reported and kept under on_error::print),
    // gets one before anything is appended, else the next row would be glued onto it (a torn
    // line is cut away instead).
    if (!l.has_newline) out.needs_newline = true;
    json::error_code ec;
    p.reset();
    std::size_t used = p.write_some(false, l.text.data(), l.text.size(), ec);
    if (!ec && !is_blank(l.text.substr(used))) ec = json::error::extra_data;
    std::string what;
    if (ec) {
      if (!l.has_newline) {  // what a crash in the middle of a write leaves
        out.torn_line = l.number;
        out.torn_offset = l.offset;
        out.torn_bytes = l.text.size();
        break;
      }
      what = invalid_json_message(used, ec);
    } else if (p.handler().top != json::kind::object) {
      what = not_an_object_message(p.handler().top);
    } else if (!p.handler().found(0)) {
      on_bad(jsonl_error(lines.name(), l.number, std::string(key_name),
                         "field \"" + std::string(key_name) + "\" is missing"));
      ++out.bad_rows;
      continue;
    }
    if (!what.empty()) {
      on_bad(jsonl_error(lines.name(), l.number, {}, what));
      ++out.bad_rows;
      continue;
    }
    auto& h = p.handler();
    if (h.any_composite) {
      const json::value row = parse_row(l.text);
      for (std::size_t i = 0; i < h.names.size(); ++i)
        if (h.composite[i]) h.text[i] = key_text(row.as_object().at(h.names[i]));
    }
    ++out.rows;
    on_row({l.text, l.number, l.offset, h.text[0], std::span(h.text).subspan(1)});
  }
  return out;
}

std::unique_ptr<jsonl_writer> open_for_append(const std::filesystem::path& path,
                                              const scan_result& scan, fsync_policy sync,
                                              const report_fn& report, file_lock lock) {
  if (scan.torn_line != 0) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(scan.torn_offset)) != 0 ||
        ::fdatasync(fd) != 0) {
      int err = errno;
      if (fd >= 0) ::close(fd);
      throw jsonl_error(path.string(), scan.torn_line, {},
                        std::string("cannot cut the torn last line away: ") + std::strerror(err));
    }
    ::close(fd);
    report_line(report, path.string() + ":" + std::to_string(scan.torn_line) +
                            ": torn last line (" + std::to_string(scan.torn_bytes) +
                            " bytes, no newline, not valid JSON) cut away; resuming");
  }
  auto out = std::make_unique<jsonl_writer>(path, sync, std::move(lock));
  if (scan.needs_newline && scan.torn_line == 0) out->write_raw("\n");
  return out;
}

}  // namespace sluice::detail
