// `sluice http`, the real binary, against the fault-injecting server of tests/http_server.hpp
// on loopback: rows, statuses, retries with Retry-After, keep-alive, transport failures,
// JSON bodies and resume.
#include "../files.hpp"
#include "../http_server.hpp"
#include "../nginx.hpp"
#include "cli_support.hpp"

#include <sluice/bytes_field.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <thread>

#include <unistd.h>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

TEST(HttpCli, WritesARowPerRequestWithStatusBodyAndHeaders) {
  http_test_server server;
  temp_dir d;
  const std::string base = server.url("");
  auto r = sluice(d, {"http", "-o", "r.jsonl", "-k", "--keep-header", "Content-Type", "--url",
                      base + "{}", ":::", "/ok", "/json", "/status/404"});
  EXPECT_EQ(r.code, 1) << r.err;  // the 404
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["ok"], true);
  EXPECT_EQ(rows[0]["status"], 200);
  EXPECT_EQ(rows[0]["body"], "ok");
  EXPECT_EQ(rows[0]["headers"].as_object()["Content-Type"], "text/plain");
  EXPECT_EQ(rows[1]["body"], (json::object{{"a", 1}}));  // JSON stays JSON
  EXPECT_EQ(rows[2]["ok"], false);
  EXPECT_EQ(rows[2]["status"], 404);
  for (auto& row : rows)
    for (auto field :
         {"key", "occurrence", "input", "url", "started_at", "duration_ms", "attempts"})
      EXPECT_TRUE(row.contains(field)) << field;
  // --ok-status makes the 404 a success.
  r = sluice(d, {"http", "-o", "r2.jsonl", "--ok-status", "200-299,404", "--url", base + "{}",
                 ":::", "/ok", "/status/404"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(HttpCli, ABinaryBodyAndALatin1HeaderAreKeptExactlyInValidJson) {
  http_test_server server;
  temp_dir d;
  auto r = sluice(d, {"http", "-o", "r.jsonl", "--keep-header", "X-Name", "--url",
                      server.url("/binary"), ":::", "x"});
  EXPECT_EQ(r.code, 0) << r.err;
  const auto rows = rows_of(d / "r.jsonl");  // Boost.JSON rejects text that is not UTF-8
  ASSERT_EQ(rows.size(), 1u);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(get_bytes(rows[0], "body"), all);
  EXPECT_TRUE(rows[0].contains("body_b64"));
  EXPECT_EQ(get_bytes(rows[0].at("headers").as_object(), "X-Name"), "caf\xe9");
  EXPECT_EQ(rows[0].at("headers").at("X-Name"), "caf\xef\xbf\xbd");
}

TEST(HttpCli, RetriesServerErrorsAndHoldsStartsForRetryAfter) {
  http_test_server server;
  temp_dir d;
  auto r = sluice(d, {"http", "-o", "r.jsonl", "--retries", "3", "--backoff", "10ms", "--url",
                      server.url("/flaky/2/{}"), ":::", "x"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["attempts"], 3);  // two 503s, then 200
  // A 429 with Retry-After: 1 holds the next start a second, though the backoff is 10 ms.
  const auto t0 = std::chrono::steady_clock::now();
  r = sluice(d, {"http", "-o", "r2.jsonl", "--retries", "1", "--backoff", "10ms", "--url",
                 server.url("/retry-after/1"), ":::", "y"});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.code, 1);
  rows = rows_of(d / "r2.jsonl");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["status"], 429);
  EXPECT_EQ(rows[0]["attempts"], 2);
  EXPECT_GE(took, 900ms);
  // --max-retry-wait caps it.
  const auto t1 = std::chrono::steady_clock::now();
  r = sluice(d, {"http", "-o", "r3.jsonl", "--retries", "1", "--backoff", "10ms",
                 "--max-retry-wait", "50ms", "--url", server.url("/retry-after/30"), ":::", "z"});
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 5s);
  EXPECT_EQ(rows_of(d / "r3.jsonl")[0]["attempts"], 2);
}

