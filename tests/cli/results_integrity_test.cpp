// Results files that never break, tried on the real binary: bytes that are not UTF-8 in and
// out, one writer per file, a write cut short by a full disk, kill -9 with binary output.
#include "../files.hpp"
#include "cli_support.hpp"

#include <sluice/bytes_field.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

/// Python's json.loads on each line decoded as strict UTF-8 (the judge a user's script is):
/// prints one line per row, "key-bytes-hex stdout-bytes-hex stderr-bytes-hex", from the
/// *_b64 fields when present. Fails (non-zero, traceback on stderr) on any row that is not
/// strict UTF-8 JSON.
std::string python_rows(const temp_dir& d, const std::string& file) {
  write_file(d / "check.py", R"(import base64, json, sys
def raw(row, name):
    if name + "_b64" in row:
        return base64.b64decode(row[name + "_b64"], validate=True)
    return row.get(name, "").encode("utf-8")
for line in open(sys.argv[1], "rb"):
    row = json.loads(line.decode("utf-8", errors="strict"))
    print(raw(row, "key").hex(), raw(row, "stdout").hex(), raw(row, "stderr").hex())
)");
  const std::string cmd = "python3 " + (d / "check.py").string() + " " + (d / file).string();
  std::FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << "python could not read every row of " << file;
  return out;
}

std::string hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string h;
  for (unsigned char b : bytes) {
    h.push_back(digits[b >> 4]);
    h.push_back(digits[b & 15]);
  }
  return h;
}

std::string all_bytes() {
  std::string s;
  for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
  return s;
}

