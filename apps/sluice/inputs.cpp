#include "inputs.hpp"

#include <sluice/bytes_field.hpp>
#include <sluice/errors.hpp>
#include <sluice/jsonl_reader.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <stdio_ext.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <variant>
#include <vector>

namespace sluice::cli {

namespace json = boost::json;

std::uint64_t key_hash(std::string_view key_text) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key_text) h = (h ^ c) * 1099511628211ull;
  return h;
}

fingerprint task_identity(std::string_view key_text, std::string_view key_b64,
                          std::uint64_t occurrence) {
  thread_local std::string id;
  id.assign(key_text);
  id.push_back('\x1f');
  id.append(key_b64);
  id.push_back('\x1f');
  id.append(reinterpret_cast<const char*>(&occurrence), sizeof occurrence);
  return fingerprint_of(id);
}

namespace {

std::string fmt_whole(double d) {
  return std::to_string(static_cast<std::uint64_t>(d));
}

// Lines of a FILE, without their '\n' (and a '\r' before it). An empty line is an input,
// as in GNU parallel, unless `skip_empty`.
class line_source {
 public:
  line_source(std::FILE* f, bool owned, bool skip_empty)
      : f_(f), owned_(owned), skip_empty_(skip_empty) {}
  ~line_source() {
    std::free(buf_);
    if (owned_) std::fclose(f_);
  }
  line_source(const line_source&) = delete;
  line_source& operator=(const line_source&) = delete;

  /// The next line and its number, or false at the end.
  bool next(std::string& out, std::size_t& number) {
    for (;;) {
      const ssize_t n = ::getline(&buf_, &cap_, f_);
      if (n < 0) {
        if (std::ferror(f_)) throw std::system_error(errno, std::generic_category(), "read");
        return false;
      }
      ++line_;
      std::size_t len = static_cast<std::size_t>(n);
      if (len > 0 && buf_[len - 1] == '\n') --len;
      if (len > 0 && buf_[len - 1] == '\r') --len;
      if (len == 0 && skip_empty_) continue;
      out.assign(buf_, len);
      number = line_;
      return true;
    }
  }

 private:
  std::FILE* f_;
  bool owned_;
  bool skip_empty_;
  char* buf_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t line_ = 0;
};

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
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

/// A row's --cost: a whole number from 1 to the least --cost-window N (12 and 12.0; not 12.5,
/// "12" or -1): a larger one would never fit.
std::uint32_t cost_of(const std::string& name, std::size_t line, const json::object& row,
                      const std::string& field, double most) {
  const json::value* v = find_field(row, field);
  if (v == nullptr)
    throw jsonl_error(name, line, field, "the --cost field \"" + field + "\" is missing");
  double d = -1;
  if (v->is_int64()) d = static_cast<double>(v->get_int64());
  if (v->is_uint64()) d = static_cast<double>(v->get_uint64());
  if (v->is_double()) d = v->get_double();
  if (!(d >= 1 && d <= most && d == std::floor(d)))
    throw jsonl_error(name, line, field,
                      "the --cost field \"" + field + "\" is " + json::serialize(*v) +
                          ", not a whole number from 1 to " + fmt_whole(most) +
                          (most < 4294967295.0 ? " (the least --cost-window N)" : ""));
  return static_cast<std::uint32_t>(d);
}

// Every row has what the run reads from it: the --key field, the template's fields, a cost.
void check_row(const std::string& name, std::size_t line, const json::object& row,
               const std::string& key, const std::vector<std::string>& fields,
               const std::string& cost, double most_cost, const std::string& per_key) {
  if (!key.empty() && find_field(row, key) == nullptr)
    throw jsonl_error(name, line, key, "the --key field \"" + key + "\" is missing");
  if (!per_key.empty() && find_field(row, per_key) == nullptr)
    throw jsonl_error(name, line, per_key, "the --per-key field \"" + per_key + "\" is missing");
  for (const auto& f : fields)
    if (find_field(row, f) == nullptr)
      throw jsonl_error(name, line, f, "field \"" + f + "\" (used by the command) is missing");
  if (!cost.empty()) (void)cost_of(name, line, row, cost, most_cost);
}

}  // namespace

struct input_reader::source {
  std::variant<std::monostate, std::vector<std::string>, line_source, jsonl_reader> from;
  std::size_t arg = 0;
};

