#include "placeholders.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <string>
#include <utility>

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

// GNU parallel's path forms. {.}: Perl's s:\.[^/\.]*$:: (the last dot and what follows, when
// no slash follows it: ".bashrc" gives "", "dir/.profile" "dir/").
std::string_view without_extension(std::string_view s) noexcept {
  const auto dot = s.rfind('.');
  if (dot == std::string_view::npos || s.find('/', dot) != std::string_view::npos) return s;
  return s.substr(0, dot);
}

// {/}: s:^.*/:: (what follows the last slash: "a/b/" gives "").
std::string_view base_name(std::string_view s) noexcept {
  const auto slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

// {//}: Perl's File::Basename::dirname: trailing slashes go first ("a/b/" gives "a"), then the
// slashes that end the directory ("a//b" gives "a"); the root stays "/", a bare name gives ".".
std::string_view dir_name(std::string_view s) noexcept {
  while (s.size() > 1 && s.back() == '/') s.remove_suffix(1);
  const auto slash = s.rfind('/');
  if (slash == std::string_view::npos) return ".";
  s = s.substr(0, slash + 1);
  while (s.size() > 1 && s.back() == '/') s.remove_suffix(1);
  return s;
}

namespace {

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

namespace {

// "", ".", "/", "//", "/." after {N or alone: the form; false for anything else.
bool form_of(std::string_view suffix, auto& f) {
  using F = std::remove_reference_t<decltype(f)>;
  if (suffix.empty())
    f = F::whole;
  else if (suffix == ".")
    f = F::no_ext;
  else if (suffix == "/")
    f = F::base;
  else if (suffix == "//")
    f = F::dir;
  else if (suffix == "/.")
    f = F::base_no_ext;
  else
    return false;
  return true;
}

// A NUL cannot be in an argument: as GNU parallel does, it is passed as the two characters \0.
void append_value(std::string& word, std::string_view v, bool quote) {
  std::string unnul;
  if (v.find('\0') != std::string_view::npos) [[unlikely]] {
    for (char c : v) c == '\0' ? unnul += "\\0" : unnul += c;
    v = unnul;
  }
  if (quote)
    word += shell_quote(v);
  else
    word += v;
}

}  // namespace

command_template::command_template(std::vector<std::string> argv, bool fields, multi_args multi)
    : multi_(multi) {
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
      part p{kind::text, {}};
      const auto digits = name.find_first_not_of("0123456789");
      if (form_of(name, p.f)) {
        p.k = kind::arg;
      } else if (name == "#") {
        p.k = kind::job;
      } else if (name == "%") {
        p.k = kind::slot;
      } else if (digits != 0 && form_of(name.substr(std::min(digits, name.size())), p.f)) {
        p.k = kind::arg;  // {N} and its forms
        const auto number = name.substr(0, std::min(digits, name.size()));
        if (number.size() > 9 || std::stoul(std::string(number)) == 0)
          throw template_error("{" + std::string(name) + "}: arguments are numbered from 1");
        p.n = std::stoul(std::string(number));
      } else if (is_field_path(name)) {
        p.k = kind::field;
        p.text = name;
      } else {
        literal += arg[i++];  // not a placeholder: "{" is literal (as in "a{b c}")
        continue;
      }
      if (p.k == kind::field && !fields)
        throw template_error("unknown placeholder {" + std::string(name) +
                             "} (fields like {name} need JSON Lines input: --jsonl)");
      if (!literal.empty()) parts.push_back({kind::text, std::exchange(literal, {})});
      if (p.k == kind::field && std::find(fields_.begin(), fields_.end(), name) == fields_.end())
        fields_.emplace_back(name);
      parts.push_back(std::move(p));
      has_placeholders_ = true;
      i = close + 1;
    }
    if (!literal.empty() || parts.empty()) parts.push_back({kind::text, std::move(literal)});
    args_.push_back(std::move(parts));
  }
}