TEST(HttpCli, ReusesConnectionsAndResumesWithoutResending) {
  http_test_server server;
  temp_dir d;
  std::string in;
  for (int i = 0; i < 300; ++i) in += "/slow/1?" + std::to_string(i) + "\n";
  auto r = sluice(d, {"http", "-j", "8", "-o", "r.jsonl", "--url", server.url("{}")}, in);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(rows_of(d / "r.jsonl").size(), 300u);
  EXPECT_EQ(server.requests(), 300u);
  EXPECT_LE(server.accepted(), 8u);  // keep-alive: at most one connection per -j place
  r = sluice(d, {"http", "-j", "8", "-o", "r.jsonl", "--url", server.url("{}")}, in);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(server.requests(), 300u);  // all done already
}

TEST(HttpCli, ATransportFailureHasItsOwnErrorField) {
  http_test_server server;
  temp_dir d;
  auto r = sluice(d, {"http", "-o", "r.jsonl", "--timeout", "300ms", "--url", server.url("{}"),
                      ":::", "/never", "/malformed"});
  EXPECT_EQ(r.code, 2);
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  std::map<std::string, std::string> error_of;
  for (auto& row : rows) {
    EXPECT_TRUE(row["status"].is_null());
    EXPECT_EQ(row["ok"], false);
    error_of[str(row["input"])] = str(row["error"]);
  }
  EXPECT_NE(error_of["/never"].find("total timeout"), std::string::npos) << error_of["/never"];
  EXPECT_NE(error_of["/malformed"].find("malformed"), std::string::npos) << error_of["/malformed"];
}

TEST(HttpCli, SendsTemplatedHeadersAndAJsonFieldAsTheBody) {
  http_test_server server;
  temp_dir d;
  write_file(d / "in.jsonl", R"({"id":7,"tag":"t7","payload":{"x":[1,2]}})"
                             "\n");
  auto r =
      sluice(d, {"http", "-X", "POST", "-i", "in.jsonl", "--key", "id", "-o", "r.jsonl", "--url",
                 server.url("/echo"), "-H", "X-Test: {tag}", "--body-field", "payload"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 1u);
  auto echo = rows[0]["body"].as_object();
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["x_test"], "t7");
  EXPECT_EQ(json::parse(echo["body"].as_string()), json::parse(R"({"x":[1,2]})"));
  // Usage errors name the flag.
  r = sluice(d, {"http", "-H", "no colon", ":::", "a"});
  EXPECT_EQ(r.code, 101);
  EXPECT_NE(r.err.find("--header"), std::string::npos) << r.err;
  r = sluice(d, {"http", "--ok-status", "2xx", ":::", "a"});
  EXPECT_EQ(r.code, 101);
  r = sluice(d, {"http", "--url", "{nope}", ":::", "a"});
  EXPECT_EQ(r.code, 101);
}

// ---- against the real nginx of the CTest fixture (tests/nginx.hpp)

