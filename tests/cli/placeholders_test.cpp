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
      {{"echo", "{.}"}, ".hidden", {"echo", ""}},  // GNU parallel's: the dot starts the extension
      {{"echo", "{.}"}, "dir/.profile", {"echo", "dir/"}},
      {{"echo", "{/.}"}, ".bashrc", {"echo", ""}},
      {{"echo", "{//}"}, "a//b", {"echo", "a"}},  // as Perl's dirname: doubled slashes go
      {{"echo", "{//}"}, "a/b/", {"echo", "a"}},  // and trailing ones
      {{"echo", "{//}"}, "/a//b", {"echo", "/a"}},
      {{"echo", "{//}"}, "/", {"echo", "/"}},
      {{"echo", "{/}"}, "a/b/", {"echo", ""}},
      {{"echo", "{1}", "{1/}"}, "d/x.y", {"echo", "d/x.y", "x.y"}},  // one argument: {1} is it
      {{"echo", "[{2}]"}, "x", {"echo", "[]"}},                      // beyond it: empty
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

TEST(Placeholders, SeveralArgumentsAsGnuParallelMakesThem) {
  const args three{"a.x", "d/b.y", "c"};
  task_input in{"a.x d/b.y c", nullptr, &three};
  // Words: each value after the first starts a new word; appended when no placeholder.
  EXPECT_EQ(command_template({"echo", "x{}y"}, false).expand(in, 1, 1),
            (args{"echo", "xa.x", "d/b.y", "cy"}));
  EXPECT_EQ(command_template({"echo", "{/.}"}, false).expand(in, 1, 1),
            (args{"echo", "a", "b", "c"}));
  EXPECT_EQ(command_template({"echo"}, false).expand(in, 1, 1),
            (args{"echo", "a.x", "d/b.y", "c"}));
  // Positional, with forms; beyond the last: empty.
  EXPECT_EQ(command_template({"mv", "{2}", "{1.}.{3}", "[{4}]", "{2//}"}, false).expand(in, 1, 1),
            (args{"mv", "d/b.y", "a.c", "[]", "d"}));
  // -X: the word is repeated for each argument; other words stay once.
  EXPECT_EQ(command_template({"cmd", "-f{}", "{#}"}, false, multi_args::context).expand(in, 5, 1),
            (args{"cmd", "-fa.x", "-fd/b.y", "-fc", "5"}));
  // One string per part (an HTTP URL): joined by spaces.
  EXPECT_EQ(command_template({"http://h/{}"}, false, multi_args::joined).expand(in, 1, 1),
            (args{"http://h/a.x d/b.y c"}));
  // Through a shell: each value quoted on its own.
  EXPECT_EQ(command_template({"echo {}"}, false).expand(in, 1, 1, true),
            (args{"echo 'a.x'", "'d/b.y'", "'c'"}));
}

TEST(Placeholders, ANulByteReachesTheCommandAsBackslashZero) {
  // An argument cannot hold a NUL: as GNU parallel does, it becomes the two characters \0.
  const std::string with_nul("a\0b", 3);
  EXPECT_EQ(command_template({"echo", "{}"}, false).expand({with_nul}, 1, 1),
            (args{"echo", "a\\0b"}));
}

TEST(Placeholders, TheCostOfAnArgumentCountsEachPlaceItTakes) {
  // -m: the argument and a space; -X: the whole word again; appended: the argument and a space.
  EXPECT_EQ(command_template({"echo", "{}"}, false).cost_of_argument("abc", false), 4u);
  EXPECT_EQ(
      command_template({"echo", "x{}y"}, false, multi_args::context).cost_of_argument("abc", false),
      4u + 2u + 1u);
  EXPECT_EQ(command_template({"echo", "{}", "{/}"}, false).cost_of_argument("d/abc", false),
            6u + 4u);
  EXPECT_EQ(command_template({"echo"}, false).cost_of_argument("abc", false), 4u);
  EXPECT_EQ(command_template({"echo"}, false).cost_of_argument("it's", true), 4u + 2u + 3u + 1u);
  EXPECT_EQ(command_template({"echo", "-n"}, false).base_length(), 8u);
  EXPECT_THROW(command_template({"echo", "{0}"}, false), template_error);
}

}  // namespace
}  // namespace sluice::cli
