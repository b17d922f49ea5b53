// The command template of `sluice run`: GNU parallel's replacement strings, JSON fields,
// the implicit last argument, shell quoting, and the errors that come before anything runs.
#include "placeholders.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace sluice::cli {
namespace {

namespace json = boost::json;
using args = std::vector<std::string>;

struct expansion {
  args command;
  std::string input;
  args expected;
};

TEST(Placeholders, GnuParallelsReplacementStrings) {
  const std::vector<expansion> table = {
      {{"echo", "{}"}, "dir/sub/file.tar.gz", {"echo", "dir/sub/file.tar.gz"}},
      {{"echo", "{.}"}, "dir/sub/file.tar.gz", {"echo", "dir/sub/file.tar"}},
      {{"echo", "{/}"}, "dir/sub/file.tar.gz", {"echo", "file.tar.gz"}},
      {{"echo", "{//}"}, "dir/sub/file.tar.gz", {"echo", "dir/sub"}},
      {{"echo", "{/.}"}, "dir/sub/file.tar.gz", {"echo", "file.tar"}},
      {{"echo", "{.}"}, "dir.d/file", {"echo", "dir.d/file"}},
      {{"echo", "{.}"}, ".hidden", {"echo", ".hidden"}},
      {{"echo", "{//}"}, "file", {"echo", "."}},
      {{"echo", "{//}"}, "/file", {"echo", "/"}},
      {{"echo", "{/}"}, "file", {"echo", "file"}},
      {{"echo", "{#}-{%}"}, "x", {"echo", "7-2"}},
      {{"cp", "{}", "{.}.bak"}, "a.txt", {"cp", "a.txt", "a.bak"}},
      {{"echo", "pre{}post"}, "x", {"echo", "prexpost"}},
      {{"echo", "a{b", "c}"}, "x", {"echo", "a{b", "c}", "x"}},  // no placeholder: appended
      {{"gzip", "-9"}, "f.txt", {"gzip", "-9", "f.txt"}},
      {{"echo", "{}"}, "; rm -rf ~", {"echo", "; rm -rf ~"}},  // one argument, no shell
      {{"echo", "{}"}, "", {"echo", ""}},
  };
  for (const auto& row : table) {
    command_template t(row.command, false);
    EXPECT_EQ(t.expand({row.input}, 7, 2), row.expected) << row.command[1] << " on " << row.input;
  }
}

TEST(Placeholders, JsonFieldsAndTheWholeRow) {
  json::object row =
      json::parse(R"({"id":7,"user":{"name":"ann"},"url":"http://x/a b"})").as_object();
  std::string text = json::serialize(row);
  command_template t({"fetch", "{url}", "--as", "{user.name}", "--id={id}", "{}"}, true);
  EXPECT_EQ(t.expand({text, &row}, 1, 1),
            (args{"fetch", "http://x/a b", "--as", "ann", "--id=7", text}));
  EXPECT_EQ(t.fields(), (args{"url", "user.name", "id"}));
}

TEST(Placeholders, AMissingFieldIsNamed) {
  json::object row = json::parse(R"({"id":7,"user":"ann"})").as_object();
  command_template t({"x", "{name}"}, true);
  try {
    (void)t.expand({"", &row}, 1, 1);
    FAIL() << "no error";
  } catch (const template_error& e) {
    EXPECT_STREQ(e.what(), "field \"name\" is missing");
  }
  command_template nested({"x", "{user.name}"}, true);
  EXPECT_THROW((void)nested.expand({"", &row}, 1, 1), template_error);
}

TEST(Placeholders, FieldsNeedJsonLinesInputAndACommandIsNeeded) {
  try {
    command_template t({"echo", "{name}"}, false);
    FAIL() << "no error";
  } catch (const template_error& e) {
    EXPECT_STREQ(e.what(),
                 "unknown placeholder {name} (fields like {name} need JSON Lines input: --jsonl)");
  }
  EXPECT_THROW(command_template({}, false), template_error);
}

TEST(Placeholders, ShellQuotingForShC) {
  EXPECT_EQ(shell_quote("it's; rm -rf ~"), R"('it'\''s; rm -rf ~')");
  command_template t({"echo {} | wc -c"}, false);
  EXPECT_EQ(t.expand({"$(reboot)"}, 1, 1, true), (args{"echo '$(reboot)' | wc -c"}));
}

}  // namespace
}  // namespace sluice::cli