/// A tag for this test's requests in nginx's shared counted.log, unique to this run.
std::string unique_tag(const std::string& name) {
  static int runs = 0;
  return name + "-" + std::to_string(::getpid()) + "-" + std::to_string(++runs) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

/// The arrival times (ms) nginx logged for request URIs that hold `tag`, in order.
std::vector<double> arrivals_at_nginx(const std::string& tag) {
  std::vector<double> ms;
  for (const auto& line : lines_of(read_file(SLUICE_NGINX_DIR "/counted.log")))
    if (line.find(tag) != std::string::npos) ms.push_back(std::stod(line) * 1000);
  std::sort(ms.begin(), ms.end());
  return ms;
}

/// The most arrivals in any window [t, t + width_ms).
std::size_t most_in_any_window(const std::vector<double>& ms, double width_ms) {
  std::size_t most = 0;
  for (std::size_t i = 0, j = 0; i < ms.size(); ++i) {
    while (ms[i] - ms[j] >= width_ms) ++j;
    most = std::max(most, i - j + 1);
  }
  return most;
}

TEST(HttpCliNginx, AWindowAndAGapHoldAsNginxCountsTheArrivals) {
  temp_dir d;
  const std::string tag = unique_tag("window");
  std::string in;
  for (int i = 0; i < 20; ++i) in += "/counted/" + tag + "/" + std::to_string(i) + "\n";
  auto r = sluice(
      d, {"http", "-j", "16", "--window", "5/1s", "-o", "r.jsonl", "--url", nginx_url("{}")}, in);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto ms = arrivals_at_nginx(tag);
  ASSERT_EQ(ms.size(), 20u);
  // sluice admits exactly 5 in any second (limit_set_test proves it on virtual time).
  // nginx logs each arrival after the scheduling of two processes on a machine that CI keeps
  // busy with other tests (tens of ms of jitter seen), and the bursts sit on the window's
  // edge: this checks the server's count with that jitter allowed (a GCRA at 5/s with burst
  // 5 shows 9 or 10 here); bench/limits.sh measures the exact count on an idle machine.
  EXPECT_LE(most_in_any_window(ms, 850), 5u);
  // Four bursts of five, at 0, 1, 2 and 3 s: the last within 5% of the ideal 3 s.
  EXPECT_GE(ms.back() - ms.front(), 2850);
  EXPECT_LE(ms.back() - ms.front(), 3150);
  // --min-gap: every arrival at least the gap after the one before.
  const std::string gap_tag = unique_tag("gap");
  in.clear();
  for (int i = 0; i < 8; ++i) in += "/counted/" + gap_tag + "/" + std::to_string(i) + "\n";
  r = sluice(d, {"http", "-j", "8", "--min-gap", "100ms", "--url", nginx_url("{}")}, in);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto gaps = arrivals_at_nginx(gap_tag);
  ASSERT_EQ(gaps.size(), 8u);
  EXPECT_GE(gaps.back() - gaps.front(), 7 * 100 - 50);  // (jitter as above)
  EXPECT_LE(most_in_any_window(gaps, 50), 1u);
}

TEST(HttpCliNginx, ACostWindowCountsEachRequestsTokensAtTheServer) {
  temp_dir d;
  const std::string tag = unique_tag("tokens");
  const int tokens[] = {60, 30, 10, 50, 50, 40, 20, 80, 5, 15};  // 360 in all
  std::string rows;
  std::map<std::string, int> cost_of;
  for (int i = 0; i < 10; ++i) {
    rows += "{\"i\":" + std::to_string(i) + ",\"tokens\":" + std::to_string(tokens[i]) + "}\n";
    cost_of["/counted/" + tag + "/" + std::to_string(i)] = tokens[i];
  }
  write_file(d / "in.jsonl", rows);
  auto r = sluice(d, {"http", "-j", "4", "--cost", "tokens", "--cost-window", "100/1s", "-o",
                      "r.jsonl", "-i", "in.jsonl", "--url", nginx_url("/counted/" + tag + "/{i}")});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::pair<double, int>> arrivals;  // (ms, tokens) as nginx logged them
  for (const auto& line : lines_of(read_file(SLUICE_NGINX_DIR "/counted.log")))
    if (line.find(tag) != std::string::npos)
      arrivals.emplace_back(std::stod(line) * 1000, cost_of.at(line.substr(line.find(' ') + 1)));
  ASSERT_EQ(arrivals.size(), 10u);
  std::sort(arrivals.begin(), arrivals.end());
  // At most 100 tokens in any second (850 ms: the jitter of the window test above allowed).
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    int sum = 0;
    for (std::size_t j = i; j < arrivals.size() && arrivals[j].first - arrivals[i].first < 850; ++j)
      sum += arrivals[j].second;
    EXPECT_LE(sum, 100) << "from arrival " << i;
  }
  // 360 tokens at 100 a second: the last start is at least 3 s after the first.
  EXPECT_GE(arrivals.back().first - arrivals.front().first, 2850);
}

