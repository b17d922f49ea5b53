// The command template of `sluice run`: each argument of COMMAND with GNU parallel's
// replacement strings ({} {.} {/} {//} {/.} {#} {%}) and, for JSON Lines input, {field} /
// {a.b}. Parsed once, before anything runs, so that an unknown placeholder is an error up
// front; expanded per task into an argv (never through a shell unless asked).
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::cli {

/// A placeholder the command cannot have, or a field a row lacks.
class template_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One task's input: the line (or the row's compact JSON text) and, for JSON Lines, the row.
struct task_input {
  std::string_view text;
  const boost::json::object* row = nullptr;
};

class command_template {
 public:
  /// Parses `argv`. `fields` allows {name} / {a.b} (JSON Lines input); otherwise such a
  /// placeholder is a template_error. Throws template_error for an empty command.
  command_template(std::vector<std::string> argv, bool fields);

  /// The argv for one task: job is {#} (1-based), slot is {%} (1-based). With no placeholder
  /// anywhere, the input is appended as the last argument (as GNU parallel and xargs do).
  /// `shell_quote` quotes every substitution for `sh -c`. Throws template_error when a row
  /// lacks a field (naming it).
  [[nodiscard]] std::vector<std::string> expand(const task_input& in, std::size_t job,
                                                std::size_t slot, bool shell_quote = false) const;

  /// The JSON fields the template reads ({name}, {a.b}), each once, in order of appearance.
  [[nodiscard]] const std::vector<std::string>& fields() const noexcept { return fields_; }
  [[nodiscard]] bool has_placeholders() const noexcept { return has_placeholders_; }

 private:
  enum class kind { text, whole, no_ext, base, dir, base_no_ext, job, slot, field };
  struct part {
    kind k;
    std::string text;  // literal text, or the field path
  };
  std::vector<std::vector<part>> args_;
  std::vector<std::string> fields_;
  bool has_placeholders_ = false;
};

/// The value at a dotted path ("a.b") of a row, or nullptr.
const boost::json::value* find_field(const boost::json::object& row, std::string_view path);

/// `s` quoted for a POSIX shell: in single quotes, with ' as '\''.
std::string shell_quote(std::string_view s);

}  // namespace sluice::cli
