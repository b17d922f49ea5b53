// The command template parser and its expansion: the first line is the command's words
// (separated by spaces), the second the input text, the rest a JSON row. Invariants: no crash;
// an expansion without placeholders appends the input (quoted for a shell when asked; a NUL
// in it as \0); a quoted word is in single quotes.
#include "fuzz_support.hpp"
#include "placeholders.hpp"

#include <boost/json/parse.hpp>

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto lines = fuzz::fields_of(fuzz::as_text(data, size));
  std::vector<std::string> argv;
  for (const auto& w : fuzz::fields_of(lines[0])) {  // (words by '\n' inside the first field)
    std::size_t start = 0;
    for (std::size_t sp; (sp = w.find(' ', start)) != std::string::npos; start = sp + 1)
      argv.push_back(w.substr(start, sp - start));
    argv.push_back(w.substr(start));
  }
  const std::string input = lines.size() > 1 ? lines[1] : "";
  // What reaches a command: a NUL cannot, and is passed as the two characters \0.
  std::string passed;
  for (char c : input) c == '\0' ? passed += "\\0" : passed += c;
  std::string row_text;
  for (std::size_t i = 2; i < lines.size(); ++i) row_text += lines[i];
  boost::system::error_code ec;
  boost::json::value row = boost::json::parse(row_text, ec);
  const boost::json::object* object = !ec && row.is_object() ? &row.as_object() : nullptr;
  // Several arguments: the input split at tabs, expanded in each of the three ways.
  std::vector<std::string> several;
  for (std::size_t start = 0, tab;; start = tab + 1) {
    tab = input.find('\t', start);
    several.push_back(input.substr(start, tab == std::string::npos ? tab : tab - start));
    if (tab == std::string::npos) break;
  }
  for (auto multi : {cli::multi_args::words, cli::multi_args::context, cli::multi_args::joined}) {
    try {
      cli::command_template t(argv, false, multi);
      auto out = t.expand({input, nullptr, &several}, 1, 1, false);
      fuzz::check(!out.empty(), "an expansion of several arguments has a program");
      if (!t.has_placeholders())
        fuzz::check(out.size() == argv.size() + several.size(), "each argument is appended");
      for (const auto& a : several)
        fuzz::check(t.cost_of_argument(a, true) >= t.cost_of_argument(a, false),
                    "quoting never makes an argument shorter");
    } catch (const cli::template_error&) {
    }
  }
  for (bool fields : {false, true}) {
    try {
      cli::command_template t(argv, fields);
      for (bool quote : {false, true}) {
        try {
          auto out = t.expand({input, fields ? object : nullptr}, 7, 3, quote);
          fuzz::check(!out.empty(), "an expansion has a program");
          if (!t.has_placeholders())
            fuzz::check(out.back() == (quote ? cli::shell_quote(passed) : passed) &&
                            out.size() == argv.size() + 1,
                        "no placeholder: the input is appended");
        } catch (const cli::template_error&) {
        }
      }
    } catch (const cli::template_error&) {
    }
  }
  if (object != nullptr) (void)cli::find_field(*object, input);  // --key paths: any text
  const std::string quoted = cli::shell_quote(input);
  fuzz::check(quoted.size() >= 2 && quoted.front() == '\'' && quoted.back() == '\'',
              "a quoted word is in single quotes");
  return 0;
}
