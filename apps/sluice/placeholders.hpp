// The command template of `sluice run`: each argument of COMMAND with GNU parallel's
// replacement strings ({} {.} {/} {//} {/.} {#} {%}, the positional {1} {2} ... and their forms
// {1.} {1/} {1//} {1/.}) and, for JSON Lines input, {field} / {a.b}. Parsed once, before
// anything runs, so that an unknown placeholder is an error up front; expanded per task into
// an argv (never through a shell unless asked).
//
// A task may have several arguments (several ::: lists, --colsep columns, -n groups). Then
// {} and its forms stand for all of them: as in GNU parallel, where they become separate
// shell words, each value after the first starts a new word ("x{}y" with a, b gives "xa" and
// "by"); with context replace (-X) the whole word is repeated for each ("xay" "xby"). {N} is
// the N-th argument (empty when there are fewer).
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
/// A task of several arguments has them in `args` (and `text` is them joined by spaces).
struct task_input {
  std::string_view text;
  const boost::json::object* row = nullptr;
  const std::vector<std::string>* args = nullptr;
};

/// How the template expands several arguments.
enum class multi_args {
  words,    // a command: each value after the first starts a new word (GNU parallel, -m)
  context,  // -X: a word holding {} is repeated for each argument
  joined,   // one string per part (an HTTP request's URL, headers, body): joined by spaces
};

class command_template {
 public:
  /// Parses `argv`. `fields` allows {name} / {a.b} (JSON Lines input); otherwise such a
  /// placeholder is a template_error. Throws template_error for an empty command.
  command_template(std::vector<std::string> argv, bool fields,
                   multi_args multi = multi_args::words);

  /// The argv for one task: job is {#} (1-based), slot is {%} (1-based). With no placeholder
  /// anywhere, the input is appended as the last argument (each argument, when several), as
  /// GNU parallel and xargs do. `shell_quote` quotes every substitution for `sh -c`. Throws
  /// template_error when a row lacks a field (naming it).
  [[nodiscard]] std::vector<std::string> expand(const task_input& in, std::size_t job,
                                                std::size_t slot, bool shell_quote = false) const;

  /// What one more argument adds to the length of an expanded command line (its bytes and
  /// the spaces or NULs between words), given the argument: for -X and -m packing.
  /// `quoted`: through a shell, each value in quotes.
  [[nodiscard]] std::size_t cost_of_argument(std::string_view arg, bool quoted) const;
  /// The length of the command line with no argument.
  [[nodiscard]] std::size_t base_length() const;

  /// The JSON fields the template reads ({name}, {a.b}), each once, in order of appearance.
  [[nodiscard]] const std::vector<std::string>& fields() const noexcept { return fields_; }
  [[nodiscard]] bool has_placeholders() const noexcept { return has_placeholders_; }

 private:
  enum class kind { text, arg, job, slot, field };
  enum class form { whole, no_ext, base, dir, base_no_ext };
  struct part {
    kind k;
    std::string text;      // literal text, or the field path
    form f = form::whole;  // kind::arg: {} {.} {/} {//} {/.}
    std::size_t n = 0;     // kind::arg: 0 for every argument, N for {N}
  };
  std::vector<std::vector<part>> args_;
  std::vector<std::string> fields_;
  multi_args multi_;
  bool has_placeholders_ = false;
};

/// GNU parallel's forms of a path: {.} (no extension), {/} (basename), {//} (dirname, as
/// Perl's File::Basename), {/.} (basename, no extension).
std::string_view without_extension(std::string_view s) noexcept;
std::string_view base_name(std::string_view s) noexcept;
std::string_view dir_name(std::string_view s) noexcept;

/// The value at a dotted path ("a.b") of a row, or nullptr.
const boost::json::value* find_field(const boost::json::object& row, std::string_view path);

/// `s` quoted for a POSIX shell: in single quotes, with ' as '\''.
std::string shell_quote(std::string_view s);

}  // namespace sluice::cli
