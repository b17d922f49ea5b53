// jsonl_reader and jsonl_writer: rows, line numbers, and the bad-input catalogue.
#include "files.hpp"
#include "sluice/errors.hpp"
#include "sluice/jsonl_reader.hpp"
#include "sluice/jsonl_writer.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

namespace sluice::test {
namespace {

std::vector<std::string> collect(jsonl_reader& in, std::vector<std::size_t>* lines = nullptr) {
  std::vector<std::string> out;
  while (auto* row = in.next()) {
    out.push_back(json::serialize(*row));
    if (lines) lines->push_back(in.line());
  }
  return out;
}

std::string error_of(const std::filesystem::path& p, jsonl_read_options o = {}) {
  try {
    jsonl_reader in(p, std::move(o));
    collect(in);
  } catch (const jsonl_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(JsonlReader, StreamsRowsWithTheirLineNumbersAndSkipsBlankLines) {
  temp_dir d;
  write_file(d / "a.jsonl", "{\"a\":1}\n\n   \n{\"a\":2}\r\n{\"a\":3}");
  jsonl_reader in(d / "a.jsonl");
  std::vector<std::size_t> lines;
  EXPECT_EQ(collect(in, &lines), (std::vector<std::string>{"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"}));
  EXPECT_EQ(lines, (std::vector<std::size_t>{1, 4, 5}));
  EXPECT_EQ(in.blank_lines(), 2U);
}

TEST(JsonlReader, RowsMayNestAHundredLevelsDeep) {
  temp_dir d;
  std::string deep = "{\"a\":" + std::string(100, '[') + "1" + std::string(100, ']') + "}\n";
  write_file(d / "deep.jsonl", deep + deep);
  jsonl_reader in(d / "deep.jsonl");
  EXPECT_EQ(collect(in).size(), 2U);
}

TEST(JsonlReader, AnEmptyFileHasNoRows) {
  temp_dir d;
  write_file(d / "e.jsonl", "");
  jsonl_reader in(d / "e.jsonl");
  EXPECT_EQ(in.next(), nullptr);
}

TEST(JsonlReader, InvalidJsonNamesFileLineAndColumn) {
  temp_dir d;
  auto p = d / "bad.jsonl";
  write_file(p, "{\"a\":1}\n{\"a\":,}\n{\"a\":3}\n");
  EXPECT_EQ(error_of(p), p.string() + ":2: invalid JSON at column 6: syntax error");
  write_file(p, "{\"a\":1} x\n");
  EXPECT_EQ(error_of(p), p.string() + ":1: invalid JSON at column 9: extra data");
}

TEST(JsonlReader, ARowThatIsNotAnObjectIsAnError) {
  temp_dir d;
  auto p = d / "arr.jsonl";
  write_file(p, "[1,2]\n");
  EXPECT_EQ(error_of(p), p.string() + ":1: row is an array, not a JSON object");
  write_file(p, "\"text\"\n");
  EXPECT_EQ(error_of(p), p.string() + ":1: row is a string, not a JSON object");
}

TEST(JsonlReader, UnderPrintBadRowsAreReportedAndSkipped) {
  temp_dir d;
  auto p = d / "mixed.jsonl";
  write_file(p, "{\"a\":1}\nnope\n7\n{\"a\":4}\n");
  std::vector<std::string> said;
  jsonl_reader in(p, {on_error::print, [&](std::string_view m) { said.emplace_back(m); }});
  EXPECT_EQ(collect(in), (std::vector<std::string>{"{\"a\":1}", "{\"a\":4}"}));
  ASSERT_EQ(said.size(), 2U);
  EXPECT_EQ(said[0], p.string() + ":2: invalid JSON at column 1: syntax error");
  EXPECT_EQ(said[1], p.string() + ":3: row is a number, not a JSON object");
  EXPECT_EQ(in.skipped_rows(), 2U);
}

TEST(JsonlReader, ATornLastLineIsCalledTorn) {
  temp_dir d;
  auto p = d / "torn.jsonl";
  write_file(p, "{\"a\":1}\n{\"a\":\"unfinish");
  EXPECT_EQ(error_of(p), p.string() +
                             ":2: torn last line (no newline at the end of the file, and invalid "
                             "JSON at column 15: incomplete JSON)");
}

TEST(JsonlReader, AWholeLastRowWithoutItsNewlineIsARow) {
  temp_dir d;
  write_file(d / "n.jsonl", "{\"a\":1}\n{\"a\":2}");
  jsonl_reader in(d / "n.jsonl");
  EXPECT_EQ(collect(in).size(), 2U);
}

TEST(JsonlReader, AHundredMegabyteLineIsReadWhole) {
  temp_dir d;
  auto p = d / "big.jsonl";
  std::string big(100 << 20, 'x');
  write_file(p, "{\"a\":1}\n{\"big\":\"" + big + "\"}\n{\"a\":3}\n");
  jsonl_reader in(p);
  ASSERT_NE(in.next(), nullptr);
  auto* row = in.next();
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->at("big").as_string().size(), big.size());
  EXPECT_EQ(in.line(), 2U);
  ASSERT_NE(in.next(), nullptr);
  EXPECT_EQ(in.line(), 3U);
}

TEST(JsonlReader, AMissingFileOrADirectoryIsNamed) {
  temp_dir d;
  auto missing = d / "none.jsonl";
  EXPECT_EQ(error_of(missing), missing.string() + ": cannot open: No such file or directory");
  EXPECT_EQ(error_of(d.path()), d.path().string() + ": is a directory, not a JSON Lines file");
}

TEST(JsonlReaderDeathTest, AnUnreadableFileIsNamed) {
  temp_dir d;
  auto p = d / "secret.jsonl";
  write_file(p, "{\"a\":1}\n");
  ::chmod(p.c_str(), 0);
  // In a child that drops root (if it is root), so that the permission applies.
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(9);
        std::fputs(error_of(p).c_str(), stderr);
        std::_Exit(3);
      },
      ::testing::ExitedWithCode(3), "secret.jsonl: cannot open: Permission denied");
}

TEST(JsonlWriter, AppendsOneLinePerRowAndCreatesTheFile) {
  temp_dir d;
  auto p = d / "out.jsonl";
  {
    jsonl_writer out(p);
    out.write(json::object{{"id", 1}, {"s", "é\n"}});
    out.write_line(R"({"id":2})");
    EXPECT_EQ(out.rows_written(), 2U);
  }
  {
    jsonl_writer out(p);  // appends
    out.write(json::object{{"id", 3}});
  }
  EXPECT_EQ(read_file(p), "{\"id\":1,\"s\":\"é\\n\"}\n{\"id\":2}\n{\"id\":3}\n");
}

using syncs = std::pair<std::size_t, std::size_t>;  // before close, after close

TEST(JsonlWriter, SyncsAsItsPolicySays) {
  temp_dir d;
  auto count_syncs = [&](fsync_policy policy, int rows) {
    jsonl_writer out(d / "s.jsonl", policy);
    for (int i = 0; i < rows; ++i) out.write(json::object{{"i", i}});
    std::size_t before_close = out.syncs();
    out.close();
    return std::pair(before_close, out.syncs());
  };
  EXPECT_EQ(count_syncs(fsync_policy::each_row(), 5), syncs(5, 5));
  EXPECT_EQ(count_syncs({.every_rows = 2, .every = {}, .at_close = true}, 5), syncs(2, 3));
  EXPECT_EQ(count_syncs(fsync_policy::never(), 5), syncs(0, 0));
  // The default: by time (a second), and at close. Five quick rows: one sync, at close.
  EXPECT_EQ(count_syncs({}, 5), syncs(0, 1));
}

TEST(JsonlWriter, ADirectoryCannotBeOpenedAndSaysSo) {
  temp_dir d;
  try {
    jsonl_writer out(d.path());
    FAIL() << "no error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(d.path().string() + ": cannot open for appending", 0), 0U)
        << e.what();
  }
}

TEST(JsonlWriter, ARowThatIsNotUtf8IsNotWritten) {
  temp_dir d;
  jsonl_writer out(d / "r.jsonl");
  EXPECT_THROW(out.write({{"stdout", "caf\xe9"}}), std::invalid_argument);
  EXPECT_THROW(out.write_line("{\"x\":\"\xff\"}"), std::invalid_argument);
  const std::uint64_t at = out.write({{"ok", true}});
  EXPECT_EQ(at, 0u);
  EXPECT_EQ(out.write_line(R"({"n":2})"), 12u);  // after {"ok":true}\n
  out.close();
  EXPECT_EQ(read_file(d / "r.jsonl"), "{\"ok\":true}\n{\"n\":2}\n");
}

// A file size limit makes write() take part of a row and then fail, as a full disk does.
TEST(JsonlWriter, AWriteCutShortIsCutBackToTheLastWholeRow) {
  temp_dir d;
  const auto path = d / "r.jsonl";
  write_file(path, "{\"before\":0}\n");
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  std::string error;
  {
    jsonl_writer out(path);
    rlimit small = old;
    small.rlim_cur = 100;  // bytes
    ::setrlimit(RLIMIT_FSIZE, &small);
    try {
      for (int i = 0; i < 10; ++i) out.write({{"row", i}, {"padding", "0123456789"}});
    } catch (const std::system_error& e) {
      error = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
  }
  EXPECT_NE(error.find("cannot write"), std::string::npos) << error;
  const std::string text = read_file(path);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << text;           // no torn row: the part written was cut away
  EXPECT_EQ(read_rows(path).size(), 3u) << text;  // 13 + 2 * 33 bytes fit in 100
}

}  // namespace
}  // namespace sluice::test
