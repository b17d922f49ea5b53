#include "placeholders.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace sluice::cli {
namespace json = boost::json;

const json::value* find_field(const json::object& row, std::string_view path) {
  const json::object* o = &row;
  for (;;) {
    auto dot = path.find('.');
    auto name = path.substr(0, dot);
    const json::value* v = o->if_contains(json::string_view(name.data(), name.size()));
    if (v == nullptr || dot == std::string_view::npos) return v;
    o = v->if_object();
    if (o == nullptr) return nullptr;
    path.remove_prefix(dot + 1);
  }
}

namespace {

// GNU parallel's path transformations.
std::string_view basename_of(std::string_view s) {
  auto slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

std::string dirname_of(std::string_view s) {
  auto slash = s.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(s.substr(0, slash));
}

std::string_view without_ext(std::string_view s) {
  auto slash = s.rfind('/');
  auto dot = s.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return s;
  if (dot == (slash == std::string_view::npos ? 0 : slash + 1)) return s;  // ".hidden"
  return s.substr(0, dot);
}

bool is_field_path(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

// The value at a dotted path of a row, as an argument: strings as they are, anything else
// as compact JSON.
std::string field_text(const json::object& row, const std::string& path) {
  const json::value* v = find_field(row, path);
  if (v == nullptr) throw template_error("field \"" + path + "\" is missing");
  if (const json::string* s = v->if_string()) return std::string(s->data(), s->size());
  return json::serialize(*v);
}

}  // namespace

command_template::command_template(std::vector<std::string> argv, bool fields) {
  if (argv.empty()) throw template_error("no command given (put it after --)");
  for (const auto& arg : argv) {
    std::vector<part> parts;
    std::string literal;
    for (std::size_t i = 0; i < arg.size();) {
      auto close = arg[i] == '{' ? arg.find('}', i + 1) : std::string::npos;
      if (close == std::string::npos) {
        literal += arg[i++];
        continue;
      }
      std::string_view name(arg.data() + i + 1, close - i - 1);
      kind k;
      if (name.empty())
        k = kind::whole;
      else if (name == ".")
        k = kind::no_ext;
      else if (name == "/")
        k = kind::base;
      else if (name == "//")
        k = kind::dir;
      else if (name == "/.")
        k = kind::base_no_ext;
      else if (name == "#")
        k = kind::job;
      else if (name == "%")
        k = kind::slot;
      else if (is_field_path(name))
        k = kind::field;
      else {
        literal += arg[i++];  // not a placeholder: "{" is literal (as in "a{b c}")
        continue;
      }
      if (k == kind::field && !fields)
        throw template_error("unknown placeholder {" + std::string(name) +
                             "} (fields like {name} need JSON Lines input: --jsonl)");
      if (!literal.empty()) parts.push_back({kind::text, std::exchange(literal, {})});
      parts.push_back({k, k == kind::field ? std::string(name) : std::string()});
      if (k == kind::field && std::find(fields_.begin(), fields_.end(), name) == fields_.end())
        fields_.emplace_back(name);
      has_placeholders_ = true;
      i = close + 1;
    }
    if (!literal.empty() || parts.empty()) parts.push_back({kind::text, std::move(literal)});
    args_.push_back(std::move(parts));
  }
}

std::vector<std::string> command_template::expand(const task_input& in, std::size_t job,
                                                  std::size_t slot, bool quote) const {
  auto sub = [quote](std::string s) { return quote ? shell_quote(s) : s; };
  std::vector<std::string> out;
  out.reserve(args_.size() + 1);
  for (const auto& parts : args_) {
    std::string arg;
    for (const auto& p : parts) {
      switch (p.k) {
        case kind::text:
          arg += p.text;
          break;
        case kind::whole:
          arg += sub(std::string(in.text));
          break;
        case kind::no_ext:
          arg += sub(std::string(without_ext(in.text)));
          break;
        case kind::base:
          arg += sub(std::string(basename_of(in.text)));
          break;
        case kind::dir:
          arg += sub(dirname_of(in.text));
          break;
        case kind::base_no_ext:
          arg += sub(std::string(without_ext(basename_of(in.text))));
          break;
        case kind::job:
          arg += std::to_string(job);
          break;
        case kind::slot:
          arg += std::to_string(slot);
          break;
        case kind::field:
          if (in.row == nullptr) throw template_error("{" + p.text + "} needs a JSON row");
          arg += sub(field_text(*in.row, p.text));
          break;
      }
    }
    out.push_back(std::move(arg));
  }
  if (!has_placeholders_) out.push_back(sub(std::string(in.text)));
  return out;
}

std::string shell_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  q += '\'';
  return q;
}

}  // namespace sluice::cli