TEST(ResultsIntegrity, BinaryStdoutAndStderrAreStrictJsonAndDecodeExactly) {
  temp_dir d;
  write_file(d / "bytes.bin", all_bytes());
  // Task k prints bytes.bin from byte k on, to stdout and to stderr: every byte value, in
  // every position of a UTF-8 sequence.
  std::string inputs;
  for (int k = 1; k <= 256; ++k) inputs += std::to_string(k) + "\n";
  write_file(d / "in.txt", inputs);
  const strings args{"run", "-o",     "r.jsonl",
                     "-i",  "in.txt", "--",
                     "sh",  "-c",     "tail -c +$1 bytes.bin; tail -c +$1 bytes.bin >&2",
                     "_",   "{}"};
  auto r = sluice(d, args);
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<std::string> seen;
  for (const auto& line : lines_of(python_rows(d, "r.jsonl"))) {
    const auto space = line.find(' ');
    const std::string key_hex = line.substr(0, space);
    std::string key;
    for (std::size_t i = 0; i < key_hex.size(); i += 2)
      key.push_back(static_cast<char>(std::stoi(key_hex.substr(i, 2), nullptr, 16)));
    const std::string expected = hex(all_bytes().substr(std::stoul(key) - 1));
    EXPECT_EQ(line, key_hex + " " + expected + " " + expected) << key;
    seen.insert(key);
  }
  EXPECT_EQ(seen.size(), 256u);
  // The library reads the same rows back (Boost.JSON validates UTF-8) with get_bytes.
  for (const auto& row : rows_of(d / "r.jsonl"))
    EXPECT_EQ(get_bytes(row, "stdout"), all_bytes().substr(std::stoul(str(row.at("key"))) - 1));
  // A rerun of the same command runs nothing: its own file does not stop it.
  r = sluice(d, {"run", "-o", "r.jsonl", "-i", "in.txt", "--", "false"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 256u);
}

TEST(ResultsIntegrity, InputLinesThatAreNotUtf8KeepTheirExactBytesAsKeys) {
  temp_dir d;
  // Two lines with the same lossy text ("\xff\xfe", "\xff\xfd": two U+FFFD each), a NUL, a
  // repeated Latin-1 line, valid UTF-8.
  const std::string lines[] = {"caf\xe9", "\xff\xfe",   "\xff\xfd", std::string("a\0b", 3),
                               "caf\xe9", "caf\xc3\xa9"};
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  write_file(d / "in.txt", text);
  const strings args{"run", "-o", "r.jsonl", "-i", "in.txt", "--", "printf", "%s", "{}"};
  auto r = sluice(d, args);
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, std::set<std::int64_t>> occurrences;
  for (const auto& row : rows_of(d / "r.jsonl")) {
    const auto key = get_bytes(row, "key");
    ASSERT_TRUE(key);
    EXPECT_EQ(get_bytes(row, "input"), key);
    if (key->find('\0') == std::string::npos) {
      EXPECT_EQ(get_bytes(row, "stdout"), key);
    }
    occurrences[*key].insert(row.at("occurrence").as_int64());
  }
  EXPECT_EQ(occurrences.size(), 5u);
  EXPECT_EQ(occurrences["caf\xe9"], (std::set<std::int64_t>{1, 2}));
  EXPECT_EQ(occurrences["\xff\xfe"].size(), 1u);
  EXPECT_EQ(occurrences["\xff\xfd"].size(), 1u);
  EXPECT_EQ(occurrences[std::string("a\0b", 3)].size(), 1u);
  (void)python_rows(d, "r.jsonl");  // strict UTF-8 JSON, every row
  // Resume finds every one of them by its exact bytes: only a new line runs.
  write_file(d / "in.txt", text + "\xff\xfc\n");
  r = sluice(d, args);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(get_bytes(rows.back(), "key"), "\xff\xfc");
  // --dedupe tells the two keys with one lossy text apart, and reuses by exact bytes.
  write_file(d / "dup.txt", "\xff\xfe\n\xff\xfd\n\xff\xfe\n");
  r = sluice(d,
             {"run", "--dedupe", "-o", "dup.jsonl", "-i", "dup.txt", "--", "printf", "%s", "{}"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto dup = rows_of(d / "dup.jsonl");
  ASSERT_EQ(dup.size(), 3u);
  for (const auto& row : dup) EXPECT_EQ(get_bytes(row, "stdout"), get_bytes(row, "key"));
}

TEST(ResultsIntegrity, ASecondRunOnTheSameFileRefusesAndWritesNothing) {
  temp_dir d;
  const strings args{"run", "-j", "3", "-o", "r.jsonl", "--", "sleep", ":::", "4", "4.1", "4.2"};
  cli_run first(d, args);
  std::this_thread::sleep_for(300ms);  // (real time: the first run must hold the lock)
  const auto t0 = std::chrono::steady_clock::now();
  auto second = sluice(d, args);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);  // at once, not after the first
  EXPECT_EQ(second.code, 105);
  EXPECT_NE(second.err.find("r.jsonl: in use by another sluice run (pid "), std::string::npos)
      << second.err;
  EXPECT_EQ(first.wait(), 0);
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 3u);  // the first run's rows only
  // --dry-run takes no lock: it reads while a run writes.
  cli_run third(d, {"run", "-o", "r.jsonl", "--", "sleep", ":::", "1.3"});
  std::this_thread::sleep_for(300ms);
  auto dry = sluice(d, {"run", "--dry-run", "-o", "r.jsonl", "--", "echo", ":::", "4", "2"});
  EXPECT_EQ(dry.code, 0) << dry.err;
  EXPECT_EQ(dry.out, "echo 2\n");
  EXPECT_EQ(third.wait(), 0);
}

TEST(ResultsIntegrity, AKilledHoldersLockIsGoneAndTheNextRunResumes) {
  temp_dir d;
  std::string inputs;
  for (int i = 0; i < 40; ++i) inputs += std::to_string(i) + "\n";
  write_file(d / "in.txt", inputs);
  const strings args{"run", "-j", "4",  "-o",        "r.jsonl", "-i", "in.txt",
                     "--",  "sh", "-c", "sleep 0.1", "_",       "{}"};
  cli_run first(d, args);
  std::this_thread::sleep_for(500ms);
  first.signal(SIGKILL);  // its sleeps go on in their own process groups, without the lock
  EXPECT_EQ(first.wait(), 128 + SIGKILL);
  auto r = sluice(d, args);
  EXPECT_EQ(r.code, 0) << r.err;
  std::set<std::string> keys;
  for (const auto& row : rows_of(d / "r.jsonl"))
    EXPECT_TRUE(keys.insert(str(row.at("key"))).second);
  EXPECT_EQ(keys.size(), 40u);
}

/// Runs sluice under `sh -c` with a file size limit (SIGXFSZ ignored, so that write() fails
/// with EFBIG after a partial write, as on a full disk).
result sluice_with_file_limit(const temp_dir& d, std::size_t bytes, const strings& args) {
  std::string cmd =
      "trap '' XFSZ; exec prlimit --fsize=" + std::to_string(bytes) + " -- " SLUICE_CLI;
  for (const auto& a : args) cmd += " '" + a + "'";
  cli_run r(d, shell_command{cmd});
  return {r.wait(), r.out(), r.err()};
}

TEST(ResultsIntegrity, AFullDiskLeavesOnlyWholeRowsAndTheRerunNeedsNoRepair) {
  temp_dir d;
  std::string inputs;
  for (int i = 0; i < 100; ++i) inputs += std::to_string(i) + "\n";
  write_file(d / "in.txt", inputs);
  const strings args{"run", "-o", "r.jsonl", "-i", "in.txt", "--", "echo", "{}"};
  auto r = sluice_with_file_limit(d, 3000, args);
  EXPECT_EQ(r.code, 103) << r.err;
  EXPECT_NE(r.err.find("r.jsonl: cannot write"), std::string::npos) << r.err;
  const std::string text = read_file(d / "r.jsonl");
  ASSERT_FALSE(text.empty());
  EXPECT_LE(text.size(), 3000u);
  EXPECT_EQ(text.back(), '\n');
  const std::size_t kept = rows_of(d / "r.jsonl").size();  // every row whole
  EXPECT_GT(kept, 5u);
  r = sluice(d, args);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("torn"), std::string::npos) << r.err;  // nothing to repair
  std::set<std::string> keys;
  for (const auto& row : rows_of(d / "r.jsonl"))
    EXPECT_TRUE(keys.insert(str(row.at("key"))).second);
  EXPECT_EQ(keys.size(), 100u);
}