TEST(HttpCliNginx, ThousandsOfRequestsInInputOrder) {
  temp_dir d;
  const strings paths{"/small.txt", "/data.json", "/status/404"};
  std::string in;
  for (int i = 0; i < 3000; ++i) in += paths[i % 3] + "?i=" + std::to_string(i) + "\n";
  auto r = sluice(d, {"http", "-j", "32", "-k", "-o", "r.jsonl", "--url", nginx_url("{}")}, in);
  EXPECT_EQ(r.code, 100) << r.err;  // 1,000 404s: 100 or more failures
  auto rows = rows_of(d / "r.jsonl");
  ASSERT_EQ(rows.size(), 3000u);
  for (int i = 0; i < 3000; ++i) {
    auto& row = rows[i];
    ASSERT_EQ(str(row["input"]), paths[i % 3] + "?i=" + std::to_string(i));  // -k: input order
    switch (i % 3) {
      case 0:
        EXPECT_EQ(row["status"], 200);
        EXPECT_EQ(str(row["body"]), std::string(100, 'a'));
        break;
      case 1:
        EXPECT_EQ(row["body"], json::parse(R"({"n":1,"name":"sluice"})"));  // JSON stays JSON
        break;
      case 2:
        EXPECT_EQ(row["status"], 404);
        EXPECT_EQ(row["ok"], false);
        break;
    }
  }
}

TEST(HttpCliNginx, MaxPerHostBoundsTheConnectionsNginxSees) {
  temp_dir d;
  std::string in;
  for (int i = 0; i < 600; ++i) in += "/conn?i=" + std::to_string(i) + "\n";
  auto r = sluice(
      d, {"http", "-j", "16", "--max-per-host", "2", "-o", "r.jsonl", "--url", nginx_url("{}")},
      in);
  EXPECT_EQ(r.code, 0) << r.err;
  std::map<std::string, int> carried;  // nginx's connection number -> requests it carried
  for (auto& row : rows_of(d / "r.jsonl")) {
    auto [conn, count] = connection_and_count(str(row["body"]));
    carried[conn] = std::max(carried[conn], count);
  }
  EXPECT_LE(carried.size(), 2u);
  int total = 0;
  for (auto& [conn, n] : carried) total += n;
  EXPECT_EQ(total, 600);
}

TEST(HttpCliNginx, KilledAtRandomMomentsAResumeLosesAndRepeatsNoRow) {
  temp_dir d;
  std::string in;
  for (int i = 0; i < 400; ++i) in += "/small.txt?i=" + std::to_string(i) + "\n";
  write_file(d / "in.txt", in);
  const strings args{"http",    "-j", "8",      "-r",    "400",          "-o",
                     "r.jsonl", "-i", "in.txt", "--url", nginx_url("{}")};
  std::mt19937 rng(20261121);
  for (int k = 0; k < 4; ++k) {
    cli_run run(d, args);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 150));
    run.signal(k % 2 ? SIGKILL : SIGINT);
    EXPECT_EQ(run.wait(), k % 2 ? 128 + SIGKILL : 130) << run.err();
  }
  auto r = sluice(d, args);
  EXPECT_EQ(r.code, 0) << r.err;
  std::map<std::string, int> count;
  for (const auto& line : lines_of(read_file(d / "r.jsonl"))) {
    auto row = json::parse(line).as_object();  // none torn
    EXPECT_EQ(row["status"], 200);
    ++count[str(row["key"])];
  }
  EXPECT_EQ(count.size(), 400u);
  for (auto& [key, n] : count) EXPECT_EQ(n, 1) << key;
}

