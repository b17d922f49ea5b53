// run_process with real child processes: exit codes and signals, bounded capture of large
// output, stdin, environment and working directory, timeouts that take down a process
// tree, cancellation, and no zombies.
#include <sluice/process.hpp>
#include <sluice/run.hpp>

#include "support.hpp"

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace sluice::test;
using sluice::process_options;
using sluice::process_result;

process_result run(std::vector<std::string> argv, process_options o = {}) {
  return run_io(sluice::run_process(std::move(argv), std::move(o)));
}

// Children of this process (any thread), zombies included.
int children() {
  int n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(task.path() / "children");
    std::string pid;
    while (f >> pid) ++n;
  }
  return n;
}

// No live process is left in the group (zombies reparented to init may linger until it
// reaps them, and are not running). Signals take effect asynchronously: waits up to 5 s.
bool group_gone(int pgid) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    bool live = false;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream f(e.path() / "stat");
      std::string line;
      if (!std::getline(f, line)) continue;
      const auto close = line.rfind(')');
      if (close == std::string::npos) continue;
      char state = 0;
      int ppid = 0, pgrp = 0;
      if (std::sscanf(line.c_str() + close + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
          pgrp == pgid && state != 'Z')
        live = true;
    }
    if (!live) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
}

TEST(Process, ExitCodesAndCapturedOutput) {
  auto r = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.signal);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status(), 3);
  EXPECT_GT(r.pid, 0);
  EXPECT_GT(r.duration.count(), 0);
  EXPECT_TRUE(run({"true"}).ok());
}

TEST(Process, ArgumentsAreArgvNotAShellLine) {
  auto r = run({"echo", "$HOME; ls", "*"});
  EXPECT_EQ(r.out, "$HOME; ls *\n");
}

TEST(Process, TenMiBOfOutputWithoutDeadlockAndACapThatIsReported) {
  auto r = run({"sh", "-c", "head -c 10485760 /dev/zero; head -c 3000000 /dev/zero >&2"});
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out.size(), 10u << 20);
  EXPECT_EQ(r.err.size(), 3000000u);
  EXPECT_FALSE(r.out_truncated);
  auto capped = run({"head", "-c", "10485760", "/dev/zero"}, {.stdout_limit = 1u << 20});
  EXPECT_TRUE(capped.ok());  // the child was never blocked: it wrote everything and exited
  EXPECT_EQ(capped.out.size(), 1u << 20);
  EXPECT_TRUE(capped.out_truncated);
}

TEST(Process, StdinDataIsWrittenAndClosed) {
  EXPECT_EQ(run({"cat"}, {.stdin_data = "hello"}).out, "hello");
  std::string big(3u << 20, 'x');
  auto r = run({"wc", "-c"}, {.stdin_data = big});
  EXPECT_EQ(std::stoul(r.out), big.size());
  // A child that exits without reading its input is not an error (and no SIGPIPE for us).
  EXPECT_TRUE(run({"true"}, {.stdin_data = big}).ok());
  EXPECT_EQ(run({"cat"}).out, "");  // no stdin_data: /dev/null
}

TEST(Process, ASignalEndsTheChild) {
  auto r = run({"sh", "-c", "kill -TERM $$"});
  EXPECT_FALSE(r.exit_code);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_EQ(r.status(), 128 + SIGTERM);
}

TEST(Process, TimeoutTakesDownTheWholeProcessTree) {
  const int before = children();
  auto r = run({"sh", "-c", "sleep 100 & sleep 100"}, {.timeout = 200ms, .grace = 2s});
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_LT(r.duration, 10s);
  EXPECT_TRUE(group_gone(r.pid));  // the background sleep died with its group
  EXPECT_EQ(children(), before);
}

TEST(Process, SigkillAfterTheGracePeriodWhenSigtermIsIgnored) {
  auto r =
      run({"sh", "-c", "trap '' TERM; while :; do :; done"}, {.timeout = 100ms, .grace = 200ms});
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_TRUE(group_gone(r.pid));
}

TEST(Process, AMissingOrNonExecutableCommandIsAClearError) {
  try {
    run({"sluice-no-such-command", "x"});
    ADD_FAILURE() << "no error";
  } catch (const sluice::process_start_error& e) {
    EXPECT_EQ(e.exit_code(), 127);
    EXPECT_STREQ(e.what(), "cannot run 'sluice-no-such-command': command not found");
  }
  char path[] = "/tmp/sluice-not-exec-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  try {
    run({path});
    ADD_FAILURE() << "no error";
  } catch (const sluice::process_start_error& e) {
    EXPECT_EQ(e.exit_code(), 126);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  std::remove(path);
  EXPECT_THROW(run({}), std::invalid_argument);
}

TEST(Process, EnvironmentInheritedReplacedOrExtended) {
  auto replaced =
      run({"/usr/bin/env"}, {.inherit_environment = false, .environment = {{"FOO", "bar"}}});
  EXPECT_EQ(replaced.out, "FOO=bar\n");
  ::setenv("SLUICE_TEST_INHERITED", "yes", 1);
  auto added = run({"sh", "-c", "echo $SLUICE_TEST_INHERITED $SLUICE_TEST_ADDED"},
                   {.environment = {{"SLUICE_TEST_ADDED", "too"}}});
  EXPECT_EQ(added.out, "yes too\n");
  auto overridden = run({"sh", "-c", "echo $SLUICE_TEST_INHERITED"},
                        {.environment = {{"SLUICE_TEST_INHERITED", "no"}}});
  EXPECT_EQ(overridden.out, "no\n");
}

TEST(Process, WorkingDirectory) {
  EXPECT_EQ(run({"pwd"}, {.working_directory = "/tmp"}).out, "/tmp\n");
  try {
    run({"pwd"}, {.working_directory = "/nonexistent/dir"});
    ADD_FAILURE() << "no error";
  } catch (const sluice::process_start_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir"), std::string::npos);
  }
}

TEST(Process, CancellingTheCallerStopsAndReapsTheChild) {
  const int before = children();
  asio::io_context ctx;
  asio::cancellation_signal sig;
  bool aborted = false;
  asio::co_spawn(
      ctx, sluice::run_process({"sh", "-c", "sleep 100 & sleep 100"}),
      asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, process_result) {
        try {
          if (e) std::rethrow_exception(e);
        } catch (const boost::system::system_error& s) {
          aborted = s.code() == asio::error::operation_aborted;
        }
      }));
  asio::steady_timer t(ctx, 100ms);
  t.async_wait([&](auto) { sig.emit(asio::cancellation_type::terminal); });
  ctx.run();
  EXPECT_TRUE(aborted);
  EXPECT_EQ(children(), before);
}

TEST(Process, ManyRunsUnderARunnerLeaveNoZombies) {
  const int before = children();
  std::vector<int> codes(40);
  for (int i = 0; i < 40; ++i) codes[i] = i % 5;
  int ok = 0;
  asio::io_context ctx;
  asio::co_spawn(ctx,
                 sluice::run_on_each(
                     [&](int code) -> asio::awaitable<void> {
                       std::vector<std::string> argv{"sh", "-c", "exit " + std::to_string(code)};
                       auto r = co_await sluice::run_process(std::move(argv));
                       ok += r.exit_code == code;
                     },
                     codes, {.max_at_once = 4}),
                 asio::detached);
  ctx.run();
  EXPECT_EQ(ok, 40);
  EXPECT_EQ(children(), before);
}

}  // namespace
