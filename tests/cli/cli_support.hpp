// Running the real sluice executable from a test: cli_run (started in a temporary
// directory, its standard streams in files there), sluice() to run it to the end, and
// helpers to read what it wrote.
#pragma once

#include "../files.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::test {

using strings = std::vector<std::string>;

/// A shell command line for cli_run: run with /bin/sh -c (to run sluice under limits).
struct shell_command {
  std::string line;
};

/// One run of the sluice executable in `dir`, its output in files there.
class cli_run {
 public:
  cli_run(const temp_dir& dir, strings args, const std::string& stdin_text = {})
      : cli_run(dir, SLUICE_CLI, std::move(args), stdin_text) {}
  cli_run(const temp_dir& dir, const shell_command& sh)
      : cli_run(dir, "/bin/sh", {"-c", sh.line}) {}
  ~cli_run() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  cli_run(const cli_run&) = delete;
  cli_run& operator=(const cli_run&) = delete;

  void signal(int sig) const { ::kill(pid_, sig); }
  /// The exit code (128 + signal when killed).
  int wait() {
    if (pid_ > 0) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = 0;
    }
    return code_;
  }
  std::string out() { return (wait(), read_file(dir_ / ".stdout")); }
  std::string err() { return (wait(), read_file(dir_ / ".stderr")); }

 private:
  cli_run(const temp_dir& dir, const char* program, strings args,
          const std::string& stdin_text = {})
      : dir_(dir) {
    write_file(dir / ".stdin", stdin_text);
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_addopen(&fa, 0, (dir / ".stdin").c_str(), O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&fa, 1, (dir / ".stdout").c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::posix_spawn_file_actions_addopen(&fa, 2, (dir / ".stderr").c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::posix_spawn_file_actions_addchdir_np(&fa, dir.path().c_str());
    args.insert(args.begin(), program);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, program, &fa, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error(std::string("cannot start ") + program);
    ::posix_spawn_file_actions_destroy(&fa);
  }

  const temp_dir& dir_;
  pid_t pid_ = 0;
  int code_ = -1;
};

struct result {
  int code;
  std::string out, err;
};

inline result sluice(const temp_dir& dir, const strings& args, const std::string& stdin_text = {}) {
  cli_run r(dir, args, stdin_text);
  const int code = r.wait();
  return {code, r.out(), r.err()};
}

/// Runs a shell line (in `dir`) to the end.
inline result sluice_shell(const temp_dir& dir, const std::string& line) {
  cli_run r(dir, shell_command{line});
  const int code = r.wait();
  return {code, r.out(), r.err()};
}

/// Runs sluice with `args` `times` times in `dir`, each killed with SIGKILL `min_ms` plus up to
/// `spread_ms` (random) after its start, as a crash would stop it.
template <class Rng>
void kill_nine_at_random_moments(const temp_dir& dir, const strings& args, Rng& rng, int times,
                                 int min_ms = 50, int spread_ms = 250) {
  for (int k = 0; k < times; ++k) {
    cli_run run(dir, args);
    std::this_thread::sleep_for(std::chrono::milliseconds(min_ms + rng() % spread_ms));
    run.signal(SIGKILL);
    EXPECT_EQ(run.wait(), 128 + SIGKILL);
  }
}

inline std::vector<json::object> rows_of(const std::filesystem::path& p) {
  std::vector<json::object> rows;
  for (auto& v : read_rows(p)) rows.push_back(v.as_object());
  return rows;
}

inline strings lines_of(const std::string& text) {
  strings out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(text.substr(start, nl - start));
  return out;
}

inline strings sorted(strings v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline std::string str(const json::value& v) {
  return std::string(v.as_string());
}

}  // namespace sluice::test
