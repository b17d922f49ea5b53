// sluice run's GNU parallel and xargs input forms (several ::: lists, ::::, -a, -0, -d,
// --colsep, -n, -N, -X, -m, --tag) with what sluice adds to them: each task's identity in the
// results file, resume, --dedupe, --shard, and bytes that are not UTF-8. What parallel itself
// prints is compared in parallel_parity_test.cpp.
#include "cli_support.hpp"

#include <sluice/bytes_field.hpp>

namespace sluice::test {
namespace {

TEST(InputForms, ATaskOfSeveralArgumentsIsKeyedByTheirArrayAndResumes) {
  temp_dir d;
  const strings args{"run", "-o", "r.jsonl", "--",  "sh", "-c", "echo $0$1 >> ran", "{1}", "{2}",
                     ":::", "a",  "b",       ":::", "1",  "2"};
  auto r = sluice(d, args);
  ASSERT_EQ(r.code, 0) << r.err;
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 4u);
  strings keys;
  for (const auto& row : rows) {
    keys.push_back(json::serialize(row.at("key")));
    EXPECT_EQ(row.at("input"), row.at("key"));  // the arguments themselves
  }
  EXPECT_EQ(sorted(keys),
            (strings{R"(["a","1"])", R"(["a","2"])", R"(["b","1"])", R"(["b","2"])"}));
  // A rerun with one more list item runs only the new combinations.
  strings more = args;
  more.push_back("3");
  r = sluice(d, more);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sorted(lines_of(read_file(d / "ran"))), (strings{"a1", "a2", "a3", "b1", "b2", "b3"}));
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 6u);
}