TEST(HttpCliNginx, PerKeyLimitsHoldForEachKeyAndLetTheOthersPass) {
  temp_dir d;
  const std::string tag = unique_tag("perkey");
  std::string rows;
  for (int i = 0; i < 6; ++i)
    for (const char* user : {"alice", "bob"})
      rows += std::string("{\"user\":\"") + user + "\",\"i\":" + std::to_string(i) + "}\n";
  write_file(d / "in.jsonl", rows);
  auto r = sluice(
      d, {"http", "-j", "8", "--per-key", "user", "--per-key-window", "2/1s", "-o", "r.jsonl", "-i",
          "in.jsonl", "--url", nginx_url("/counted/" + tag + "/{user}/{i}")});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto alice = arrivals_at_nginx(tag + "/alice/");
  const auto bob = arrivals_at_nginx(tag + "/bob/");
  ASSERT_EQ(alice.size(), 6u);
  ASSERT_EQ(bob.size(), 6u);
  // Each user: at most 2 in any second as nginx counts them (jitter allowed as above), so
  // 6 take at least 2 s; and neither waits behind the other: both start at once.
  for (const auto* user : {&alice, &bob}) {
    EXPECT_LE(most_in_any_window(*user, 850), 2u);
    EXPECT_GE(user->back() - user->front(), 1850);
    EXPECT_LE(user->back() - user->front(), 2300);
  }
  EXPECT_LT(std::abs(alice.front() - bob.front()), 300);
}

TEST(HttpCliNginx, AtTheConfiguredRateLimitReqRefusesNothing) {
  // nginx's limit_req at 50 r/s with a burst of 5 counts the starts itself: -r 50 keeps to it
  // (the burst absorbs the jitter of two processes' scheduling), every request answered 200.
  temp_dir d;
  const std::string tag = unique_tag("atrate");
  std::string in;
  for (int i = 0; i < 60; ++i) in += "/limited/" + tag + "/" + std::to_string(i) + "\n";
  auto r =
      sluice(d, {"http", "-j", "8", "-r", "50", "-o", "r.jsonl", "--url", nginx_url("{}")}, in);
  ASSERT_EQ(r.code, 0) << r.err;
  std::size_t refused = 0, served = 0;
  for (const auto& line : lines_of(read_file(SLUICE_NGINX_DIR "/limited.log"))) {
    if (line.find(tag) == std::string::npos) continue;
    (line.find(" 429 ") != std::string::npos ? refused : served)++;
  }
  EXPECT_EQ(refused, 0u);
  EXPECT_EQ(served, 60u);
}

TEST(HttpCliNginx, AdaptiveFindsLimitReqsRateWithFewRefusals) {
  // nginx's own limit_req (50 r/s, burst 5, 429 with Retry-After: 1) judges: sluice starts at
  // 400 r/s, lowers its rate on the 429s, and every request ends well, with few refusals.
  temp_dir d;
  const std::string tag = unique_tag("adaptive");
  std::string in;
  for (int i = 0; i < 300; ++i) in += "/limited/" + tag + "/" + std::to_string(i) + "\n";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = sluice(d,
                  {"http", "-j", "16", "-r", "400", "--retries", "20", "--adaptive", "-o",
                   "r.jsonl", "--url", nginx_url("{}")},
                  in);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(rows_of(d / "r.jsonl").size(), 300u);
  std::size_t refused = 0, served = 0;
  for (const auto& line : lines_of(read_file(SLUICE_NGINX_DIR "/limited.log"))) {
    if (line.find(tag) == std::string::npos) continue;
    (line.find(" 429 ") != std::string::npos ? refused : served)++;
  }
  EXPECT_EQ(served, 300u);
  EXPECT_LT(refused, 300u * 15 / 100) << refused << " refused";
  // The server allows 300 in 6 s; without --adaptive this takes about 50 s (each 429 holds
  // every start for its Retry-After). Loose here (1.5x), measured in bench/limits.sh.
  EXPECT_LT(secs, 6 * 1.5) << refused << " refused";
}

}  // namespace
}  // namespace sluice::test
