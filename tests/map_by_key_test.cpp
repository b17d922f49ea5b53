// map_by_key_jsonl_file: the seed's catalogue (translated, comparing parsed JSON), resume by
// row identity where the seed duplicates and drops rows, and cancellation that the seed
// swallows.
#include "sluice/map_by_key.hpp"
#include "files.hpp"
#include "sluice/errors.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace sluice::test {
namespace {

using namespace boost::asio::experimental::awaitable_operators;

const std::string in_trivial = jsonl({{{"key", 10}, {"other", "A"}, {"discarded", "X"}},
                                      {{"key", 20}, {"other", "B"}, {"discarded", "Y"}},
                                      {{"key", 10}, {"other", "C"}, {"discarded", "Z"}}});
const std::vector<json::value> out_trivial = {
    json::parse(R"({"other": "A", "key": 10, "result": 11})"),
    json::parse(R"({"other": "B", "key": 20, "result": 21})"),
    json::parse(R"({"other": "C", "key": 10, "result": 11})")};

/// The seed's compute: {"result": key + 1, "key": key}, counting calls per key.
struct compute {
  std::map<std::int64_t, int>* calls;
  asio::awaitable<json::object> operator()(const json::object& row) const {
    std::int64_t k = row.at("key").as_int64();
    ++(*calls)[k];
    co_return json::object{{"result", k + 1}, {"key", k}};
  }
};

map_by_key_options seed_options(std::vector<std::string> keep = {"other"}) {
  return {.key = "key", .num_concurrent = 1, .keep_columns = std::move(keep)};
}

struct files {
  temp_dir d;
  std::filesystem::path src = d / "in.jsonl", dst = d / "out.jsonl";
  explicit files(const std::string& in) { write_file(src, in); }
};

TEST(MapByKey, TheSeedsExampleGivesExactlyItsOutputInSourceOrder) {
  files f(in_trivial);
  std::map<std::int64_t, int> calls;
  auto s = run_io(map_by_key_jsonl_file(f.src, f.dst, compute{&calls}, seed_options()));
  EXPECT_EQ(read_rows(f.dst), out_trivial);
  // Column order: keep columns, the key, then f's columns.
  EXPECT_EQ(read_file(f.dst).substr(0, 35), R"({"other":"A","key":10,"result":11})"
                                            "\n");
  EXPECT_EQ(calls, (std::map<std::int64_t, int>{{10, 1}, {20, 1}}));
  EXPECT_EQ(s.rows_written, 3U);
  EXPECT_EQ(s.calls, 2U);
}

TEST(MapByKey, OutOfOrderFinishStillGivesTheRightRows) {
  files f(in_trivial);
  // Key 10's f waits until key 20's f has run: needs num_concurrent 2.
  auto gate = std::make_shared<std::optional<vtimer>>();
  auto fn = [gate](const json::object& row) -> asio::awaitable<json::object> {
    std::int64_t k = row.at("key").as_int64();
    if (!*gate) gate->emplace(co_await asio::this_coro::executor, manual_clock::time_point::max());
    if (k == 10) {
      co_await (*gate)->async_wait(asio::as_tuple(asio::use_awaitable));
      gate->reset();  // while the io_context lives
    } else {
      co_await sleep(1ms);
      (*gate)->cancel();
    }
    co_return json::object{{"result", k + 1}};
  };
  auto o = seed_options();
  o.num_concurrent = 2;
  run_virtual(map_by_key_jsonl_file(f.src, f.dst, fn, o));
  EXPECT_EQ(read_rows(f.dst), out_trivial);
}

TEST(MapByKey, ResumeDoesNotRecompute) {
  files f(in_trivial);
  write_file(f.dst, R"({"other":"A","key":10,"result":11})"
                    "\n");
  std::map<std::int64_t, int> calls;
  auto s = run_io(map_by_key_jsonl_file(f.src, f.dst, compute{&calls}, seed_options()));
  EXPECT_EQ(calls, (std::map<std::int64_t, int>{{20, 1}}));
  EXPECT_EQ(read_rows(f.dst), out_trivial);
  EXPECT_EQ(s.rows_resumed, 1U);
  EXPECT_EQ(s.rows_written, 2U);
}

TEST(MapByKey, EmptyKeepColumnsGiveTheKeyAndFsColumns) {
  files f(in_trivial);
  std::map<std::int64_t, int> calls;
  run_io(map_by_key_jsonl_file(f.src, f.dst, compute{&calls}, seed_options({})));
  for (const auto& r : read_rows(f.dst)) {
    EXPECT_EQ(r.as_object().size(), 2U);
    EXPECT_TRUE(r.as_object().contains("key") && r.as_object().contains("result"));
  }
}

auto failing_for(std::set<std::int64_t> bad, std::map<std::int64_t, int>* calls = nullptr) {
  return [bad, calls](const json::object& row) -> asio::awaitable<json::object> {
    std::int64_t k = row.at("key").as_int64();
    if (calls) ++(*calls)[k];
    if (bad.count(k)) throw std::runtime_error("f fails for " + std::to_string(k));
    co_return json::object{{"result", k + 1}};
  };
}

TEST(MapByKey, UnderPrintAFailedKeysRowsAreLeftOutAndReported) {
  files f(in_trivial);
  std::vector<std::string> said;
  std::vector<bool> progress;
  auto o = seed_options();
  o.errors = on_error::print;
  o.report = [&](std::string_view m) { said.emplace_back(m); };
  o.progress = [&](bool ok) { progress.push_back(ok); };
  auto s = run_io(map_by_key_jsonl_file(f.src, f.dst, failing_for({10}), o));
  EXPECT_EQ(read_rows(f.dst), (std::vector<json::value>{out_trivial[1]}));
  EXPECT_EQ(said, (std::vector<std::string>{f.src.string() +
                                            ":1: f failed for key 10 (its rows are left out): "
                                            "f fails for 10"}));
  EXPECT_EQ(progress, (std::vector<bool>{false, true, false}));
  EXPECT_EQ(s.rows_failed, 2U);
  EXPECT_EQ(s.keys_failed, 1U);
}

TEST(MapByKey, UnderRaiseFsOwnErrorPropagates) {
  files f(in_trivial);
  try {
    run_io(map_by_key_jsonl_file(f.src, f.dst, failing_for({10, 20}), seed_options()));
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "f fails for 10");
  }
}