TEST(InputForms, GroupsAndColumnsAreKeyedByTheirArguments) {
  temp_dir d;
  write_file(d / "t.tsv", "a\tb\nc\td\n");
  auto r = sluice(d, {"run", "-o", "c.jsonl", "--colsep", "\t", "-i", "t.tsv", "--", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  strings keys;
  for (const auto& row : rows_of(d / "c.jsonl")) keys.push_back(json::serialize(row.at("key")));
  EXPECT_EQ(sorted(keys), (strings{R"(["a","b"])", R"(["c","d"])"}));
  r = sluice(d, {"run", "-k", "-n", "2", "-o", "n.jsonl", "--", "true", ":::", "x", "y", "z"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = rows_of(d / "n.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(json::serialize(rows[0].at("key")), R"(["x","y"])");
  EXPECT_EQ(rows[1].at("key"), "z");  // a group of one is keyed as one argument
}

TEST(InputForms, NamesThatAreNotUtf8RoundTripThroughNullSeparatedInput) {
  temp_dir d;
  // Names with a newline, a byte that is not UTF-8 and a space, NUL-separated (find -print0).
  const std::string names[] = {"a\nb", std::string("caf\xe9"), "x y"};
  std::string in;
  for (const auto& n : names) in += n + '\0';
  auto r = sluice(d, {"run", "-0", "-o", "r.jsonl", "--", "printf", "%s", "{}"}, in);
  ASSERT_EQ(r.code, 0) << r.err;
  strings got;
  for (const auto& row : rows_of(d / "r.jsonl")) {
    EXPECT_EQ(get_bytes(row, "stdout"), get_bytes(row, "input"));  // exact, every byte
    got.push_back(*get_bytes(row, "input"));
  }
  EXPECT_EQ(sorted(got), sorted(strings(std::begin(names), std::end(names))));
  // A rerun skips all three: their identity is their exact bytes.
  r = sluice(d, {"run", "-0", "-o", "r.jsonl", "--stats", "--", "printf", "%s", "{}"}, in);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("0 tasks (0 failed, 3 skipped"), std::string::npos) << r.err;
  // Several arguments, one not UTF-8: the key is lossy, key_b64 exact (NUL between them).
  r = sluice(d, {"run", "-o", "m.jsonl", "--", "true", ":::", std::string("\xff"), ":::", "b"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto row = rows_of(d / "m.jsonl").at(0);
  EXPECT_EQ(json::serialize(row.at("key")), "[\"\xef\xbf\xbd\",\"b\"]");
  EXPECT_EQ(base64_decode(str(row.at("key_b64"))), std::string("\xff\0b", 3));
  EXPECT_EQ(row.at("input_b64"), row.at("key_b64"));
}

TEST(InputForms, DedupeAndShardApplyToCombinations) {
  temp_dir d;
  // Two lists make ["a","1"] twice: --dedupe runs it once and writes a row for each.
  auto r = sluice(d, {"run", "--dedupe", "-o", "r.jsonl", "--", "sh", "-c", "echo $0$1 >> ran",
                      "{1}", "{2}", ":::", "a", "a", ":::", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines_of(read_file(d / "ran")), (strings{"a1"}));
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 2u);
  // Two shards of a 3 x 3 product: every combination once, in one of them.
  strings all;
  for (const char* s : {"0/2", "1/2"}) {
    r = sluice(d, {"run", "-k", "--shard", s, "--", "echo", "{1}{2}", ":::", "a", "b", "c",
                   ":::", "1", "2", "3"});
    ASSERT_EQ(r.code, 0) << r.err;
    for (auto& l : lines_of(r.out)) all.push_back(l);
  }
  EXPECT_EQ(sorted(all), (strings{"a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2", "c3"}));
}

TEST(InputForms, PackingKeepsEveryCommandLineWithinTheLimit) {
  temp_dir d;
  std::string in;
  for (int i = 0; i < 5000; ++i) in += std::to_string(i) + "\n";
  // -X: each line of output is one command; -s bounds it, and no argument is lost.
  auto r = sluice(d, {"run", "-k", "-X", "-s", "2000", "--", "echo", "n{}"}, in);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = lines_of(r.out);
  EXPECT_GT(lines.size(), 10u);
  std::size_t words = 0;
  for (const auto& l : lines) {
    EXPECT_LE(l.size() + 5, 2000u);  // "echo " and the arguments
    words += static_cast<std::size_t>(std::count(l.begin(), l.end(), ' ')) + 1;
  }
  EXPECT_EQ(words, 5000u);
  // By default, up to what the system allows: 5000 short names in one command.
  r = sluice(d, {"run", "-m", "--", "echo"}, in);
  EXPECT_EQ(lines_of(r.out).size(), 1u);
}

TEST(InputForms, RecordsOfASlowPipeRunAsTheyArriveWhateverTheDelimiter) {
  // The producer writes one record, waits (10 s at most) for its task to have run, then
  // writes the next: a reader that waited for a block or the end would make it give up.
  temp_dir d;
  for (const char* delimiter : {"XY", ","}) {
    const std::string delim = delimiter;
    const std::string producer = "printf 'a" + delim +
                                 "'; for i in $(seq 100); do [ -e a.ran ] && echo seen > saw && "
                                 "break; sleep 0.1; done; printf 'b" +
                                 delim + "'";
    const std::string line = "rm -f a.ran saw; (" + producer + ") | " + SLUICE_CLI +
                             " run -j 1 -d " + delimiter + " -- sh -c 'touch \"$0\".ran' {}";
    auto r = sluice_shell(d, line);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(read_file(d / "saw"), "seen\n") << "-d " << delimiter;
  }
}

TEST(InputForms, TagPrefixesEachPrintedLineWithTheArguments) {
  temp_dir d;
  write_file(d / "two.sh", "printf 'x\\ny'\n");
  auto r = sluice(d, {"run", "-k", "--tag", "sh", "two.sh", ":::", "a", ":::", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "a 1\tx\na 1\ty");
}

TEST(InputForms, ANulInALineIsNamedAndPassedAsBackslashZero) {
  temp_dir d;
  auto r = sluice(d, {"run", "-k", "--", "printf", "%s\\n"}, std::string("a\0b\nc\n", 6));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "a\\0b\nc\n");
  EXPECT_NE(r.err.find("<stdin> line 1: a NUL byte cannot be passed to a command"),
            std::string::npos)
      << r.err;
}

TEST(InputForms, BadFormsAreUsageErrorsAndNothingRuns) {
  temp_dir d;
  const std::pair<strings, std::string> bad[] = {
      {{"run", "--colsep", "(", "--", "touch", "ran", ":::", "a"},
       "--colsep: \"(\" is not a regular"},
      {{"run", "-n", "0", "--", "touch", "ran", ":::", "a"}, "-n: \"0\" is not allowed"},
      {{"run", "-N", "x", "--", "touch", "ran", ":::", "a"}, "-N: \"x\" is not allowed"},
      {{"run", "-0", "--jsonl", "--", "touch", "ran", ":::", "a"}, "--jsonl reads one JSON"},
      {{"run", "-0", "-d", ",", "--", "touch", "ran", ":::", "a"}, "-0 and -d both"},
      {{"run", "-d", "\\q", "--", "touch", "ran", ":::", "a"}, "unknown escape \\q"},
      {{"run", "-X", "-m", "--", "touch", "ran", ":::", "a"}, "-X and -m contradict"},
      {{"run", "-s", "100", "--", "touch", "ran", ":::", "a"}, "-s limits the command lines"},
      {{"run", "-X", "-s", "999999999", "--", "touch", "ran", ":::", "a"}, "more than this system"},
      {{"run", "--tag", "-o", "r.jsonl", "--", "touch", "ran", ":::", "a"}, "--tag marks"},
      {{"run", "--", "touch", "ran", ":::+", "a"}, ":::+ links its inputs"},
      {{"run", "--", "touch", "ran", "::::"}, ":::: needs a file"},
      {{"run", "-a", "-", "--", "touch", "ran", "::::", "-"}, "standard input (-) can be one"},
      {{"run", "--", "touch", "ran", "{0}", ":::", "a"}, "{0}: arguments are numbered from 1"},
  };
  for (const auto& [args, message] : bad) {
    auto r = sluice(d, args);
    EXPECT_EQ(r.code, 101) << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(d / "ran"));
  // A missing :::: file is bad input (102), named.
  auto r = sluice(d, {"run", "--", "touch", "ran", "::::", "missing.txt"});
  EXPECT_EQ(r.code, 102);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sluice::test