TEST(ResultsIntegrity, ARealFullTmpfsLeavesOnlyWholeRows) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  temp_dir d;
  const auto mnt = d / "small";
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  std::string inputs;
  for (int i = 0; i < 2000; ++i) inputs += std::to_string(i) + "\n";
  write_file(d / "in.txt", inputs);
  const std::string out = (mnt / "r.jsonl").string();
  const strings args{"run", "-o", out, "-i", "in.txt", "--", "echo", "{}"};
  auto r = sluice(d, args);
  EXPECT_EQ(r.code, 103) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  const std::string text = read_file(out);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const std::size_t kept = rows_of(out).size();
  EXPECT_GT(kept, 100u);
  // Room again (a bigger filesystem): the rerun completes without a repair.
  ::umount2(mnt.c_str(), MNT_DETACH);
  std::filesystem::create_directory(d / "big");
  write_file(d / "big" / "r.jsonl", text);
  r = sluice(d, {"run", "-o", "big/r.jsonl", "-i", "in.txt", "--", "echo", "{}"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("torn"), std::string::npos) << r.err;
  EXPECT_EQ(rows_of(d / "big" / "r.jsonl").size(), 2000u);
}

TEST(ResultsIntegrity, KillNineWithBinaryOutputLosesAndRepeatsNothing) {
  temp_dir d;
  std::mt19937 rng(20261205);
  std::string inputs;
  for (int i = 0; i < 300; ++i) {
    inputs += std::to_string(i);
    if (i % 3 == 0) inputs += "\xe9\xff";  // a third of the keys are not UTF-8
    inputs += "\n";
  }
  write_file(d / "in.txt", inputs);
  const strings args{"run",
                     "-j",
                     "8",
                     "-o",
                     "r.jsonl",
                     "-i",
                     "in.txt",
                     "--",
                     "sh",
                     "-c",
                     "head -c 300 /dev/urandom; sleep 0.0$(($(printf %s \"$1\" | wc -c) % 5 + 1))",
                     "_",
                     "{}"};
  kill_nine_at_random_moments(d, args, rng, 10);
  auto r = sluice(d, args);
  EXPECT_EQ(r.code, 0) << r.err;
  std::map<std::string, int> count;
  for (const auto& line : lines_of(python_rows(d, "r.jsonl")))
    ++count[line.substr(0, line.find(' '))];
  EXPECT_EQ(count.size(), 300u);
  for (const auto& [key, n] : count) EXPECT_EQ(n, 1) << key;
}

}  // namespace
}  // namespace sluice::test
