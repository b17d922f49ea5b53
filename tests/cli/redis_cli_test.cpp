// sluice across processes through Redis: real sluice processes, a real redis-server per test
// (tests/redis_server.hpp: killed and restarted by the tests), nginx's limit_req as the judge
// of a shared rate (its log counts at the server), kill -9 of workers and lease holders.
#include "../nginx.hpp"
#include "../redis_server.hpp"
#include "cli_support.hpp"

#include <cctype>
#include <random>
#include <set>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// Each process of a test its own directory for its standard streams (cli_run keeps them
/// there); the files they share live in `shared`.
struct process {
  temp_dir dir;
  std::unique_ptr<cli_run> run;
  void start(const strings& args) { run = std::make_unique<cli_run>(dir, args); }
};

std::string redis_cli(const redis_server& s, const std::string& args) {
  const std::string cmd = "redis-cli -p " + std::to_string(s.port()) + " " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string numbered_rows(int n, const std::string& prefix = "k") {
  std::string in;
  for (int i = 1; i <= n; ++i)
    in += "{\"id\":\"" + prefix + std::to_string(i) + "\",\"n\":" + std::to_string(i) + "}\n";
  return in;
}

/// The merged file's rows by key; fails the test on a key seen twice.
std::map<std::string, json::object> by_key(const std::filesystem::path& merged) {
  std::map<std::string, json::object> rows;
  for (auto& r : rows_of(merged)) {
    const auto key = json::serialize(r.at("key"));
    EXPECT_TRUE(rows.emplace(key, r).second) << "twice: " << key;
  }
  return rows;
}

// ----- the work queue -----------------------------------------------------------------------

TEST(RedisQueue, EnqueueAddsEachInputOnce) {
  redis_server server;
  temp_dir dir;
  write_file(dir / "in.jsonl", numbered_rows(300));
  auto r = sluice(
      dir, {"enqueue", "--redis", server.url(), "--queue", "q", "-i", "in.jsonl", "--key", "id"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("300 inputs read, 300 added, 0 there already"), std::string::npos) << r.err;
  r = sluice(dir,
             {"enqueue", "--redis", server.url(), "--queue", "q", "-i", "in.jsonl", "--key", "id"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("300 inputs read, 0 added, 300 there already"), std::string::npos) << r.err;
  r = sluice(dir, {"queue", "status", "--redis", server.url(), "--queue", "q"});
  EXPECT_EQ(r.out, "queue q: 300 added, 300 undelivered, 0 in flight, 0 done, 0 dead-lettered\n");
  // Another --key would identify the same inputs otherwise: refused.
  r = sluice(dir,
             {"enqueue", "--redis", server.url(), "--queue", "q", "-i", "in.jsonl", "--key", "n"});
  EXPECT_EQ(r.code, 101);
  EXPECT_NE(r.err.find("was filled with key \"id\""), std::string::npos) << r.err;
}

TEST(RedisQueue, FourWorkersTwoKilledAtRandomEveryTaskExactlyOnceAfterMerge) {
  redis_server server;
  temp_dir shared;
  write_file(shared / "in.jsonl", numbered_rows(2000));
  ASSERT_EQ(sluice(shared, {"enqueue", "--redis", server.url(), "--queue", "work", "-i",
                            (shared / "in.jsonl").string(), "--key", "id"})
                .code,
            0);
  auto worker = [&](const std::string& part) -> strings {
    return {"worker",
            "--no-progress",
            "--redis",
            server.url(),
            "--queue",
            "work",
            "-j",
            "8",
            "--claim-after",
            "1s",
            "-o",
            (shared / part).string(),
            "--",
            "sh",
            "-c",
            "sleep 0.005; echo {n}"};
  };
  std::array<process, 6> w;
  for (int i = 0; i < 4; ++i) w[i].start(worker("part" + std::to_string(i) + ".jsonl"));
  std::mt19937 rng(std::random_device{}());
  // Two of them die at random moments, mid-run; each is started again (a new consumer, as a
  // restarted pod would be), and the dead one's entries are taken over after --claim-after.
  for (int k = 0; k < 2; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    w[k].run->signal(SIGKILL);
    EXPECT_EQ(w[k].run->wait(), 128 + SIGKILL);
    w[4 + k].start(worker("part" + std::to_string(4 + k) + ".jsonl"));
  }
  for (int i = 2; i < 6; ++i) EXPECT_EQ(w[i].run->wait(), 0) << w[i].run->err();
  strings parts;
  for (int i = 0; i < 6; ++i)
    parts.push_back((shared / ("part" + std::to_string(i) + ".jsonl")).string());
  strings merge{"merge"};
  merge.insert(merge.end(), parts.begin(), parts.end());
  merge.push_back("-o");
  merge.push_back((shared / "all.jsonl").string());
  const auto m = sluice(shared, merge);
  ASSERT_EQ(m.code, 0) << m.err;
  const auto rows = by_key(shared / "all.jsonl");
  EXPECT_EQ(rows.size(), 2000u);
  for (int i = 1; i <= 2000; ++i) {
    const auto it = rows.find("\"k" + std::to_string(i) + "\"");
    ASSERT_NE(it, rows.end()) << "lost: k" << i;
    EXPECT_EQ(str(it->second.at("status")), "ok");
    EXPECT_EQ(str(it->second.at("stdout")), std::to_string(i) + "\n");
  }
  const auto status =
      sluice(shared, {"queue", "status", "--redis", server.url(), "--queue", "work"});
  EXPECT_NE(status.out.find("0 undelivered, 0 in flight, 2000 done"), std::string::npos)
      << status.out;
}

TEST(RedisQueue, AFailedTaskIsRecordedAndAPoisonInputIsDeadLettered) {
  redis_server server;
  temp_dir shared;
  write_file(shared / "in.jsonl", numbered_rows(20));
  ASSERT_EQ(sluice(shared, {"enqueue", "--redis", server.url(), "--queue", "p", "-i",
                            (shared / "in.jsonl").string(), "--key", "id"})
                .code,
            0);
  // Input 13 kills its worker each time, 1 s in: the task before it has ended and its end
  // been counted by then (0.2 s was too short under ASan on a loaded machine; one that ends in
  // the same instant as the kill may be counted as started and never ended, like the poison one:
  // docs/scale-out.md). Input 17, after it, fails (recorded, acknowledged) under the last worker,
  // whatever was redone before; a failure before 13 would run again or not, as its ack went out
  // before the kill or not.
  const std::string script =
      "if [ {n} = 13 ]; then sleep 1; kill -9 $PPID; sleep 1; fi; "
      "if [ {n} = 17 ]; then exit 3; fi; echo {n}";
  int deaths = 0, code = 128 + SIGKILL;
  std::filesystem::path last_part;
  for (int round = 0; round < 10 && code == 128 + SIGKILL; ++round) {
    process w;
    last_part = shared / ("part" + std::to_string(round) + ".jsonl");
    w.start({"worker", "--no-progress", "--redis", server.url(), "--queue", "p", "-j", "1",
             "--claim-after", "200ms", "--max-deliveries", "2", "-o", last_part.string(), "--",
             "sh", "-c", script});
    code = w.run->wait();
    if (code == 128 + SIGKILL) ++deaths;
    std::this_thread::sleep_for(250ms);  // past --claim-after
  }
  // The last worker ran what was left: 17 failed there, and nothing else did. (Under ASan on a
  // loaded machine that worker exited 2, twice in CI-like runs and never alone: the cause is not
  // found yet; its file, printed on failure, says which rows failed.)
  std::size_t failed_17 = 0, failed_other = 0;
  for (const auto& row : rows_of(last_part))
    if (str(row.at("status")) != "ok") ++(row.at("key") == "k17" ? failed_17 : failed_other);
  EXPECT_GE(failed_17, 1u) << read_file(last_part);
  EXPECT_EQ(failed_other, 0u) << read_file(last_part);
  EXPECT_EQ(code, static_cast<int>(failed_17)) << read_file(last_part);
  EXPECT_EQ(deaths, 2);  // started twice, then dead-lettered when claimed the third time
  const auto status = sluice(shared, {"queue", "status", "--redis", server.url(), "--queue", "p"});
  EXPECT_NE(status.out.find("0 undelivered, 0 in flight, 19 done, 1 dead-lettered"),
            std::string::npos)
      << status.out;
  EXPECT_NE(redis_cli(server, "XRANGE sluice:queue:p:dead - +").find("k13"), std::string::npos);
  strings merge{"merge"};
  for (const auto& e : std::filesystem::directory_iterator(shared.path()))
    if (e.path().filename().string().rfind("part", 0) == 0) merge.push_back(e.path().string());
  merge.push_back("-o");
  merge.push_back((shared / "all.jsonl").string());
  ASSERT_EQ(sluice(shared, merge).code, 0);
  const auto rows = by_key(shared / "all.jsonl");
  EXPECT_EQ(rows.size(), 19u);
  EXPECT_EQ(str(rows.at("\"k17\"").at("status")), "failed");
  EXPECT_EQ(rows.count("\"k13\""), 0u);
}

TEST(RedisQueue, ABadEntryIsNamedByItsStreamIdAndDeadLettered) {
  // Entries not written by sluice enqueue (added by hand, or by another tool): each is named
  // by its stream id and why, moved to the dead-letter stream, and the rest run.
  redis_server server;
  temp_dir dir;
  write_file(dir / "in.jsonl", numbered_rows(3));
  ASSERT_EQ(sluice(dir, {"enqueue", "--redis", server.url(), "--queue", "b", "-i", "in.jsonl",
                         "--key", "id"})
                .code,
            0);
  const std::string not_json =
      redis_cli(server, "XADD sluice:queue:b 9999999999999-1 key x input \"$(printf '1\\nnope')\"");
  const std::string no_key = redis_cli(
      server, "XADD sluice:queue:b 9999999999999-2 key y input \"$(printf '1\\n{\"n\":9}')\"");
  const std::string unframed =
      redis_cli(server, "XADD sluice:queue:b 9999999999999-3 key z input plain");
  ASSERT_EQ(not_json, "9999999999999-1");
  ASSERT_EQ(no_key, "9999999999999-2");
  ASSERT_EQ(unframed, "9999999999999-3");
  const auto r = sluice(dir, {"worker", "--no-progress", "--redis", server.url(), "--queue", "b",
                              "-o", "part.jsonl", "--", "echo", "{n}"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(
      r.err.find("queue b: entry 9999999999999-1: the input is not a JSON object; moved to the "
                 "dead-letter stream"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("queue b: entry 9999999999999-2: the --key field \"id\" is missing"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("queue b: entry 9999999999999-3: not an entry of sluice enqueue"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(rows_of(dir / "part.jsonl").size(), 3u);
  const auto status = sluice(dir, {"queue", "status", "--redis", server.url(), "--queue", "b"});
  EXPECT_NE(status.out.find("3 done, 3 dead-lettered"), std::string::npos) << status.out;
}

TEST(RedisQueue, ARedisRestartMidRunLosesNothing) {
  redis_server server;  // an append-only file, fsynced on every write
  temp_dir shared;
  write_file(shared / "in.jsonl", numbered_rows(400));
  ASSERT_EQ(sluice(shared, {"enqueue", "--redis", server.url(), "--queue", "r", "-i",
                            (shared / "in.jsonl").string(), "--key", "id"})
                .code,
            0);
  std::array<process, 2> w;
  for (int i = 0; i < 2; ++i)
    w[i].start({"worker", "--no-progress", "--redis", server.url(), "--queue", "r", "-j", "4",
                "--claim-after", "2s", "-o",
                (shared / ("part" + std::to_string(i) + ".jsonl")).string(), "--", "sh", "-c",
                "sleep 0.01; echo {n}"});
  // Killed once the workers are well under way (a sanitizer build starts slowly).
  for (int i = 0; i < 1000; ++i) {
    const std::string done = redis_cli(server, "GET sluice:queue:r:done");
    if (!done.empty() && std::isdigit(static_cast<unsigned char>(done[0])) && std::stoi(done) >= 50)
      break;
    std::this_thread::sleep_for(10ms);
  }
  server.kill();
  std::this_thread::sleep_for(700ms);
  server.start();
  for (auto& p : w) EXPECT_EQ(p.run->wait(), 0) << p.run->err();
  const std::string err = w[0].run->err() + w[1].run->err();
  EXPECT_NE(err.find("connection lost"), std::string::npos) << err;
  strings merge{"merge", (shared / "part0.jsonl").string(), (shared / "part1.jsonl").string(), "-o",
                (shared / "all.jsonl").string()};
  ASSERT_EQ(sluice(shared, merge).code, 0);
  EXPECT_EQ(by_key(shared / "all.jsonl").size(), 400u);
}

TEST(RedisQueue, HttpWorkersSendEachRequestOnce) {
  redis_server server;
  temp_dir shared;
  const std::string tag = "queue" + std::to_string(::getpid());
  std::string in;
  for (int i = 0; i < 40; ++i) in += nginx_url("/counted/" + tag + "/" + std::to_string(i)) + "\n";
  write_file(shared / "urls.txt", in);
  ASSERT_EQ(sluice(shared, {"enqueue", "--redis", server.url(), "--queue", "h", "-i",
                            (shared / "urls.txt").string()})
                .code,
            0);
  std::array<process, 2> w;
  for (int i = 0; i < 2; ++i)
    w[i].start({"worker", "--no-progress", "--http", "--redis", server.url(), "--queue", "h", "-j",
                "4", "-o", (shared / ("part" + std::to_string(i) + ".jsonl")).string()});
  for (auto& p : w) EXPECT_EQ(p.run->wait(), 0) << p.run->err();
  std::size_t rows = 0;
  for (int i = 0; i < 2; ++i)
    for (const auto& r : rows_of(shared / ("part" + std::to_string(i) + ".jsonl"))) {
      EXPECT_EQ(r.at("status").as_int64(), 200);
      ++rows;
    }
  EXPECT_EQ(rows, 40u);
  // nginx counted each request once.
  std::size_t arrivals = 0;
  for (const auto& line : lines_of(read_file(SLUICE_NGINX_DIR "/counted.log")))
    arrivals += line.find("/counted/" + tag + "/") != std::string::npos;
  EXPECT_EQ(arrivals, 40u);
}

// ----- shared limits ------------------------------------------------------------------------

/// Answers to /limited/TAG/ in nginx's log: (time in ms, status).
std::vector<std::pair<double, int>> answers(const std::string& tag) {
  std::vector<std::pair<double, int>> out;
  for (const auto& line : lines_of(read_file(SLUICE_NGINX_DIR "/limited.log"))) {
    if (line.find("/limited/" + tag + "/") == std::string::npos) continue;
    const auto sp = line.find(' ');
    out.emplace_back(std::stod(line.substr(0, sp)) * 1000, std::stoi(line.substr(sp + 1)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RedisLimits, FourProcessesShareOneRateAtTheServer) {
  redis_server server;
  temp_dir shared;
  const std::string tag = "share" + std::to_string(::getpid());
  std::string in;
  for (int i = 0; i < 50; ++i) in += nginx_url("/limited/" + tag + "/" + std::to_string(i)) + "\n";
  write_file(shared / "urls.txt", in);
  // nginx allows 50 r/s with a burst of 5 on this tag: the four processes share -r 50 (with a
  // burst of 1: one of 5 would leave nginx one request of room for the whole run).
  std::array<process, 4> p;
  for (auto& x : p)
    x.start({"http", "--no-progress", "-j", "8", "-r", "50", "--redis", server.url(),
             "--limit-name", tag, "-i", (shared / "urls.txt").string()});
  for (auto& x : p) EXPECT_EQ(x.run->wait(), 0) << x.run->err();
  const auto a = answers(tag);
  ASSERT_EQ(a.size(), 200u);
  for (const auto& [ms, status] : a) EXPECT_EQ(status, 200) << "at " << ms;
  // Not faster than the rate. Slower by what the starts were late (each moves the shared
  // schedule): on a machine busy with other tests up to a fifth; bench/redis.sh measures the
  // rate on an idle one.
  const double span = (a.back().first - a.front().first) / 1000;
  EXPECT_GT(span, (200 - 1) / 50.0 * 0.98);
  EXPECT_LT(span, (200 - 1) / 50.0 * 1.25);
}

TEST(RedisLimits, TwoAdaptiveProcessesFindTheServersRateTogether) {
  // nginx's own limit_req (50 r/s, burst 5, 429 with Retry-After: 1) on one tag; two processes
  // share -r 400 --adaptive through Redis: any 429 lowers the one shared rate, and every
  // request ends well, with few refusals.
  redis_server server;
  temp_dir shared;
  const std::string tag = "aimd" + std::to_string(::getpid());
  for (int p = 0; p < 2; ++p) {
    std::string in;
    for (int i = 0; i < 150; ++i)
      in += nginx_url("/limited/" + tag + "/" + std::to_string(p) + "-" + std::to_string(i)) + "\n";
    write_file(shared / ("urls" + std::to_string(p) + ".txt"), in);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::array<process, 2> p;
  for (int i = 0; i < 2; ++i)
    p[i].start({"http", "--no-progress", "-j", "16", "-r", "400", "--retries", "20", "--adaptive",
                "--redis", server.url(), "--limit-name", tag, "-i",
                (shared / ("urls" + std::to_string(i) + ".txt")).string()});
  for (auto& x : p) EXPECT_EQ(x.run->wait(), 0) << x.run->err();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::size_t served = 0, refused = 0;
  for (const auto& [ms, status] : answers(tag)) (status == 429 ? refused : served)++;
  EXPECT_EQ(served, 300u);
  EXPECT_LT(refused, 300u * 15 / 100) << refused << " refused";
  // The server allows 300 in 6 s. Each process alone at 400/s, or sharing the rate without
  // --adaptive, takes about 50 s here (every 429 holds its process for the Retry-After).
  // Loose (2x) on a machine busy with other tests; bench/redis.sh measures it.
  EXPECT_LT(secs, 6 * 2.0) << refused << " refused";
  const std::string value = redis_cli(server, "HGET sluice:" + tag + ":rate:aimd value");
  EXPECT_LT(std::stod(value), 400) << "the shared rate was never lowered";
}

TEST(RedisLimits, ARedisRestartMidRunNeverLetsTheRateThrough) {
  redis_server server;
  temp_dir shared;
  const std::string tag = "restart" + std::to_string(::getpid());
  std::string in;
  for (int i = 0; i < 100; ++i) in += nginx_url("/limited/" + tag + "/" + std::to_string(i)) + "\n";
  write_file(shared / "urls.txt", in);
  std::array<process, 2> p;
  for (auto& x : p)
    x.start({"http", "--no-progress", "-j", "8", "-r", "50", "--redis", server.url(),
             "--limit-name", tag, "-i", (shared / "urls.txt").string()});
  std::this_thread::sleep_for(1s);
  server.kill();
  std::this_thread::sleep_for(1s);
  server.start();
  for (auto& x : p) EXPECT_EQ(x.run->wait(), 0) << x.run->err();
  const auto a = answers(tag);
  ASSERT_EQ(a.size(), 200u);
  for (const auto& [ms, status] : a) EXPECT_EQ(status, 200) << "at " << ms;
  const std::string err = p[0].run->err();
  EXPECT_NE(err.find("connection lost"), std::string::npos) << err;
  EXPECT_NE(err.find("connected again"), std::string::npos) << err;
}

TEST(RedisLimits, AKilledHoldersLeasesComeBackAfterTheTtl) {
  redis_server server;
  process holder;
  holder.start({"run", "--no-progress", "--redis", server.url(), "--limit-name", "lease",
                "--shared-max-at-once", "2", "--lease-ttl", "1s", "--", "sleep", "{}", ":::", "3",
                "3"});
  for (int i = 0; i < 200 && redis_cli(server, "ZCARD sluice:lease:at-once") != "2"; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(redis_cli(server, "ZCARD sluice:lease:at-once"), "2");
  holder.run->signal(SIGKILL);
  holder.run->wait();
  const auto t0 = clock_type::now();
  process next;
  next.start({"run", "--no-progress", "--redis", server.url(), "--limit-name", "lease",
              "--shared-max-at-once", "2", "--lease-ttl", "1s", "--", "true", ":::", "x", "y"});
  EXPECT_EQ(next.run->wait(), 0) << next.run->err();
  const auto took = clock_type::now() - t0;
  EXPECT_GT(took, 300ms);   // the dead holder's places stayed taken for a while...
  EXPECT_LT(took, 1600ms);  // ...at most the lease time (and a renewal's third of it) after
  EXPECT_EQ(redis_cli(server, "ZCARD sluice:lease:at-once"), "0");  // given back at the end
}

TEST(RedisLimits, AtMostNAtOnceAcrossProcesses) {
  redis_server server;
  temp_dir shared;
  // Each task appends "+" when it starts and "-" when it ends, to one file: the most at once.
  const std::string log = (shared / "log").string();
  std::array<process, 3> p;
  for (auto& x : p)
    x.start({"run",
             "--no-progress",
             "-j",
             "4",
             "--redis",
             server.url(),
             "--limit-name",
             "cap",
             "--shared-max-at-once",
             "3",
             "--",
             "sh",
             "-c",
             "echo + >> " + log + "; sleep 0.05; echo - >> " + log,
             ":::",
             "1",
             "2",
             "3",
             "4",
             "5",
             "6"});
  for (auto& x : p) EXPECT_EQ(x.run->wait(), 0) << x.run->err();
  int now = 0, most = 0, starts = 0;
  for (const auto& l : lines_of(read_file(shared / "log"))) {
    now += l == "+" ? 1 : -1;
    starts += l == "+";
    most = std::max(most, now);
  }
  EXPECT_EQ(starts, 18);
  EXPECT_LE(most, 3);
  EXPECT_GE(most, 2);
}

TEST(RedisLimits, BadUsageAndAWrongPassword) {
  redis_server server({"--requirepass", "s3cret"});
  temp_dir dir;
  const std::string port = std::to_string(server.port());
  auto r = sluice(dir, {"run", "--limit-name", "x", "--", "true", ":::", "a"});
  EXPECT_EQ(r.code, 101);
  EXPECT_NE(r.err.find("--limit-name shares limits through Redis: give --redis URL"),
            std::string::npos)
      << r.err;
  r = sluice(dir, {"run", "--redis", "http://127.0.0.1", "-r", "5", "--limit-name", "x", "--",
                   "true", ":::", "a"});
  EXPECT_EQ(r.code, 101);
  EXPECT_NE(r.err.find("the scheme must be redis or rediss"), std::string::npos) << r.err;
  r = sluice(dir,
             {"run", "--redis", "redis://127.0.0.1:" + port, "-r", "5", "--", "true", ":::", "a"});
  EXPECT_EQ(r.code, 101);
  EXPECT_NE(r.err.find("--redis needs --limit-name NAME"), std::string::npos) << r.err;
  r = sluice(dir, {"run", "--redis", "redis://:wrong@127.0.0.1:" + port, "-r", "5", "--limit-name",
                   "x", "--", "true", ":::", "a"});
  EXPECT_EQ(r.code, 101);
  EXPECT_NE(r.err.find("authentication failed"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wrong"), std::string::npos) << r.err;  // the password is never shown
  r = sluice(dir, {"run", "--redis", "redis://:s3cret@127.0.0.1:" + port, "-r", "5", "--limit-name",
                   "x", "--", "echo", "{}", ":::", "a"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "a\n");
  r = sluice(dir, {"worker", "--redis", "redis://127.0.0.1:" + port, "--queue", "q", "--", "true"});
  EXPECT_EQ(r.code, 101);
  EXPECT_NE(r.err.find("sluice worker needs -o FILE.jsonl"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sluice::test
