// in_process on a real process_pool: values and errors across the process boundary, crashes
// (a signal, abort, SIGKILL as the OOM killer sends it) failing only their call, the pool
// replacing the dead worker, cancellation killing the worker's process group.
#include <sluice/process_pool.hpp>
#include <sluice/when_all.hpp>

#include "files.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::in_process;
using sluice::process_pool;

int add(int a, int b) {
  return a + b;
}
int my_pid() {
  return int(::getpid());
}
std::string reversed(std::string s) {
  return {s.rbegin(), s.rend()};
}
double sum(std::vector<double> v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}
boost::json::value tagged(boost::json::value v) {
  boost::json::object o;
  o["got"] = v;
  o["pid"] = ::getpid();
  return o;
}
int counter = 0;
void bump() {
  ++counter;
}
int read_counter() {
  return counter;
}  // (in the worker: what bump() did there)
int throws(int) {
  throw std::invalid_argument("no such order");
}
int segfaults(int) {
  ::raise(SIGSEGV);
  return 0;
}
int aborts(int) {
  std::abort();
}
int oom_killed(int) {
  ::raise(SIGKILL);
  return 0;
}
int exits(int code) {
  ::_exit(code);
}
int sleeps_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
// Starts `sleep 60` (its pid written to `path`), then waits for it.
int starts_a_sleeper(std::string path) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::execlp("sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::ofstream(path + ".tmp") << child;
  std::rename((path + ".tmp").c_str(), path.c_str());
  int st = 0;
  ::waitpid(child, &st, 0);
  return 0;
}

bool alive(int pid) {
  // (a zombie is not alive: its state in /proc is Z)
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(stat, s)) return false;
  const auto close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() && s[close + 2] != 'Z';
}

TEST(ProcessPool, ValuesOfEveryGivenCodecCrossAndTheWorkerIsAnotherProcess) {
  process_pool pool(2);
  run_io([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await in_process(pool, add, 20, 22), 42);
    EXPECT_NE(co_await in_process(pool, my_pid), int(::getpid()));
    const std::string with_nul("abc\0def", 7), expected("fed\0cba", 7);
    EXPECT_EQ(co_await in_process(pool, reversed, with_nul), expected);
    std::vector<double> v{0.5, 1.5, 2.0};
    EXPECT_EQ(co_await in_process(pool, sum, v), 4.0);
    boost::json::value j = boost::json::parse(R"({"a":[1,2,"x"]})");
    auto r = co_await in_process(pool, tagged, j);
    EXPECT_EQ(r.at("got"), j);
    // A separate address space: the worker's counter is not ours.
    co_await in_process(pool, bump);
    co_await in_process(pool, bump);
    EXPECT_EQ(co_await in_process(pool, read_counter), 2);
    EXPECT_EQ(counter, 0);
  }());
  EXPECT_EQ(pool.workers_started(), 1u);  // (one call at a time: one worker was enough)
}

TEST(ProcessPool, AnExceptionIsARemoteErrorAndTheWorkerLivesOn) {
  process_pool pool(1);
  run_io([&]() -> asio::awaitable<void> {
    const int pid = co_await in_process(pool, my_pid);
    std::string what;
    try {
      (void)co_await in_process(pool, throws, 1);
    } catch (const sluice::remote_error& e) {
      what = e.what();
    }
    EXPECT_EQ(what, "in_process: the function threw std::invalid_argument: no such order");
    EXPECT_EQ(co_await in_process(pool, my_pid), pid);
  }());
}

