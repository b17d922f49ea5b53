// The sluice executable, run for real: arguments in, exit code, stdout, stderr and files out.
#include "../files.hpp"
#include "cli_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// ---- commands, inputs and placeholders -----------------------------------------------------

TEST(Cli, RunsTheCommandOncePerArgumentAfterTripleColon) {
  temp_dir d;
  auto r = sluice(d, {"run", "-j", "2", "--", "echo", "x{}", ":::", "a", "b c", "d"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sorted(lines_of(r.out)), (strings{"xa", "xb c", "xd"}));
}

TEST(Cli, AppendsTheInputWhenTheCommandHasNoPlaceholder) {
  temp_dir d;
  auto r = sluice(d, {"run", "-k", "echo", "-n", "pre", ":::", "1", "2"});
  EXPECT_EQ(r.out, "pre 1pre 2");
}

TEST(Cli, ReadsLinesFromStdinAndFromAFile) {
  temp_dir d;
  auto r = sluice(d, {"run", "-k", "--", "echo", "<{}>"}, "a\n\nb\r\nc");
  EXPECT_EQ(r.out, "<a>\n<>\n<b>\n<c>\n");
  write_file(d / "in.txt", "x\ny\n");
  r = sluice(d, {"run", "-k", "-i", "in.txt", "--", "echo", "{#}:{}"});
  EXPECT_EQ(r.out, "1:x\n2:y\n");
}

TEST(Cli, AnEmptyLineIsATaskAsInGnuParallelUnlessSkipEmpty) {
  // `echo "" | parallel echo x{}` prints "x": an empty line (or ::: argument) is an input.
  temp_dir d;
  write_file(d / "in.txt", "a\n\n\r\nb\n");
  auto r = sluice(d, {"run", "-k", "-i", "in.txt", "--", "echo", "{#}:x{}"});
  EXPECT_EQ(r.out, "1:xa\n2:x\n3:x\n4:xb\n");
  r = sluice(d, {"run", "-k", "--", "echo", "x{}", ":::", "a", "", "b"});
  EXPECT_EQ(r.out, "xa\nx\nxb\n");
  // Two empty lines are the empty input twice (occurrences 1 and 2); a rerun skips them.
  r = sluice(d, {"run", "-o", "r.jsonl", "-i", "in.txt", "--", "echo"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 4u);
  std::multiset<std::string> seen;
  for (auto& row : rows)
    seen.insert(str(row["key"]) + "#" + std::to_string(row["occurrence"].to_number<int>()));
  EXPECT_EQ(seen, (std::multiset<std::string>{"a#1", "#1", "#2", "b#1"}));
  r = sluice(d, {"run", "-o", "r.jsonl", "-i", "in.txt", "--", "false"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 4u);
  // --skip-empty: empty lines are not inputs ({#} numbers the tasks).
  r = sluice(d, {"run", "-k", "--skip-empty", "-i", "in.txt", "--", "echo", "{#}:x{}"});
  EXPECT_EQ(r.out, "1:xa\n2:xb\n");
  r = sluice(d, {"run", "-k", "--skip-empty", "--", "echo", "x{}", ":::", "", "a", "", "b", ""});
  EXPECT_EQ(r.out, "xa\nxb\n");
}

TEST(Cli, ExpandsGnuParallelReplacementStrings) {
  temp_dir d;
  struct row {
    std::string tmpl, input, want;
  };
  for (const auto& [tmpl, input, want] : std::vector<row>{
           {"{}", "dir/sub/file.tar.gz", "dir/sub/file.tar.gz"},
           {"{.}", "dir/sub/file.tar.gz", "dir/sub/file.tar"},
           {"{/}", "dir/sub/file.tar.gz", "file.tar.gz"},
           {"{//}", "dir/sub/file.tar.gz", "dir/sub"},
           {"{/.}", "dir/sub/file.tar.gz", "file.tar"},
           {"{#}-{%}", "x", "1-1"},
           {"a{}b", "x y", "'ax yb'"},
       }) {
    auto r = sluice(d, {"run", "--dry-run", "--", "echo", tmpl, ":::", input});
    EXPECT_EQ(r.out, "echo " + want + "\n") << tmpl;
  }
}

TEST(Cli, JsonLinesFieldsAreDetectedAndSubstituted) {
  temp_dir d;
  write_file(d / "rows.jsonl", R"({"id":1,"user":{"name":"ann"},"n":[1,2]})"
                               "\n"
                               R"({"id":2,"user":{"name":"bob"},"n":3})"
                               "\n");
  auto r = sluice(d, {"run", "-k", "-i", "rows.jsonl", "--", "echo", "{id}", "{user.name}", "{n}"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1 ann [1,2]\n2 bob 3\n");
  // A file with a line that is not an object is lines: {} is the line.
  write_file(d / "mixed.txt", "{\"id\":1}\nplain\n");
  r = sluice(d, {"run", "-k", "-i", "mixed.txt", "--", "echo", "{}"});
  EXPECT_EQ(r.out, "{\"id\":1}\nplain\n");
}

TEST(Cli, InputIsNeverInterpretedByAShell) {
  temp_dir d;
  auto r = sluice(
      d, {"run", "--", "echo", ":::", "; touch pwned1", "$(touch pwned2)", "`touch pwned3`"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(sorted(lines_of(r.out)),
            (strings{"$(touch pwned2)", "; touch pwned1", "`touch pwned3`"}));
  // --shell quotes every substitution.
  r = sluice(d, {"run", "--shell", "--", "echo {} | tr a-z A-Z", ":::", "x; touch pwned4", "'q'"});
  EXPECT_EQ(sorted(lines_of(r.out)), (strings{"'Q'", "X; TOUCH PWNED4"}));
  for (auto f : {"pwned1", "pwned2", "pwned3", "pwned4"})
    EXPECT_FALSE(std::filesystem::exists(d / f)) << f;
}

// ---- order, limits, policies ------------------------------------------------------------------

TEST(Cli, KeepOrderPrintsInInputOrderOtherwiseAsTasksFinish) {
  temp_dir d;
  const strings cmd{"--", "sh", "-c", "sleep $0; echo $0", "{}", ":::", "0.3", "0.1", "0.2"};
  strings args{"run", "-j", "3"};
  args.insert(args.end(), cmd.begin(), cmd.end());
  EXPECT_EQ(sluice(d, args).out, "0.1\n0.2\n0.3\n");
  args.insert(args.begin() + 1, "-k");
  EXPECT_EQ(sluice(d, args).out, "0.3\n0.1\n0.2\n");
}

TEST(Cli, EachTasksOutputIsPrintedWhole) {
  temp_dir d;
  // Each task writes 200 lines in pieces; no line of one may land inside another's block.
  auto r = sluice(d, {"run", "-j", "4", "--", "sh", "-c",
                      "for i in $(seq 200); do echo $0-$i; done", "{}", ":::", "a", "b", "c", "d"});
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 800u);
  for (std::size_t block = 0; block < 4; ++block)
    for (std::size_t i = 0; i < 200; ++i)
      EXPECT_EQ(lines[block * 200 + i].substr(1), "-" + std::to_string(i + 1));
}

TEST(Cli, ATimeoutKillsTheTaskAndItsChildren) {
  temp_dir d;
  const auto t0 = std::chrono::steady_clock::now();
  // The shell's child sleep would keep the pipe open for 30 s if it survived.
  auto r = sluice(d, {"run", "--timeout", "300ms", "-o", "r.jsonl", "--", "sh", "-c",
                      "sleep 30 & wait", ":::", "x"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(r.code, 1) << r.err;
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(str(rows[0]["status"]), "timeout");
  EXPECT_EQ(rows[0]["signal"], json::value(SIGTERM));
  EXPECT_GE(rows[0]["duration_ms"].to_number<double>(), 290);
}

TEST(Cli, RetriesAFailingTaskAndCountsAttempts) {
  temp_dir d;
  // Fails twice, then succeeds: a counter file per input.
  auto r = sluice(d, {"run", "--retries", "3", "--backoff", "5ms,10ms", "-o", "r.jsonl", "--", "sh",
                      "-c", "echo . >> $0.n; [ $(wc -l < $0.n) -ge 3 ]", "{}", ":::", "a", "b"});
  EXPECT_EQ(r.code, 0) << r.err;
  for (auto& row : rows_of(d / "r.jsonl")) {
    EXPECT_EQ(str(row["status"]), "ok");
    EXPECT_EQ(row["attempts"], json::value(3));
  }
  r = sluice(
      d, {"run", "--retries", "1", "--backoff", "1ms", "-o", "f.jsonl", "--", "false", ":::", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(rows_of(d / "f.jsonl")[0]["attempts"], json::value(2));
}

TEST(Cli, HaltNowKillsTheRunningTasksSoonLetsThemFinish) {
  temp_dir d;
  // Input 1 fails at once; 2 and 3 run (30 s with now, so that only a kill ends the run
  // soon, 0.5 s with soon); 4 and later never start.
  const auto tail = [](const char* seconds) {
    return strings{"--", "sh",  "-c", std::string("[ $0 = 1 ] && exit 1; sleep ") + seconds,
                   "{}", ":::", "1",  "2",
                   "3",  "4",   "5",  "6"};
  };
  strings now{"run", "-j", "3", "--halt", "now,fail=1", "-o", "now.jsonl"};
  for (auto& a : tail("30")) now.push_back(a);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(sluice(d, now).code, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);  // killed, not waited for
  auto rows = rows_of(d / "now.jsonl");
  ASSERT_EQ(rows.size(), 1u);  // the killed ones have no row: a rerun runs them
  EXPECT_EQ(str(rows[0]["key"]), "1");

  strings soon{"run", "-j", "3", "--halt", "soon,fail=1", "-o", "soon.jsonl"};
  for (auto& a : tail("0.5")) soon.push_back(a);
  EXPECT_EQ(sluice(d, soon).code, 1);
  rows = rows_of(d / "soon.jsonl");
  strings keys;
  for (auto& r : rows) keys.push_back(str(r["key"]));
  EXPECT_EQ(sorted(keys), (strings{"1", "2", "3"}));

  // success=1: stops after the first success; exit 0 (no failure).
  auto r = sluice(d, {"run", "-j", "1", "--halt", "now,success=1", "--", "echo", ":::", "a", "b"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "a\n");
  // fail=50%: after 3 tasks, 2 failed; the exit status is the percentage of the 6 that failed
  // (as GNU parallel's).
  r = sluice(d, {"run", "-j", "1", "--halt", "soon,fail=50%", "--", "sh", "-c", "exit $0", "{}",
                 ":::", "1", "0", "1", "0", "0", "0"});
  EXPECT_EQ(r.code, 33);
  // fail=1: the failing task's own exit status.
  r = sluice(d, {"run", "-j", "1", "--halt", "now,fail=1", "--", "sh", "-c", "exit $0", "{}",
                 ":::", "0", "7", "0"});
  EXPECT_EQ(r.code, 7);
}

TEST(Cli, RespectsTheRateLimit) {
  temp_dir d;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = sluice(d, {"run", "-j", "8", "-r", "20", "-o", "r.jsonl", "--", "true", ":::", "1",
                      "2",   "3",  "4", "5",  "6",  "7",  "8",       "9",  "10",   "11"});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.code, 0);
  EXPECT_GE(took, 490ms);  // 11 starts at 20/s: the last at 0.5 s
  EXPECT_LT(took, 3s);
}

// ---- results file, resume, job log ---------------------------------------------------------

TEST(Cli, WritesOneRowPerTaskWithTheDocumentedSchema) {
  temp_dir d;
  auto r = sluice(d, {"run", "-o", "r.jsonl", "--", "sh", "-c",
                      "echo out $0; echo err >&2; exit $0", "{}", ":::", "0", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");  // with -o the output goes to the rows
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  std::sort(rows.begin(), rows.end(),
            [](auto& a, auto& b) { return str(a["key"]) < str(b["key"]); });
  const strings fields{"key",    "occurrence", "input",      "status",      "exit_code", "signal",
                       "stdout", "stderr",     "started_at", "duration_ms", "attempts"};
  for (auto& row : rows) {
    strings have;
    for (auto& kv : row) have.push_back(std::string(kv.key()));
    EXPECT_EQ(have, fields);
    EXPECT_EQ(str(row["started_at"]).size(), 24u) << row["started_at"];  // 2026-11-21T16:28:31.780Z
    EXPECT_TRUE(row["duration_ms"].is_number());
    EXPECT_TRUE(row["signal"].is_null());
  }
  EXPECT_EQ(str(rows[0]["status"]), "ok");
  EXPECT_EQ(str(rows[0]["stdout"]), "out 0\n");
  EXPECT_EQ(str(rows[1]["status"]), "failed");
  EXPECT_EQ(rows[1]["exit_code"], json::value(3));
  EXPECT_EQ(str(rows[1]["stderr"]), "err\n");
  EXPECT_EQ(str(rows[1]["input"]), "3");
}

TEST(Cli, CapsTheOutputKeptInARowAndSaysSo) {
  temp_dir d;
  auto r =
      sluice(d, {"run", "--max-output", "10", "-o", "r.jsonl", "--", "seq", "{}", ":::", "1000"});
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(str(rows[0]["stdout"]).size(), 10u);
  EXPECT_EQ(rows[0]["stdout_truncated"], json::value(true));
}

TEST(Cli, ResumesByIdentityNotByPosition) {
  temp_dir d;
  write_file(d / "in.txt", "a\nb\na\n");
  auto r = sluice(d, {"run", "-o", "r.jsonl", "-i", "in.txt", "--", "echo"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 3u);  // a twice: two tasks
  // Reordered, with new inputs before and after: only the new ones run.
  write_file(d / "in.txt", "c\na\nb\na\na\nd\n");
  r = sluice(d, {"run", "-o", "r.jsonl", "-i", "in.txt", "--", "echo"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 6u);
  std::multiset<std::string> seen;
  for (std::size_t i = 3; i < rows.size(); ++i)
    seen.insert(str(rows[i]["key"]) + "#" + std::to_string(rows[i]["occurrence"].to_number<int>()));
  EXPECT_EQ(seen, (std::multiset<std::string>{"a#3", "c#1", "d#1"}));
  // Nothing left: nothing runs.
  r = sluice(d, {"run", "-o", "r.jsonl", "-i", "in.txt", "--", "false"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 6u);
}

TEST(Cli, RetryFailedRerunsOnlyTheFailures) {
  temp_dir d;
  auto r =
      sluice(d, {"run", "-o", "r.jsonl", "--", "sh", "-c", "exit $0", "{}", ":::", "0", "1", "2"});
  EXPECT_EQ(r.code, 2);
  r = sluice(d, {"run", "-o", "r.jsonl", "--", "true", ":::", "0", "1", "2"});
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 3u);  // failures are done too, without the flag
  r = sluice(d, {"run", "--retry-failed", "-o", "r.jsonl", "--", "true", ":::", "0", "1", "2"});
  EXPECT_EQ(r.code, 0);
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(sorted({str(rows[3]["key"]), str(rows[4]["key"])}), (strings{"1", "2"}));
}

TEST(Cli, JsonLinesKeyIdentifiesTheTask) {
  temp_dir d;
  write_file(d / "in.jsonl", "{\"id\":1,\"v\":\"a\"}\n{\"id\":2,\"v\":\"b\"}\n");
  auto r =
      sluice(d, {"run", "--key", "id", "-o", "r.jsonl", "-i", "in.jsonl", "--", "echo", "{v}"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0]["key"].is_int64());
  EXPECT_TRUE(rows[0]["input"].is_object());
  // Same ids with other values: done already.
  write_file(d / "in.jsonl",
             "{\"id\":2,\"v\":\"x\"}\n{\"id\":1,\"v\":\"y\"}\n{\"id\":\"1\",\"v\":\"z\"}\n");
  r = sluice(d, {"run", "--key", "id", "-o", "r.jsonl", "-i", "in.jsonl", "--", "echo", "{v}"});
  rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 3u);  // "1" is not 1
  EXPECT_EQ(str(rows[2]["stdout"]), "z\n");
}

TEST(Cli, DedupeRunsOncePerKeyAndWritesARowForEveryInput) {
  temp_dir d;
  // Key 1 is slow, so its later inputs arrive while it runs and wait for its result.
  write_file(d / "in.jsonl",
             "{\"id\":1,\"v\":\"a\"}\n{\"id\":2,\"v\":\"b\"}\n{\"id\":1,\"v\":\"c\"}\n"
             "{\"id\":3,\"v\":\"d\"}\n{\"id\":2,\"v\":\"e\"}\n{\"id\":1,\"v\":\"f\"}\n");
  const std::string script = "echo {id} >> calls; [ {id} = 1 ] && sleep 0.3; echo ran {v}";
  for (const bool keep_order : {false, true}) {
    std::filesystem::remove(d / "calls");
    std::filesystem::remove(d / "r.jsonl");
    strings args{"run", "--dedupe", "--key", "id", "-j", "4", "-o", "r.jsonl", "-i", "in.jsonl"};
    if (keep_order) args.push_back("-k");
    for (auto a : {"--shell", "--", script.c_str()}) args.push_back(a);
    auto r = sluice(d, args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(sorted(lines_of(read_file(d / "calls"))), (strings{"1", "2", "3"}));
    auto rows = rows_of(d / "r.jsonl");
    ASSERT_EQ(rows.size(), 6u);
    std::map<std::string, std::string> out_of;  // input value -> its row's stdout
    strings order;
    for (auto& row : rows) {
      out_of[str(row["input"].as_object()["v"])] = str(row["stdout"]);
      order.push_back(str(row["input"].as_object()["v"]));
      EXPECT_EQ(str(row["status"]), "ok");
    }
    EXPECT_EQ(out_of, (std::map<std::string, std::string>{{"a", "ran a\n"},
                                                          {"b", "ran b\n"},
                                                          {"c", "ran a\n"},
                                                          {"d", "ran d\n"},
                                                          {"e", "ran b\n"},
                                                          {"f", "ran a\n"}}));
    if (keep_order) {
      EXPECT_EQ(order, (strings{"a", "b", "c", "d", "e", "f"}));
    } else {
      EXPECT_EQ(order.back(), "f");  // key 1's inputs wait for its slow run
    }
    std::multiset<std::string> ids;
    for (auto& row : rows)
      ids.insert(json::serialize(row["key"]) + "#" +
                 std::to_string(row["occurrence"].to_number<int>()));
    EXPECT_EQ(ids, (std::multiset<std::string>{"1#1", "1#2", "1#3", "2#1", "2#2", "3#1"}));
  }
}

TEST(Cli, DedupeHoldsBackABoundedNumberOfInputsAndLosesNone) {
  temp_dir d;
  // More inputs of one slow key than are held back at once (1,024): reading waits, then goes on.
  std::string in;
  for (int i = 0; i < 3000; ++i) in += i % 1000 == 999 ? "b\n" : "a\n";
  auto r = sluice(d,
                  {"run", "--dedupe", "-k", "-o", "r.jsonl", "--shell", "--",
                   "echo {} >> calls; sleep 0.2; echo {}"},
                  in);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sorted(lines_of(read_file(d / "calls"))), (strings{"a", "b"}));
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 3000u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string want = i % 1000 == 999 ? "b" : "a";
    ASSERT_EQ(str(rows[i]["input"]), want) << i;  // -k: input order
    ASSERT_EQ(str(rows[i]["stdout"]), want + "\n") << i;
  }
}

TEST(Cli, DedupeResumesFromTheRowsOfEachKey) {
  temp_dir d;
  const strings run{"run",     "--dedupe", "-o",
                    "r.jsonl", "-i",       "in.txt",
                    "--shell", "--",       "echo {} >> calls; [ {} != bad ]"};
  write_file(d / "in.txt", "a\nbad\na\n");
  auto r = sluice(d, run);
  EXPECT_EQ(r.code, 1) << r.err;  // bad's one row
  EXPECT_EQ(sorted(lines_of(read_file(d / "calls"))), (strings{"a", "bad"}));
  // New inputs of known keys reuse their rows; failures count once per input.
  write_file(d / "in.txt", "a\nbad\na\nbad\na\nc\n");
  r = sluice(d, run);
  EXPECT_EQ(r.code, 1) << r.err;  // the second bad, reusing the first's failure
  EXPECT_EQ(sorted(lines_of(read_file(d / "calls"))), (strings{"a", "bad", "c"}));
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 6u);
  // --retry-failed runs bad once more, for both of its inputs.
  write_file(d / "in.txt", "a\nbad\nbad\n");
  strings retry = run;
  retry.insert(retry.begin() + 1, "--retry-failed");
  retry.back() = "echo {} >> calls";
  r = sluice(d, retry);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sorted(lines_of(read_file(d / "calls"))), (strings{"a", "bad", "bad", "c"}));
  rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 8u);
  for (std::size_t i = 6; i < 8; ++i) {
    EXPECT_EQ(str(rows[i]["key"]), "bad");
    EXPECT_EQ(str(rows[i]["status"]), "ok");
  }
  EXPECT_EQ(rows[6]["occurrence"].to_number<int>() + rows[7]["occurrence"].to_number<int>(), 3);
  // A dry run lists one command per key that would run.
  write_file(d / "in.txt", "a\nx\ny\nx\n");
  r = sluice(d, {"run", "--dedupe", "--dry-run", "-o", "r.jsonl", "-i", "in.txt", "--", "echo"});
  EXPECT_EQ(r.out, "echo x\necho y\n");
}

TEST(Cli, RepairsATornLastRowAndRerunsItsTask) {
  temp_dir d;
  auto r = sluice(d, {"run", "-o", "r.jsonl", "--", "echo", ":::", "a", "b"});
  std::string text = read_file(d / "r.jsonl");
  const auto cut = text.rfind('{');
  write_file(d / "r.jsonl", text.substr(0, cut + 12));  // the second row torn
  r = sluice(d, {"run", "-o", "r.jsonl", "--", "echo", ":::", "a", "b"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.err.find("r.jsonl:2: torn last line"), std::string::npos) << r.err;
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 2u);
}

TEST(Cli, WritesGnuParallelsJobLog) {
  temp_dir d;
  auto r = sluice(d, {"run", "-k", "-j", "1", "--joblog", "log.tsv", "--", "sh", "-c",
                      "echo hi; exit $0", "{}", ":::", "0", "2"});
  EXPECT_EQ(r.code, 1);
  auto lines = lines_of(read_file(d / "log.tsv"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand");
  auto cols = [](const std::string& l) {
    strings c;
    std::size_t s = 0;
    for (std::size_t t; (t = l.find('\t', s)) != std::string::npos; s = t + 1)
      c.push_back(l.substr(s, t - s));
    c.push_back(l.substr(s));
    return c;
  };
  auto c1 = cols(lines[1]), c2 = cols(lines[2]);
  ASSERT_EQ(c1.size(), 9u);
  EXPECT_EQ(c1[0], "1");
  EXPECT_EQ(c1[5], "3");  // bytes received
  EXPECT_EQ(c1[6], "0");
  EXPECT_EQ(c2[6], "2");
  EXPECT_EQ(c2[8], "sh -c 'echo hi; exit $0' 2");
  // Appended to on a second run, without a second header.
  sluice(d, {"run", "--joblog", "log.tsv", "--", "true", ":::", "x"});
  EXPECT_EQ(lines_of(read_file(d / "log.tsv")).size(), 4u);
}

// ---- dry run, shards ---------------------------------------------------------------------------

TEST(Cli, DryRunPrintsWhatWouldRunAndRunsNothing) {
  temp_dir d;
  auto r =
      sluice(d, {"run", "--dry-run", "-o", "r.jsonl", "--", "touch", "{}.made", ":::", "a", "b c"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "touch a.made\ntouch 'b c.made'\n");
  EXPECT_FALSE(std::filesystem::exists(d / "a.made"));
  EXPECT_FALSE(std::filesystem::exists(d / "r.jsonl"));
}

TEST(Cli, ShardsPartitionTheInputsExactlyOnce) {
  temp_dir d;
  std::string text;
  for (int i = 0; i < 300; ++i) text += "in" + std::to_string(i) + "\n";
  write_file(d / "in.txt", text);
  std::multiset<std::string> all;
  for (int s = 0; s < 3; ++s) {
    auto r = sluice(
        d, {"run", "--dry-run", "--shard", std::to_string(s) + "/3", "-i", "in.txt", "--", "echo"});
    auto lines = lines_of(r.out);
    EXPECT_GT(lines.size(), 60u);  // roughly a third each
    all.insert(lines.begin(), lines.end());
  }
  EXPECT_EQ(all.size(), 300u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 300u);
}

// ---- exit codes and bad input -------------------------------------------------------------------

TEST(Cli, ExitCodeCountsFailuresUpTo100) {
  temp_dir d;
  EXPECT_EQ(sluice(d, {"run", "--", "false", ":::", "1", "2", "3"}).code, 3);
  strings many{"run", "-j", "8", "--", "false", ":::"};
  for (int i = 0; i < 105; ++i) many.push_back(std::to_string(i));
  EXPECT_EQ(sluice(d, many).code, 100);
}

TEST(Cli, BadUsageIs101WithAMessage) {
  temp_dir d;
  struct row {
    strings args;
    std::string message;
  };
  for (const auto& [args, message] : std::vector<row>{
           {{"run"}, "no command given"},
           {{"run", "--", "echo", "{nope}", ":::", "a"}, "unknown placeholder {nope}"},
           {{"run", "--", "no-such-command-xyz", ":::", "a"},
            "no-such-command-xyz': command not found"},
           {{"run", "--timeout", "soon", "echo", ":::", "a"},
            "--timeout: \"soon\" is not a duration"},
           {{"run", "--timeout", "1e30s", "echo", ":::", "a"},  // (found by fuzz_options)
            "--timeout: \"1e30s\" is longer than 100 years"},
           {{"run", "--backoff", "1s,9e12", "echo", ":::", "a"}, "--backoff: \"9e12\" is longer"},
           {{"run", "--noop", "echo", ":::", "a"},
            "--noop runs no command, and \"echo\" was given"},
           {{"http", "--keep-header", "X_b64", ":::", "http://127.0.0.1:1/"},
            "--keep-header: \"X_b64\": names ending in _b64"},
           {{"run", "--window", "10/0s", "echo", ":::", "a"},
            "--window: \"10/0s\" needs a duration > 0 (N/DURATION"},
           {{"run", "--window", "0/1s", "echo", ":::", "a"},
            "--window: \"0/1s\" needs a whole number"},
           {{"run", "--window", "ten", "echo", ":::", "a"}, "--window: \"ten\" has no /"},
           {{"run", "--window", "5/soon", "echo", ":::", "a"},
            "--window: \"5/soon\" needs a duration after the /"},
           {{"run", "--min-gap", "0s", "echo", ":::", "a"},
            "--min-gap: \"0s\" must be more than 0"},
           {{"run", "--cost", "tokens", "echo", ":::", "a"},
            "--cost tokens gives each task a cost, and no --cost-window counts it"},
           {{"run", "--per-key-max-at-once", "2", "echo", ":::", "a"},
            "limit each key: give the key's field with --per-key"},
           {{"run", "--per-key", "user", "echo", ":::", "a"},
            "--per-key user needs a limit per key"},
           {{"run", "--per-key", "u", "--per-key-window", "5/0s", "echo", ":::", "a"},
            "--per-key-window: \"5/0s\" needs a duration > 0"},
           {{"run", "--per-key", "u", "--per-key-max-per-second", "-1", "echo", ":::", "a"},
            "--per-key-max-per-second: \"-1\" is not allowed: 0 (no limit) or a number from "
            "1e-06 to 1e+12"},
           {{"run", "--per-key", "u", "--per-key-max-at-once", "1", "--lines", "echo", ":::", "a"},
            "--per-key needs JSON Lines input, not --lines"},
           {{"run", "--per-key", "u", "--per-key-max-at-once", "1", "echo", ":::", "a"},
            "--per-key u needs JSON Lines input, and ::: is read as text lines"},
           {{"run", "-r", "1e13", "echo", ":::", "a"},
            "--max-per-second: \"1e13\" is not allowed: 0 (no limit) or a number from 1e-06 to "
            "1e+12"},
           // Every bad number: one line naming the option, the value and what is allowed.
           {{"run", "--burst", "0", "echo", ":::", "a"},
            "--burst: \"0\" is not allowed: a whole number from 1 to 4294967295"},
           {{"run", "--retries", "-1", "echo", ":::", "a"},
            "--retries: \"-1\" is not allowed: a whole number from 0 to 1000000"},
           {{"run", "--max-output", "lots", "echo", ":::", "a"},
            "--max-output: \"lots\" is not allowed: a whole number from 1 to"},
           {{"http", "--max-redirects", "x", ":::", "a"},
            "--max-redirects: \"x\" is not allowed: a whole number from 0 to 100"},
           {{"http", "--max-per-second-per-host", "nan", ":::", "a"},
            "--max-per-second-per-host: \"nan\" is not allowed"},
           {{"run", "-j", "0", "--adaptive", "echo", ":::", "a"},
            "--adaptive needs a ceiling: -j N or -r R"},
           {{"http", "--cost-window", "5/1s", ":::", "a"}, "give the field with --cost"},
           {{"run", "--halt", "later", "echo", ":::", "a"}, "--halt"},
           {{"run", "--shard", "3/3", "echo", ":::", "a"}, "--shard: \"3/3\""},
           {{"run", "--bogus", "echo"}, "bogus"},
           {{"run", "--bogus", "--", "echo", "x"}, "unknown option --bogus for sluice run"},
           {{"run", "--retrys", "3", "--", "echo", "x"},
            "unknown option --retrys for sluice run (did you mean --retries?)"},
           {{"http", "--bogus=1", ":::", "a"}, "unknown option --bogus for sluice http"},
           {{"run", "--dedupe", "echo", ":::", "a"}, "--dedupe needs -o"},
           {{"run", "--key", "id", "echo", ":::", "a"},
            "--key id needs JSON Lines input, and ::: is read as text lines (give --jsonl)"},
       }) {
    auto r = sluice(d, args);
    EXPECT_EQ(r.code, 101) << message;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(Cli, BadInputIs102NamingFileLineAndField) {
  temp_dir d;
  write_file(d / "bad.jsonl", "{\"id\":1}\n{\"id\":2,}\n");
  auto r = sluice(d, {"run", "--jsonl", "-i", "bad.jsonl", "--", "echo", "{id}"});
  EXPECT_EQ(r.code, 102);
  EXPECT_NE(r.err.find("bad.jsonl:2: invalid JSON"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");  // checked before anything runs

  write_file(d / "miss.jsonl", "{\"id\":1,\"v\":1}\n{\"id\":2}\n");
  r = sluice(d, {"run", "-i", "miss.jsonl", "--", "echo", "{v}"});
  EXPECT_EQ(r.code, 102);
  EXPECT_NE(r.err.find("miss.jsonl:2: field \"v\""), std::string::npos) << r.err;

  // Without --jsonl a line that is not a JSON object makes a file text lines; --key needs
  // JSON Lines, so that line is the error.
  write_file(d / "torn.jsonl", "{\"id\":1}\n{\"id\":\n{\"id\":3}\n");
  r = sluice(d, {"run", "--key", "id", "-i", "torn.jsonl", "--", "echo", "{id}"});
  EXPECT_EQ(r.code, 102);
  EXPECT_NE(r.err.find("torn.jsonl:2: --key id needs JSON Lines input, and this line is not a "
                       "JSON object (invalid JSON"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
  write_file(d / "names.txt", "ada\ngrace\n");
  r = sluice(d, {"run", "--key", "id", "-i", "names.txt", "--", "echo"});
  EXPECT_EQ(r.code, 102);
  EXPECT_NE(r.err.find("names.txt:1: --key id needs JSON Lines input"), std::string::npos) << r.err;

  // --cost: a row whose cost is missing, not a whole number, or more than a window allows,
  // before anything runs.
  write_file(d / "cost.jsonl", "{\"t\":5}\n{\"t\":\"5\"}\n");
  const strings cost{"http", "--cost", "t",     "--cost-window",      "10/1s",
                     "-i",   "",       "--url", "http://127.0.0.1:1/"};
  for (const auto& [rows, message] : std::vector<std::pair<std::string, std::string>>{
           {"{\"t\":5}\n{\"t\":\"5\"}\n",
            ":2: the --cost field \"t\" is \"5\", not a whole number"},
           {"{\"t\":5}\n{\"t\":2.5}\n", ":2: the --cost field \"t\" is 2.5E0, not a whole number"},
           {"{\"u\":5}\n", ":1: the --cost field \"t\" is missing"},
           {"{\"t\":11}\n",
            ":1: the --cost field \"t\" is 11, not a whole number from 1 to 10 "
            "(the least --cost-window N)"}}) {
    write_file(d / "cost.jsonl", rows);
    strings args = cost;
    args[6] = "cost.jsonl";
    r = sluice(d, args);
    EXPECT_EQ(r.code, 102) << message;
    EXPECT_NE(r.err.find("cost.jsonl" + message), std::string::npos) << r.err;
  }

  r = sluice(d, {"run", "-i", "nope.txt", "--", "echo"});
  EXPECT_EQ(r.code, 102);
  EXPECT_NE(r.err.find("nope.txt: cannot read the input: No such file"), std::string::npos)
      << r.err;

  // Streamed JSON Lines: the rows before the bad one run, then the error.
  r = sluice(d, {"run", "-j", "1", "--jsonl", "-o", "r.jsonl", "--", "echo", "{id}"},
             "{\"id\":1}\n[2]\n{\"id\":3}\n");
  EXPECT_EQ(r.code, 102);
  EXPECT_NE(r.err.find(":2: row is an array, not a JSON object"), std::string::npos) << r.err;
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 1u);
}

TEST(Cli, AnUnwritableOutputIs103AndABadResultsFileIsLeftAlone) {
  temp_dir d;
  auto r = sluice(d, {"run", "-o", "no/such/dir/r.jsonl", "--", "echo", ":::", "a"});
  EXPECT_EQ(r.code, 103);
  EXPECT_NE(r.err.find("no/such/dir/r.jsonl"), std::string::npos) << r.err;
  r = sluice(d, {"run", "--joblog", "no/such/log", "--", "echo", ":::", "a"});
  EXPECT_EQ(r.code, 103);

  const std::string text = "{\"key\":\"a\",\"status\":\"ok\"}\nnot json\n{\"key\":\"b\"}\n";
  write_file(d / "r.jsonl", text);
  r = sluice(d, {"run", "-o", "r.jsonl", "--", "echo", ":::", "a", "c"});
  EXPECT_EQ(r.code, 102);
  EXPECT_NE(r.err.find("r.jsonl:2: invalid JSON"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(d / "r.jsonl"), text);
}

TEST(Cli, HelpAndVersion) {
  temp_dir d;
  auto r = sluice(d, {"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("sluice ", 0), 0u);
  r = sluice(d, {"run", "--help"});
  EXPECT_EQ(r.code, 0);
  for (auto flag : {"--max-at-once", "--max-per-second", "--halt", "--retries", "--output",
                    "--joblog", "--shard", "Examples:", "Exit status"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

// ---- signals and crashes
// -------------------------------------------------------------------------

TEST(Cli, SigintLetsTheRunningFinishExits130AndARerunDoesTheRest) {
  temp_dir d;
  std::string text;
  for (int i = 0; i < 12; ++i) text += std::to_string(i) + "\n";
  write_file(d / "in.txt", text);
  const std::string task = "touch started.{}; sleep 0.4";
  const strings args{"run", "-j", "4", "-o", "r.jsonl", "-i", "in.txt", "--", "sh", "-c", task};
  std::size_t running = 0;
  {
    cli_run run(d, args);
    // The signal once a task has started (under ASan on a loaded machine, sluice may take
    // more than 200 ms to start: a signal before its handler is installed kills it).
    for (int i = 0; i < 500 && !std::filesystem::exists(d / "started.0"); ++i)
      std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(50ms);
    run.signal(SIGINT);
    EXPECT_EQ(run.wait(), 130) << run.err();
    // How many were running when the signal came (four, unless a slow machine, ASan under
    // load, had started fewer in 200 ms): sluice says so.
    const std::string said = "stopping: waiting for ";
    const auto at = run.err().find(said);
    ASSERT_NE(at, std::string::npos) << run.err();
    running = std::stoul(run.err().substr(at + said.size()));
    EXPECT_GE(running, 1u);
    EXPECT_LE(running, 4u);
  }
  auto rows = rows_of(d / "r.jsonl");
  EXPECT_EQ(rows.size(), running);  // the running ones finished; nothing else started
  for (auto& row : rows) EXPECT_EQ(str(row["status"]), "ok");
  auto r = sluice(d, args);
  EXPECT_EQ(r.code, 0) << r.err;
  strings keys;
  for (auto& row : rows_of(d / "r.jsonl")) keys.push_back(str(row["key"]));
  EXPECT_EQ(keys.size(), 12u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 12u);
}

TEST(Cli, SigintWhileWaitingForInputEndsTheRun) {
  // A FIFO whose writer stays open: sluice waits for a third line that never comes.
  temp_dir d;
  const auto fifo = d / "in.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int writer = ::open(fifo.c_str(), O_RDWR);
  ASSERT_GE(writer, 0);
  const std::string lines = "a\nb\n";
  ASSERT_EQ(::write(writer, lines.data(), lines.size()), ssize_t(lines.size()));
  cli_run run(d, {"run", "-o", "r.jsonl", "-i", "in.fifo", "--", "echo"});
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (lines_of(read_file(d / "r.jsonl")).size() < 2 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(rows_of(d / "r.jsonl").size(), 2u);
  const auto t0 = std::chrono::steady_clock::now();
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(), 130) << run.err();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ::close(writer);
}

TEST(Cli, ASecondSigintKillsTheRunningTasksAtOnce) {
  temp_dir d;
  cli_run run(
      d, {"run", "-j", "2", "-o", "r.jsonl", "--", "sh", "-c", "sleep 30", ":::", "a", "b", "c"});
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  run.signal(SIGINT);
  std::this_thread::sleep_for(50ms);
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(), 130);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_TRUE(rows_of(d / "r.jsonl").empty());
}

TEST(Cli, KillNineAtRandomMomentsLosesAndRepeatsNothing) {
  temp_dir d;
  std::mt19937 rng(20261121);
  std::string text;
  for (int i = 0; i < 500; ++i)
    text += "{\"id\":" + std::to_string(i) + ",\"s\":0.0" + std::to_string(10 + rng() % 41) + "}\n";
  write_file(d / "in.jsonl", text);
  const strings args{"run",     "-j", "8",        "--key", "id",    "-o",
                     "r.jsonl", "-i", "in.jsonl", "--",    "sleep", "{s}"};
  kill_nine_at_random_moments(d, args, rng, 10);
  auto r = sluice(d, args);
  EXPECT_EQ(r.code, 0) << r.err;
  std::map<std::int64_t, int> count;
  for (const auto& line : lines_of(read_file(d / "r.jsonl"))) {
    auto row = json::parse(line).as_object();  // none malformed
    EXPECT_EQ(str(row["status"]), "ok");
    ++count[row["key"].as_int64()];
  }
  EXPECT_EQ(count.size(), 500u);
  for (auto& [id, n] : count) EXPECT_EQ(n, 1) << id;
}

/// A row's start as ms since midnight UTC (its started_at, "YYYY-MM-DDTHH:MM:SS.mmmZ").
double started_ms(const json::object& row) {
  const std::string t(row.at("started_at").as_string());
  return ((std::stod(t.substr(11, 2)) * 60 + std::stod(t.substr(14, 2))) * 60 +
          std::stod(t.substr(17, 6))) *
         1000;
}

/// The most rows running at once at any start (each from started_at for duration_ms; the
/// row's times are whole ms and measured apart, so a task counts until 2 ms before its end).
std::size_t most_at_once(const std::vector<json::object>& rows) {
  std::size_t most = 0;
  for (const auto& a : rows) {
    const double t = started_ms(a);
    std::size_t n = 0;
    for (const auto& b : rows) {
      const double s = started_ms(b), e = s + b.at("duration_ms").to_number<double>() - 2;
      n += s <= t && t < e;
    }
    most = std::max(most, n);
  }
  return most;
}

TEST(Cli, AControlFileChangesTheLimitsWhileTheRunGoes) {
  temp_dir d;
  write_file(d / "ctl", "max_at_once=1\nbogus=3\n");
  std::string in;
  for (int i = 0; i < 12; ++i) in += std::to_string(i) + "\n";
  cli_run run(d, {"run", "--control", "ctl", "-o", "r.jsonl", "--", "sh", "-c", "sleep 0.3"}, in);
  // Two tasks done one at a time (sluice is up and its SIGHUP handler set), then the change.
  for (int i = 0; i < 1000 && lines_of(read_file(d / "r.jsonl")).size() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  write_file(d / "ctl", "max_at_once=4\nmax_per_second=-2\n");
  run.signal(SIGHUP);  // read at once (else within half a second)
  ASSERT_EQ(run.wait(), 0) << run.err();
  const std::string err = run.err();
  EXPECT_NE(err.find("ctl:2: \"bogus=3\": unknown limit"), std::string::npos) << err;
  EXPECT_NE(err.find("ctl:2: \"max_per_second=-2\": max_per_second takes"), std::string::npos)
      << err;
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 12u);
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return started_ms(a) < started_ms(b); });
  // One at a time until the change (the first two or three), then four at once.
  EXPECT_EQ(most_at_once({rows.begin(), rows.begin() + 2}), 1u);
  EXPECT_EQ(most_at_once(rows), 4u);
  // 12 tasks of 0.3 s: 3.6 s one at a time; about 0.6 + 0.3 * 10 / 4 with the change.
  EXPECT_LT(started_ms(rows.back()) - started_ms(rows.front()), 2600);
}

TEST(Cli, RunTakesEachTasksCostAgainstACostWindow) {
  temp_dir d;
  write_file(d / "in.jsonl", "{\"i\":1,\"t\":6}\n{\"i\":2,\"t\":6}\n{\"i\":3,\"t\":3}\n");
  auto r = sluice(d, {"run", "-j", "4", "--cost", "t", "--cost-window", "10/1s", "-k", "-o",
                      "r.jsonl", "-i", "in.jsonl", "--", "true"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 3u);
  // 6 at 0; the next 6 fits when the first leaves the window (1 s); the 3 fits beside it.
  EXPECT_GE(started_ms(rows[1]) - started_ms(rows[0]), 990);
  EXPECT_GE(started_ms(rows[2]) - started_ms(rows[0]), 990);
  EXPECT_LT(started_ms(rows[2]) - started_ms(rows[0]), 1500);
}

}  // namespace
}  // namespace sluice::test
