// Crash safety for real: a child process fills a results file and is killed with SIGKILL at
// 20 random moments (large rows make some kills land in the middle of a write). After each
// kill the file holds only whole rows plus at most a torn last line, and no key or row
// twice; after a final run to the end, every key or row is there exactly as often as asked.
#include "files.hpp"

#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <csignal>
#include <random>
#include <thread>

extern char** environ;

namespace sluice::test {
namespace {

pid_t start_child(const std::vector<std::string>& args) {
  std::vector<std::string> all{SLUICE_CRASH_CHILD};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : all) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + all[0]);
  return pid;
}

int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

/// The rows of a file that a crash may have cut: every line parses but a last one without
/// its newline. Returns the whole rows; `torn` says if there was a cut one.
std::vector<json::value> rows_after_crash(const std::filesystem::path& p, bool& torn) {
  std::string text = read_file(p);
  std::vector<json::value> rows;
  torn = false;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t nl = text.find('\n', at);
    bool last = nl == std::string::npos;
    std::string_view line(text.data() + at, (last ? text.size() : nl) - at);
    json::error_code ec;
    auto v = json::parse(line, ec);
    if (ec) {
      if (!last) throw std::runtime_error("malformed row in the middle of " + p.string());
      torn = true;
    } else {
      rows.push_back(std::move(v));
    }
    at = last ? text.size() : nl + 1;
  }
  return rows;
}

/// Kills `args` 20 times at random moments, checking the file after each kill with `check`;
/// then runs it to the end.
template <class Check>
int kill_twenty_times(const std::vector<std::string>& args, const std::filesystem::path& file,
                      Check check) {
  std::mt19937 rng(20261121);
  std::uniform_int_distribution<int> moment_ms(5, 60);
  int torn_lines = 0, kills = 0;
  for (int i = 0; i < 20; ++i) {
    pid_t pid = start_child(args);
    std::this_thread::sleep_for(std::chrono::milliseconds(moment_ms(rng)));
    ::kill(pid, SIGKILL);
    int status = wait_child(pid);
    if (!WIFSIGNALED(status)) break;  // it finished before the kill: nothing left to crash
    ++kills;
    if (!std::filesystem::exists(file)) continue;
    bool torn = false;
    check(rows_after_crash(file, torn));
    torn_lines += torn;
  }
  int status = wait_child(start_child(args));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "final run, status " << status;
  EXPECT_GE(kills, 10) << "the child finished too soon to be killed often";
  std::printf("[          ] %d kills, %d of them left a torn line\n", kills, torn_lines);
  return torn_lines;
}

TEST(CrashSafety, CreateOrResumeSurvivesTwentySigkills) {
  temp_dir d;
  auto file = d / "results.jsonl";
  const int keys = 60, count = 2;
  kill_twenty_times({"create", file.string(), std::to_string(keys), std::to_string(count)}, file,
                    [&](const std::vector<json::value>& rows) {
                      for (const auto& [key, n] : count_by(rows, "k"))
                        ASSERT_LE(n, count) << key << " duplicated";
                    });
  bool cut = false;
  auto rows = rows_after_crash(file, cut);
  EXPECT_FALSE(cut);
  auto n = count_by(rows, "k");
  EXPECT_EQ(n.size(), std::size_t(keys));
  for (const auto& [key, c] : n) EXPECT_EQ(c, count) << key;
}

TEST(CrashSafety, MapByKeySurvivesTwentySigkills) {
  temp_dir d;
  auto src = d / "in.jsonl", dst = d / "out.jsonl";
  const int rows_in = 240;
  std::string in;
  for (int o = 0; o < rows_in; ++o) in += jsonl({{{"key", o % 50}, {"o", o}}});
  write_file(src, in);
  kill_twenty_times({"map", src.string(), dst.string()}, dst,
                    [&](const std::vector<json::value>& rows) {
                      for (const auto& [o, n] : count_by(rows, "o"))
                        ASSERT_EQ(n, 1) << "row o=" << o << " duplicated";
                    });
  bool cut = false;
  auto rows = rows_after_crash(dst, cut);
  EXPECT_FALSE(cut);
  ASSERT_EQ(rows.size(), std::size_t(rows_in));
  auto n = count_by(rows, "o");
  EXPECT_EQ(n.size(), std::size_t(rows_in));
  for (const auto& r : rows) EXPECT_EQ(r.at("result").as_int64(), 2 * r.at("key").as_int64());
}

}  // namespace
}  // namespace sluice::test