TEST(ProcessPool, ACrashFailsOnlyItsCallNamesTheSignalAndTheWorkerIsReplaced) {
  process_pool pool(2);
  struct crash {
    int (*fn)(int);
    int arg;
    std::optional<int> signal;
    std::optional<int> exit_code;
    const char* text;
  };
  const std::vector<crash> crashes{{segfaults, 0, SIGSEGV, std::nullopt, "SIGSEGV"},
                                   {aborts, 0, SIGABRT, std::nullopt, "SIGABRT"},
                                   {oom_killed, 0, SIGKILL, std::nullopt, "OOM killer"},
                                   {exits, 3, std::nullopt, 3, "exited with status 3"}};
  run_io([&]() -> asio::awaitable<void> {
    for (const auto& c : crashes) {
      const int before = co_await in_process(pool, my_pid);
      bool crashed = false;
      std::string what;
      try {
        (void)co_await in_process(pool, c.fn, c.arg);
      } catch (const sluice::process_crashed& e) {
        crashed = true;
        what = e.what();
        EXPECT_EQ(e.signal(), c.signal) << what;
        EXPECT_EQ(e.exit_code(), c.exit_code) << what;
        EXPECT_FALSE(alive(e.pid()));
      }
      EXPECT_TRUE(crashed);
      EXPECT_NE(what.find(c.text), std::string::npos) << what;
      // The next call works, on a new worker; the pool keeps its size.
      EXPECT_EQ(co_await in_process(pool, add, 1, 2), 3);
      EXPECT_NE(co_await in_process(pool, my_pid), before);
      EXPECT_LE(pool.worker_pids().size(), 2u);
    }
  }());
  EXPECT_EQ(pool.workers_started(), 1u + crashes.size());
}

TEST(ProcessPool, AtMostSizeCallsRunAtOnce) {
  process_pool pool(2);
  std::set<int> pids;
  run_io([&]() -> asio::awaitable<void> {
    auto one = [&]() -> asio::awaitable<int> {
      pids.insert(co_await in_process(pool, my_pid));
      co_return co_await in_process(pool, sleeps_ms, 20);
    };
    (void)co_await sluice::when_all(one(), one(), one(), one(), one(), one());
  }());
  EXPECT_EQ(pids.size(), 2u);
  EXPECT_EQ(pool.workers_started(), 2u);
}

TEST(ProcessPool, CancellingACallKillsTheWorkersProcessGroup) {
  temp_dir d;
  const std::string pidfile = (d / "sleeper.pid").string();
  process_pool pool(1);
  std::exception_ptr error;
  int worker = 0;
  run_io([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    worker = co_await in_process(pool, my_pid);
    asio::cancellation_signal cancel;
    bool done = false;
    asio::co_spawn(ex, in_process(pool, starts_a_sleeper, pidfile),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, int) {
                     error = e;
                     done = true;
                   }));
    // Once the sleeper runs (bounded: 10 s), cancel the call.
    asio::steady_timer poll(ex);
    for (int i = 0; i < 1000 && !std::filesystem::exists(pidfile); ++i) {
      poll.expires_after(std::chrono::milliseconds(10));
      co_await poll.async_wait(asio::deferred);
    }
    cancel.emit(asio::cancellation_type::terminal);
    while (!done) {
      poll.expires_after(std::chrono::milliseconds(1));
      co_await poll.async_wait(asio::deferred);
    }
    EXPECT_EQ(co_await in_process(pool, add, 2, 2), 4);  // a new worker
  }());
  EXPECT_TRUE(is_cancellation(error));
  EXPECT_FALSE(alive(worker));
  int sleeper = 0;
  std::ifstream(pidfile) >> sleeper;
  ASSERT_GT(sleeper, 0);
  for (int i = 0; i < 500 && alive(sleeper); ++i)  // (SIGKILL is delivered at once; bounded)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_FALSE(alive(sleeper));
}

TEST(ProcessPool, DestroyingThePoolEndsItsWorkers) {
  std::vector<int> pids;
  {
    process_pool pool(2);
    run_io([&]() -> asio::awaitable<void> {
      (void)co_await sluice::when_all(in_process(pool, sleeps_ms, 5),
                                      in_process(pool, sleeps_ms, 5));
    }());
    pids = pool.worker_pids();
  }
  ASSERT_EQ(pids.size(), 2u);
  for (int pid : pids) EXPECT_FALSE(alive(pid));
}

TEST(ProcessPool, BadSize) {
  EXPECT_THROW(process_pool(0), std::invalid_argument);
}

}  // namespace