input_reader::input_reader(const run_config& c, const std::vector<std::string>& fields)
    : key_field_(c.key),
      cost_field_(c.cost_field),
      per_key_field_(c.per_key_field),
      fields_(fields),
      src_(std::make_unique<source>()) {
  for (const auto& w : c.cost_windows) most_cost_ = std::min(most_cost_, double(w.count));
  if (c.has_args) {
    name_ = ":::";
    jsonl_ = c.format == input_format::jsonl;
    skip_empty_args_ = c.skip_empty;
    total_ = c.args.size();
    if (c.skip_empty) *total_ -= std::size_t(std::count(c.args.begin(), c.args.end(), ""));
    src_->from.emplace<std::vector<std::string>>(c.args);
    return;
  }
  name_ = c.input == "-" ? "<stdin>" : c.input;
  const bool file = c.input != "-" && is_regular_file(c.input);
  jsonl_ = c.format == input_format::jsonl;
  if (file && c.format != input_format::lines) {
    // Read once up front: decides the format (detect), counts the rows and checks every one
    // of them, so that a bad row is an error before anything runs.
    try {
      std::size_t rows = 0;
      jsonl_reader in(c.input);
      while (auto* row = in.next()) {
        check_row(name_, in.line(), *row, key_field_, fields_, cost_field_, most_cost_,
                  per_key_field_);
        ++rows;
      }
      // (A file of blank lines only holds no JSON object: lines, each an empty input, unless
      // an option needs rows.)
      const bool needs_rows = !key_field_.empty() || !fields_.empty() || !cost_field_.empty() ||
                              !per_key_field_.empty();
      if (rows > 0 || c.format == input_format::jsonl || needs_rows) {
        jsonl_ = true;
        total_ = rows;
      }
    } catch (const jsonl_error& e) {
      // A line that is not a JSON object makes the input text lines, unless --jsonl says it
      // is JSON Lines, or --key needs it to be: then that line is the error.
      if (c.format == input_format::jsonl || !e.field().empty()) throw;
      if (!key_field_.empty())
        throw jsonl_error(e.file(), e.line(), {},
                          "--key " + key_field_ +
                              " needs JSON Lines input, and this line is not a JSON object (" +
                              e.reason() + ")");
    }
  }
  if (file && !jsonl_) {
    line_source count(open_input(c.input), true, c.skip_empty);
    std::string l;
    std::size_t n = 0, rows = 0;
    while (count.next(l, n)) ++rows;
    total_ = rows;
  }
  // A set sized once for every input: no moment holding two tables while it grows.
  if (total_) seen_.reserve(*total_);
  if (jsonl_)
    src_->from.emplace<jsonl_reader>(c.input == "-" ? "/dev/stdin" : c.input);
  else
    src_->from.emplace<line_source>(open_input(c.input), c.input != "-", c.skip_empty);
}

input_reader::~input_reader() = default;

std::optional<input_item> input_reader::next() {
  std::string text;
  std::size_t line = 0;
  if (auto* args = std::get_if<std::vector<std::string>>(&src_->from)) {
    while (skip_empty_args_ && src_->arg < args->size() && (*args)[src_->arg].empty()) ++src_->arg;
    if (src_->arg == args->size()) return std::nullopt;
    line = ++src_->arg;
    text = std::move((*args)[line - 1]);
    if (!jsonl_) return make_item(std::move(text), line, nullptr);
    json::value v;
    try {
      v = json::parse(text);
    } catch (const std::exception&) {
    }
    if (!v.is_object())
      throw jsonl_error(name_, line, {}, "argument \"" + text + "\" is not a JSON object");
    return make_item(std::move(text), line, &v.as_object());
  }
  if (auto* lines = std::get_if<line_source>(&src_->from)) {
    if (!lines->next(text, line)) return std::nullopt;
    return make_item(std::move(text), line, nullptr);
  }
  auto& rows = std::get<jsonl_reader>(src_->from);
  json::object* row = rows.next();
  if (row == nullptr) return std::nullopt;
  return make_item({}, rows.line(), row);
}

input_item input_reader::queued(std::string text, std::uint32_t occurrence, std::size_t seq) {
  std::optional<input_item> it;
  if (jsonl_) {
    json::value v;
    try {
      v = json::parse(text);
    } catch (const std::exception&) {
    }
    if (!v.is_object())
      throw jsonl_error(name_, seq, {}, "entry " + std::to_string(seq) + " is not a JSON object");
    it = make_item(std::move(text), seq, &v.as_object(), false);
  } else {
    it = make_item(std::move(text), seq, nullptr, false);
  }
  it->seq = seq;
  it->occurrence = occurrence;
  return std::move(*it);
}

std::optional<input_item> input_reader::make_item(std::string text, std::size_t line,
                                                  json::object* row, bool count) {
  input_item it;
  it.seq = ++seq_;
  it.line = line;
  if (row != nullptr) {
    check_row(name_, line, *row, key_field_, fields_, cost_field_, most_cost_, per_key_field_);
    if (!cost_field_.empty()) it.cost = cost_of(name_, line, *row, cost_field_, most_cost_);
    if (!per_key_field_.empty()) {
      const json::value& k = *find_field(*row, per_key_field_);
      it.limit_key = k.is_string() ? std::string(k.as_string()) : json::serialize(k);
    }
    it.text = json::serialize(*row);
    // Copies in the default memory resource: the reader's is reused for its next row.
    const json::storage_ptr own;
    if (key_field_.empty())
      it.key = json::value(*row, own);
    else
      it.key = json::value(*find_field(*row, key_field_), own);
    it.row.emplace(*row, own);
  } else if (is_utf8(text)) {
    it.key = json::string(text);
    it.text = std::move(text);
  } else {
    it.key = json::string(lossy_utf8(text));
    it.key_b64 = base64_encode(text);
    it.text = std::move(text);
  }
  it.key_text = json::serialize(it.key);
  if (!count) return it;  // (a queued input brings its occurrence)
  const std::uint64_t h = key_hash(it.key_b64.empty() ? it.key_text : it.key_b64);
  it.occurrence = seen_.insert(h).second ? 1 : ++again_[h] + 1;
  return it;
}

}  // namespace sluice::cli