TEST(MapByKey, UnderRaiseRowsWrittenBeforeTheFailureStay) {
  files f(in_trivial);
  EXPECT_THROW(run_io(map_by_key_jsonl_file(f.src, f.dst, failing_for({20}), seed_options())),
               std::runtime_error);
  auto rows = read_rows(f.dst);
  ASSERT_FALSE(rows.empty());
  for (const auto& r : rows) EXPECT_EQ(r.at("key"), 10);
}

// The seed resumes by counting lines: with src keys [1,2,1,3,2,1] and key 2 failing under
// print, its rerun writes o=5 twice and never writes o=1. Here each src row is written once.
TEST(MapByKey, ResumeAfterAFailedKeyWritesEveryRowExactlyOnce) {
  std::string in;
  std::int64_t keys[] = {1, 2, 1, 3, 2, 1};
  for (std::int64_t o = 0; o < 6; ++o) in += jsonl({{{"key", keys[o]}, {"o", o}}});
  files f(in);
  auto o = seed_options({"o"});
  o.errors = on_error::print;
  o.report = [](std::string_view) {};
  run_io(map_by_key_jsonl_file(f.src, f.dst, failing_for({2}), o));
  EXPECT_EQ(read_rows(f.dst).size(), 4U);
  std::map<std::int64_t, int> calls;
  run_io(map_by_key_jsonl_file(f.src, f.dst, failing_for({}, &calls), o));
  EXPECT_EQ(calls, (std::map<std::int64_t, int>{{2, 1}}));
  EXPECT_EQ(
      count_by(read_rows(f.dst), "o"),
      (std::map<std::string, int>{{"0", 1}, {"1", 1}, {"2", 1}, {"3", 1}, {"4", 1}, {"5", 1}}));
  for (const auto& r : read_rows(f.dst))
    EXPECT_EQ(r.at("result").as_int64(), r.at("key").as_int64() + 1);
}

TEST(MapByKey, CancellingTheCallerCancelsFAndPropagates) {
  files f(in_trivial);
  int cancelled = 0;
  auto hang = [&cancelled](const json::object&) -> asio::awaitable<json::object> {
    try {
      co_await sleep(std::chrono::hours(1));
    } catch (const boost::system::system_error&) {
      ++cancelled;
      throw;
    }
    co_return json::object{};
  };
  auto o = seed_options();  // (GCC 12: no braced string lists inside co_await)
  auto race = [&]() -> asio::awaitable<std::size_t> {
    auto r = co_await (map_by_key_jsonl_file(f.src, f.dst, hang, o) || sleep(5ms));
    co_return r.index();
  };
  EXPECT_EQ(run_virtual(race()), 1U);  // the timer won; the map ended instead of hanging
  EXPECT_EQ(cancelled, 1);
  EXPECT_TRUE(read_rows(f.dst).empty());
}

TEST(MapByKey, FMayOverrideAKeptColumnAndResumeKeepsItsValue) {
  files f(in_trivial);
  auto fn = [](const json::object& row) -> asio::awaitable<json::object> {
    co_return json::object{{"other", "from f " + std::string(row.at("other").as_string())},
                           {"result", 1}};
  };
  run_io(map_by_key_jsonl_file(f.src, f.dst, fn, seed_options()));
  auto full = read_rows(f.dst);
  EXPECT_EQ(full[2], json::parse(R"({"other":"from f A","key":10,"result":1})"));
  // Crash after the first row: the rerun rebuilds key 10's result from it, override included.
  write_file(f.dst, json::serialize(full[0]) + "\n");
  std::map<std::int64_t, int> calls;
  auto counting = [&calls, fn](const json::object& row) {
    ++calls[row.at("key").as_int64()];
    return fn(row);
  };
  run_io(map_by_key_jsonl_file(f.src, f.dst, counting, seed_options()));
  EXPECT_EQ(read_rows(f.dst), full);
  EXPECT_EQ(calls, (std::map<std::int64_t, int>{{20, 1}}));
}

