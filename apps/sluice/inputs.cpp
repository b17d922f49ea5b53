#include "inputs.hpp"

#include "arguments.hpp"

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
  // A ::: list of JSON objects, a JSON Lines file or stream, or text arguments.
  std::variant<std::monostate, std::vector<std::string>, jsonl_reader, argument_reader> from;
  std::size_t arg = 0;
  std::vector<std::string> args;  // (reused for each task)
};

namespace {

std::string source_name(const source_spec& s) {
  return s.is_list ? ":::" : s.file == "-" ? "<stdin>" : s.file;
}

grouping grouping_of(const run_config& c, const command_template* t) {
  grouping g;
  g.per_task = c.per_task;
  g.pack = c.pack;
  g.max_chars = c.max_chars;
  if (t != nullptr) {
    g.cost_of = [t, shell = c.shell](const std::string& a) {
      return t->cost_of_argument(a, shell);
    };
    g.base_length = t->base_length();
  } else {
    g.cost_of = [](const std::string& a) { return a.size() + 1; };
  }
  return g;
}

}  // namespace

input_reader::input_reader(const run_config& c, const std::vector<std::string>& fields,
                           const command_template* command)
    : key_field_(c.key),
      cost_field_(c.cost_field),
      per_key_field_(c.per_key_field),
      fields_(fields),
      src_(std::make_unique<source>()) {
  for (const auto& w : c.cost_windows) most_cost_ = std::min(most_cost_, double(w.count));
  const source_spec& first = c.sources.front();
  name_ = source_name(first);
  // JSON Lines: one source, each record one object (flags.cpp refuses the rest).
  const bool one_record_a_task = c.sources.size() == 1 && c.colsep.empty() && c.per_task == 1 &&
                                 !c.pack && c.delimiter.empty();
  jsonl_ = c.format == input_format::jsonl;
  const bool file = !first.is_list && is_regular_file(first.file);
  if (one_record_a_task && first.is_list && jsonl_) {
    std::vector<std::string> args = first.args;
    if (c.skip_empty) std::erase(args, std::string());
    total_ = args.size();
    src_->from.emplace<std::vector<std::string>>(std::move(args));
    return;
  }
  if (one_record_a_task && file && c.format != input_format::lines) {
    // Read once up front: decides the format (detect), counts the rows and checks every one
    // of them, so that a bad row is an error before anything runs.
    try {
      std::size_t rows = 0;
      jsonl_reader in(first.file);
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
  if (jsonl_) {
    src_->from.emplace<jsonl_reader>(first.file == "-" ? "/dev/stdin" : first.file);
  } else {
    std::vector<record_source> sources;
    std::vector<bool> linked;
    for (const auto& s : c.sources) {
      if (s.is_list)
        sources.emplace_back(s.args, c.skip_empty);
      else
        sources.emplace_back(open_input(s.file), source_name(s), c.delimiter, c.skip_empty);
      linked.push_back(s.linked);
    }
    src_->from.emplace<argument_reader>(std::move(sources), std::move(linked), c.colsep,
                                        grouping_of(c, command));
    total_ = std::get<argument_reader>(src_->from).total();
  }
  // A set sized once for every input: no moment holding two tables while it grows.
  if (total_) seen_.reserve(*total_);
}

input_reader::~input_reader() = default;

std::optional<input_item> input_reader::next() {
  if (auto* args = std::get_if<argument_reader>(&src_->from)) {
    std::size_t number = 0;
    auto& got = src_->args;
    if (!args->next(got, number)) return std::nullopt;
    if (got.size() == 1) return make_item(std::move(got.front()), number, nullptr);
    input_item it;
    it.seq = ++seq_;
    it.line = number;
    for (const auto& a : got) {
      if (&a != &got.front()) it.text += ' ';
      it.text += a;
    }
    it.args = std::move(got);
    got = {};
    key_by_arguments(it);
    identify(it, true);
    return it;
  }
  if (auto* list = std::get_if<std::vector<std::string>>(&src_->from)) {
    if (src_->arg == list->size()) return std::nullopt;
    const std::size_t line = ++src_->arg;
    std::string text = std::move((*list)[line - 1]);
    json::value v;
    try {
      v = json::parse(text);
    } catch (const std::exception&) {
    }
    if (!v.is_object())
      throw jsonl_error(name_, line, {}, "argument \"" + text + "\" is not a JSON object");
    return make_item(std::move(text), line, &v.as_object());
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
    if (!v.is_object()) throw jsonl_error(name_, seq, {}, "the input is not a JSON object");
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
  identify(it, count);  // (a queued input brings its occurrence)
  return it;
}

void input_reader::identify(input_item& it, bool count) {
  it.key_text = json::serialize(it.key);
  if (!count) return;
  const std::uint64_t h = key_hash(it.key_b64.empty() ? it.key_text : it.key_b64);
  it.occurrence = seen_.insert(h).second ? 1 : ++again_[h] + 1;
}

void input_reader::key_by_arguments(input_item& it) {
  // Several arguments: the array of them, exact in key_b64 when one is not UTF-8.
  json::array key;
  key.reserve(it.args.size());
  bool utf8 = true;
  for (const auto& a : it.args) utf8 = utf8 && is_utf8(a);
  for (const auto& a : it.args) key.emplace_back(json::string(utf8 ? a : lossy_utf8(a)));
  if (!utf8) {
    std::string joined;
    for (const auto& a : it.args) {
      if (&a != &it.args.front()) joined.push_back('\0');
      joined += a;
    }
    it.key_b64 = base64_encode(joined);
  }
  it.key = std::move(key);
}

}  // namespace sluice::cli