namespace {

template <class Form>
std::string_view in_form(std::string_view v, Form f) noexcept {
  switch (f) {
    case Form::whole:
      return v;
    case Form::no_ext:
      return without_extension(v);
    case Form::base:
      return base_name(v);
    case Form::dir:
      return dir_name(v);
    case Form::base_no_ext:
      return without_extension(base_name(v));
  }
  return v;
}

}  // namespace

std::vector<std::string> command_template::expand(const task_input& in, std::size_t job,
                                                  std::size_t slot, bool quote) const {
  const std::size_t count = in.args ? in.args->size() : 1;
  auto arg_at = [&](std::size_t i) -> std::string_view {
    return in.args ? std::string_view((*in.args)[i]) : in.text;
  };
  std::vector<std::string> out;
  out.reserve(args_.size() + count);
  // One word of the template; `only` picks one argument for {} (context replace).
  auto build = [&](const std::vector<part>& parts, std::size_t only) {
    std::string arg;
    for (const auto& p : parts) {
      switch (p.k) {
        case kind::text:
          arg += p.text;
          break;
        case kind::arg:
          if (p.n > 0) {
            if (p.n <= count) append_value(arg, in_form(arg_at(p.n - 1), p.f), quote);
          } else if (only < count) {
            append_value(arg, in_form(arg_at(only), p.f), quote);
          } else {
            for (std::size_t i = 0; i < count; ++i) {
              if (i > 0 && multi_ == multi_args::joined) {
                arg += ' ';
              } else if (i > 0) {
                out.push_back(std::move(arg));  // each value after the first starts a word
                arg.clear();
              }
              append_value(arg, in_form(arg_at(i), p.f), quote);
            }
          }
          break;
        case kind::job:
          arg += std::to_string(job);
          break;
        case kind::slot:
          arg += std::to_string(slot);
          break;
        case kind::field:
          if (in.row == nullptr) throw template_error("{" + p.text + "} needs a JSON row");
          append_value(arg, field_text(*in.row, p.text), quote);
          break;
      }
    }
    out.push_back(std::move(arg));
  };
  for (const auto& parts : args_) {
    const bool repeat = multi_ == multi_args::context && count > 1 &&
                        std::any_of(parts.begin(), parts.end(),
                                    [](const part& p) { return p.k == kind::arg && p.n == 0; });
    if (!repeat) {
      build(parts, count);
      continue;
    }
    for (std::size_t i = 0; i < count; ++i) build(parts, i);
  }
  if (!has_placeholders_)
    for (std::size_t i = 0; i < count; ++i) {
      out.emplace_back();
      append_value(out.back(), arg_at(i), quote);
    }
  return out;
}

std::size_t command_template::cost_of_argument(std::string_view a, bool quoted) const {
  // Each place {} (or a form of it) takes the argument; a repeated word (-X) brings its text
  // again. One byte more for the space or NUL between words.
  const auto size = [quoted](std::string_view v) {
    return quoted
               ? v.size() + 2 + 3 * static_cast<std::size_t>(std::count(v.begin(), v.end(), '\''))
               : v.size();
  };
  std::size_t cost = 0;
  bool any = false;
  for (const auto& parts : args_) {
    std::size_t word = 0, values = 0;
    for (const auto& p : parts) {
      if (p.k == kind::text) word += p.text.size();
      if (p.k == kind::arg && p.n == 0) values += size(in_form(a, p.f)) + 1;
    }
    if (values == 0) continue;
    any = true;
    cost += values + (multi_ == multi_args::context ? word + 1 : 0);
  }
  return any ? cost : size(a) + 1;  // (appended, or only in {N}: counted as appended)
}

std::size_t command_template::base_length() const {
  std::size_t n = 0;
  for (const auto& parts : args_) {
    for (const auto& p : parts)
      if (p.k == kind::text) n += p.text.size();
    ++n;
  }
  return n;
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