TEST(MapByKey, FMayNotChangeTheKey) {
  files f(in_trivial);
  auto fn = [](const json::object&) -> asio::awaitable<json::object> {
    co_return json::object{{"key", "OVR"}};
  };
  try {
    run_io(map_by_key_jsonl_file(f.src, f.dst, fn, seed_options()));
    FAIL() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(std::string(e.what()),
              f.src.string() + ":1: f changed key 10 to \"OVR\"; f may not change the key column");
  }
}

TEST(MapByKey, BadSourceRowsAreNamed) {
  files f(jsonl({{{"key", 1}, {"other", "a"}}, {{"nokey", 2}}, {{"key", 3}}}));
  try {
    std::map<std::int64_t, int> calls;
    run_io(map_by_key_jsonl_file(f.src, f.dst, compute{&calls}, seed_options()));
    FAIL() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(std::string(e.what()), f.src.string() + ":2: field \"key\" (the key) is missing");
  }
  std::vector<std::string> said;
  auto o = seed_options();
  o.errors = on_error::print;
  o.report = [&](std::string_view m) { said.emplace_back(m); };
  std::filesystem::remove(f.dst);
  std::map<std::int64_t, int> calls;
  run_io(map_by_key_jsonl_file(f.src, f.dst, compute{&calls}, o));
  EXPECT_EQ(said, (std::vector<std::string>{
                      f.src.string() + ":2: field \"key\" (the key) is missing",
                      f.src.string() + ":3: field \"other\" (a keep column) is missing"}));
  EXPECT_EQ(read_rows(f.dst).size(), 1U);
}

TEST(MapByKey, DestinationRowsThatTheSourceLacksAreInconsistencies) {
  files f(in_trivial);
  write_file(f.dst, jsonl({{{"other", "A"}, {"key", 10}, {"result", 11}},
                           {{"other", "Q"}, {"key", 99}, {"result", 100}}}));
  std::map<std::int64_t, int> calls;
  try {
    run_io(map_by_key_jsonl_file(f.src, f.dst, compute{&calls}, seed_options()));
    FAIL() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(std::string(e.what()),
              f.dst.string() + ": has 1 rows for key 99, but " + f.src.string() + " has 0");
  }
}

TEST(MapByKey, ATornLastLineOfTheDestinationIsCutAway) {
  files f(in_trivial);
  write_file(f.dst, R"({"other":"A","key":10,"result":11})"
                    "\n"
                    R"({"other":"B","ke)");
  std::vector<std::string> said;
  auto o = seed_options();
  o.report = [&](std::string_view m) { said.emplace_back(m); };
  std::map<std::int64_t, int> calls;
  auto s = run_io(map_by_key_jsonl_file(f.src, f.dst, compute{&calls}, o));
  EXPECT_EQ(read_rows(f.dst), out_trivial);
  EXPECT_EQ(s.torn_bytes, 16U);
  EXPECT_EQ(said.size(), 1U);
}

TEST(MapByKey, TheWindowBoundsHowFarSourceIsReadAhead) {
  files f(jsonl({{{"key", 1}}, {{"key", 2}}, {{"key", 3}}, {{"key", 4}}}));
  std::vector<std::int64_t> started;
  auto fn = [&started](const json::object& row) -> asio::awaitable<json::object> {
    std::int64_t k = row.at("key").as_int64();
    started.push_back(k);
    co_await sleep(k == 1 ? 10ms : 1ms);
    co_return json::object{{"t", vnow() / 1ms}};
  };
  auto o = seed_options({});
  o.num_concurrent = 4;
  o.window = 2;
  run_virtual(map_by_key_jsonl_file(f.src, f.dst, fn, o));
  // Rows 1 and 2 fill the window; 3 is read only once row 1 is written (at 10 ms).
  std::vector<std::int64_t> t;
  for (const auto& r : read_rows(f.dst)) t.push_back(r.at("t").as_int64());
  EXPECT_EQ(t, (std::vector<std::int64_t>{10, 1, 11, 11}));
}

TEST(MapByKey, InvalidOptionsAreRejected) {
  files f(in_trivial);
  std::map<std::int64_t, int> calls;
  auto o = seed_options();
  o.num_concurrent = 0;
  EXPECT_THROW(run_io(map_by_key_jsonl_file(f.src, f.dst, compute{&calls}, o)),
               std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(f.dst));
}

}  // namespace
}  // namespace sluice::test
