// create_or_resume_jsonl_file and its run_bounded form: the seed's catalogue (translated,
// comparing parsed JSON), the torn line, and the bad-input catalogue.
#include "sluice/resumable_file.hpp"
#include "files.hpp"
#include "sluice/errors.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

namespace sluice::test {
namespace {

using needs = std::vector<std::pair<std::string, std::size_t>>;

needs text_of(const std::vector<key_need>& need) {
  needs out;
  for (const auto& n : need) out.emplace_back(json::serialize(n.key), n.count);
  return out;
}

/// A value generator that records what it was asked and makes the rows as plain objects.
struct recorder {
  std::vector<needs>* asked;
  std::vector<json::object> operator()(const std::vector<key_need>& need) const {
    asked->push_back(text_of(need));
    std::vector<json::object> rows;
    for (const auto& n : need)
      for (std::size_t i = 0; i < n.count; ++i) rows.push_back({{"k", n.key}, {"v", i}});
    return rows;
  }
};

struct messages {
  std::vector<std::string> said;
  report_fn fn() {
    return [this](std::string_view m) { said.emplace_back(m); };
  }
};

resume_summary create(const std::filesystem::path& p, std::vector<json::value> keys,
                      std::size_t count, std::vector<needs>& asked, resume_options o = {}) {
  return run_io(create_or_resume_jsonl_file(p, "k", count, keys, recorder{&asked}, std::move(o)));
}

TEST(CreateOrResume, AFreshFileGetsKeyCountRowsPerKey) {
  temp_dir d;
  std::vector<needs> asked;
  auto s = create(d / "r.jsonl", {"a", "b", "c"}, 2, asked);
  EXPECT_EQ(count_by(read_rows(d / "r.jsonl"), "k"),
            (std::map<std::string, int>{{"\"a\"", 2}, {"\"b\"", 2}, {"\"c\"", 2}}));
  EXPECT_EQ(asked, (std::vector<needs>{{{"\"a\"", 2}, {"\"b\"", 2}, {"\"c\"", 2}}}));
  EXPECT_EQ(s.rows_written, 6U);
  EXPECT_EQ(s.rows_found, 0U);
}

TEST(CreateOrResume, ResumeAsksOnlyForWhatIsMissing) {
  temp_dir d;
  auto p = d / "r.jsonl";
  write_file(p, jsonl({{{"k", "a"}}, {{"k", "a"}}, {{"k", "b"}}}));
  std::vector<needs> asked;
  auto s = create(p, {"a", "b", "c"}, 2, asked);
  EXPECT_EQ(asked, (std::vector<needs>{{{"\"b\"", 1}, {"\"c\"", 2}}}));
  EXPECT_EQ(count_by(read_rows(p), "k"),
            (std::map<std::string, int>{{"\"a\"", 2}, {"\"b\"", 2}, {"\"c\"", 2}}));
  EXPECT_EQ(s.rows_found, 3U);
  EXPECT_EQ(s.rows_written, 3U);
}

TEST(CreateOrResume, TheGeneratorIsCalledEvenWhenNothingIsMissing) {
  temp_dir d;
  auto p = d / "r.jsonl";
  write_file(p, jsonl({{{"k", "a"}}}));
  std::vector<needs> asked;
  create(p, {"a"}, 1, asked);
  EXPECT_EQ(asked, (std::vector<needs>{{}}));
  EXPECT_EQ(read_rows(p).size(), 1U);
}

TEST(CreateOrResume, ARepeatedKeyCountsOnce) {
  temp_dir d;
  std::vector<needs> asked;
  create(d / "r.jsonl", {"a", "a", "b"}, 1, asked);
  EXPECT_EQ(asked, (std::vector<needs>{{{"\"a\"", 1}, {"\"b\"", 1}}}));
  EXPECT_EQ(read_rows(d / "r.jsonl").size(), 2U);
}

TEST(CreateOrResume, AnUnknownKeyRaisesBeforeAnythingIsWritten) {
  temp_dir d;
  auto p = d / "r.jsonl";
  std::string before = jsonl({{{"k", "a"}}, {{"k", "zzz"}}});
  write_file(p, before);
  std::vector<needs> asked;
  try {
    create(p, {"a", "b"}, 1, asked);
    FAIL() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(std::string(e.what()),
              p.string() + ":2: has k \"zzz\", which is not a key asked for");
    EXPECT_EQ(e.line(), 2U);
    EXPECT_EQ(e.field(), "k");
  }
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(read_file(p), before);
}

TEST(CreateOrResume, UnderPrintUnknownAndSurplusRowsAreReportedAndLeftInPlace) {
  temp_dir d;
  auto p = d / "r.jsonl";
  write_file(p, jsonl({{{"k", "a"}}, {{"k", "zzz"}}, {{"k", "a"}}}));
  std::vector<needs> asked;
  messages m;
  auto s = create(p, {"a", "b"}, 1, asked, {.errors = on_error::print, .report = m.fn()});
  EXPECT_EQ(m.said, (std::vector<std::string>{
                        p.string() + ":2: has k \"zzz\", which is not a key asked for",
                        p.string() + ":3: has more rows for k \"a\" than the 1 asked for"}));
  EXPECT_EQ(asked, (std::vector<needs>{{{"\"b\"", 1}}}));
  EXPECT_EQ(read_rows(p).size(), 4U);
  EXPECT_EQ(s.rows_ignored, 2U);
}

TEST(CreateOrResume, OneAndTheStringOneAreDifferentKeys) {
  temp_dir d;
  auto p = d / "r.jsonl";
  write_file(p, jsonl({{{"k", "1"}}}));
  std::vector<needs> asked;
  EXPECT_THROW(create(p, {1}, 1, asked), jsonl_error);
  write_file(p, jsonl({{{"k", 1}}}));
  create(p, {1, 2}, 1, asked);
  EXPECT_EQ(asked.back(), (needs{{"2", 1}}));
}

TEST(CreateOrResume, ATornLastLineIsCutAwayReportedAndTheRunGoesOn) {
  temp_dir d;
  auto p = d / "r.jsonl";
  write_file(p, jsonl({{{"k", "a"}}}) + "{\"k\":\"b\",\"v\":\"half a ro");
  std::vector<needs> asked;
  messages m;
  auto s = create(p, {"a", "b"}, 1, asked, {.errors = on_error::raise, .report = m.fn()});
  EXPECT_EQ(m.said, (std::vector<std::string>{
                        p.string() + ":2: torn last line (23 bytes, no newline, not valid JSON) "
                                     "cut away; resuming"}));
  EXPECT_EQ(s.torn_bytes, 23U);
  EXPECT_EQ(asked, (std::vector<needs>{{{"\"b\"", 1}}}));
  EXPECT_EQ(count_by(read_rows(p), "k"), (std::map<std::string, int>{{"\"a\"", 1}, {"\"b\"", 1}}));
}

TEST(CreateOrResume, AWholeLastRowWithoutItsNewlineCountsAndGetsOne) {
  temp_dir d;
  auto p = d / "r.jsonl";
  write_file(p, "{\"k\":\"a\"}");
  std::vector<needs> asked;
  create(p, {"a", "b"}, 1, asked);
  EXPECT_EQ(asked, (std::vector<needs>{{{"\"b\"", 1}}}));
  EXPECT_EQ(read_file(p), "{\"k\":\"a\"}\n{\"k\":\"b\",\"v\":0}\n");
}

TEST(CreateOrResume, DeeplyNestedRowsAndCompositeKeysAreCounted) {
  temp_dir d;
  auto p = d / "r.jsonl";
  std::string deep = std::string(100, '[') + "1" + std::string(100, ']');
  write_file(p, "{\"x\":" + deep + ",\"k\":[1,2]}\n");
  std::vector<needs> asked;
  auto s = create(p, {json::array{1, 2}, json::array{3}}, 1, asked);
  EXPECT_EQ(s.rows_found, 1U);
  EXPECT_EQ(asked, (std::vector<needs>{{{"[3]", 1}}}));
}

TEST(CreateOrResume, AnEmptyFileIsResumedFromNothing) {
  temp_dir d;
  auto p = d / "r.jsonl";
  write_file(p, "");
  std::vector<needs> asked;
  create(p, {"a"}, 2, asked);
  EXPECT_EQ(read_rows(p).size(), 2U);
}

TEST(CreateOrResume, InvalidJsonMidFileNamesTheLineAndLosesNothing) {
  temp_dir d;
  auto p = d / "r.jsonl";
  std::string before = jsonl({{{"k", "a"}}}) + "{oops}\n" + jsonl({{{"k", "b"}}});
  write_file(p, before);
  std::vector<needs> asked;
  try {
    create(p, {"a", "b", "c"}, 1, asked);
    FAIL() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(std::string(e.what()), p.string() + ":2: invalid JSON at column 2: syntax error");
  }
  EXPECT_EQ(read_file(p), before);
  messages m;
  create(p, {"a", "b", "c"}, 1, asked, {.errors = on_error::print, .report = m.fn()});
  EXPECT_EQ(m.said.size(), 1U);
  EXPECT_EQ(asked.back(), (needs{{"\"c\"", 1}}));
  EXPECT_EQ(read_file(p), before + "{\"k\":\"c\",\"v\":0}\n");
}

TEST(CreateOrResume, RowsThatAreNotObjectsOrLackTheKeyAreBadInput) {
  temp_dir d;
  auto p = d / "r.jsonl";
  std::vector<needs> asked;
  write_file(p, "[1]\n");
  try {
    create(p, {"a"}, 1, asked);
    FAIL() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(std::string(e.what()), p.string() + ":1: row is an array, not a JSON object");
  }
  write_file(p, "{\"id\":\"a\"}\n");
  try {
    create(p, {"a"}, 1, asked);
    FAIL() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(std::string(e.what()), p.string() + ":1: field \"k\" is missing");
    EXPECT_EQ(e.field(), "k");
  }
  EXPECT_TRUE(asked.empty());
}

TEST(CreateOrResume, AHundredMegabyteRowIsScannedAndCounted) {
  temp_dir d;
  auto p = d / "r.jsonl";
  write_file(p, "{\"big\":\"" + std::string(100 << 20, 'y') + "\",\"k\":\"a\"}\n");
  std::vector<needs> asked;
  auto s = create(p, {"a", "b"}, 1, asked);
  EXPECT_EQ(s.rows_found, 1U);
  EXPECT_EQ(asked, (std::vector<needs>{{{"\"b\"", 1}}}));
}

TEST(CreateOrResume, ADirectoryAsTheFileIsNamed) {
  temp_dir d;
  std::vector<needs> asked;
  try {
    create(d.path(), {"a"}, 1, asked);
    FAIL() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(std::string(e.what()), d.path().string() + ": is a directory, not a JSON Lines file");
  }
}

TEST(CreateOrResume, GeneratedRowsAreCheckedAndShortfallsSaid) {
  temp_dir d;
  auto p = d / "r.jsonl";
  auto wrong = [](const std::vector<key_need>&) {
    return std::vector<json::object>{{{"k", "a"}}, {{"k", "x"}}, {{"nokey", 1}}};
  };
  messages m;
  auto s = run_io(create_or_resume_jsonl_file(p, "k", 1, std::vector<std::string>{"a", "b"}, wrong,
                                              {.errors = on_error::print, .report = m.fn()}));
  ASSERT_EQ(m.said.size(), 3U);
  EXPECT_EQ(m.said[0], p.string() +
                           ": the value generator made a row for k \"x\", which is not a key "
                           "asked for; not written");
  EXPECT_EQ(m.said[1], p.string() +
                           ": the value generator made a row without the field \"k\": "
                           "{\"nokey\":1}; not written");
  EXPECT_EQ(m.said[2], p.string() +
                           ": the value generator ended 1 rows short (k \"b\" needs 1 more); "
                           "running again will ask for them");
  EXPECT_EQ(s.rows_written, 1U);
  EXPECT_EQ(s.rows_rejected, 2U);
  EXPECT_EQ(s.rows_missing, 1U);
  EXPECT_EQ(read_rows(p).size(), 1U);
  // Under raise the first bad row throws; the good row before it stays.
  std::filesystem::remove(p);
  EXPECT_THROW(
      run_io(create_or_resume_jsonl_file(p, "k", 1, std::vector<std::string>{"a", "b"}, wrong)),
      jsonl_error);
  EXPECT_EQ(read_rows(p).size(), 1U);
}

TEST(CreateOrResume, AnErrorFromARowPropagatesAndEarlierRowsStay) {
  temp_dir d;
  auto p = d / "r.jsonl";
  auto gen = [](const std::vector<key_need>& need) {
    std::vector<std::function<asio::awaitable<json::object>()>> rows;
    for (const auto& n : need)
      rows.push_back([key = n.key]() -> asio::awaitable<json::object> {
        if (key == "b") throw std::runtime_error("no b today");
        co_return json::object{{"k", key}};
      });
    return rows;
  };
  try {
    run_io(create_or_resume_jsonl_file(p, "k", 1, std::vector<std::string>{"a", "b", "c"}, gen));
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "no b today");
  }
  EXPECT_EQ(count_by(read_rows(p), "k"), (std::map<std::string, int>{{"\"a\"", 1}}));
}

TEST(CreateOrResume, TakesAStreamOfRows) {
  temp_dir d;
  auto p = d / "r.jsonl";
  auto gen = [](std::vector<key_need> need) {
    return amap(
        [](key_need n) -> asio::awaitable<json::object> {
          co_return json::object{{"k", n.key}};
        },
        std::move(need));
  };
  run_io(create_or_resume_jsonl_file(p, "k", 1, std::vector<int>{1, 2, 3}, gen));
  EXPECT_EQ(count_by(read_rows(p), "k"),
            (std::map<std::string, int>{{"1", 1}, {"2", 1}, {"3", 1}}));
}

// ---- run_bounded_create_or_resume_jsonl_file ---------------------------------------------

auto slow_rows(in_flight& f) {
  return [&f](const std::vector<key_need>& need) {
    std::vector<std::function<asio::awaitable<json::object>()>> tasks;
    for (const auto& n : need) {
      auto ms = std::chrono::milliseconds(10 - 2 * n.key.as_int64());  // later keys finish first
      tasks.push_back([&f, key = n.key, ms]() -> asio::awaitable<json::object> {
        in_flight::guard g(f);
        co_await sleep(ms);
        co_return json::object{{"k", key}, {"t_ms", vnow() / 1ms}};
      });
    }
    return tasks;
  };
}

TEST(RunBoundedCreateOrResume, RunsAtMostTheLimitAndWritesInCompletionOrder) {
  temp_dir d;
  auto p = d / "r.jsonl";
  in_flight f;
  auto s = run_virtual(run_bounded_create_or_resume_jsonl_file<manual_clock>(
      p, "k", 1, std::vector<int>{0, 1, 2, 3}, slow_rows(f), {.max_at_once = 2}));
  EXPECT_EQ(f.peak, 2);
  EXPECT_EQ(s.rows_written, 4U);
  // 0 (10 ms) and 1 (8 ms) start at 0; 1 ends at 8, 2 (6 ms) runs to 14; 0 ends at 10,
  // 3 (4 ms) runs to 14 too.
  std::vector<std::string> order;
  for (const auto& r : read_rows(p))
    order.push_back(json::serialize(r.at("k")) + "@" + json::serialize(r.at("t_ms")));
  EXPECT_EQ(order, (std::vector<std::string>{"1@8", "0@10", "2@14", "3@14"}));
}

TEST(RunBoundedCreateOrResume, HonoursTheRate) {
  temp_dir d;
  auto p = d / "r.jsonl";
  std::vector<std::int64_t> starts;
  auto gen = [&starts](const std::vector<key_need>& need) {
    std::vector<std::function<asio::awaitable<json::object>()>> tasks;
    for (const auto& n : need)
      tasks.push_back([&starts, key = n.key]() -> asio::awaitable<json::object> {
        starts.push_back(vnow() / 1ms);
        co_return json::object{{"k", key}};
      });
    return tasks;
  };
  run_virtual(run_bounded_create_or_resume_jsonl_file<manual_clock>(
      p, "k", 1, std::vector<int>{1, 2, 3, 4}, gen, {.max_per_second = 10}));
  EXPECT_EQ(starts, (std::vector<std::int64_t>{0, 100, 200, 300}));
}

TEST(RunBoundedCreateOrResume, AFailureStopsTheRestAfterTheRowsAlreadyDone) {
  temp_dir d;
  auto p = d / "r.jsonl";
  auto gen = [](const std::vector<key_need>& need) {
    std::vector<std::function<asio::awaitable<json::object>()>> tasks;
    for (const auto& n : need)
      tasks.push_back([key = n.key]() -> asio::awaitable<json::object> {
        co_await sleep(std::chrono::milliseconds(key.as_int64()));
        if (key == 3) throw std::runtime_error("key 3 failed");
        co_return json::object{{"k", key}};
      });
    return tasks;
  };
  EXPECT_THROW(run_virtual(run_bounded_create_or_resume_jsonl_file<manual_clock>(
                   p, "k", 1, std::vector<int>{1, 2, 3, 4, 5}, gen, {.max_at_once = 5})),
               std::runtime_error);
  EXPECT_EQ(count_by(read_rows(p), "k"), (std::map<std::string, int>{{"1", 1}, {"2", 1}}));
  // The rerun asks only for 3, 4 and 5.
  std::vector<needs> asked;
  create(p, {1, 2, 3, 4, 5}, 1, asked);
  EXPECT_EQ(asked, (std::vector<needs>{{{"3", 1}, {"4", 1}, {"5", 1}}}));
}

}  // namespace
}  // namespace sluice::test

namespace sluice::test {
namespace {

struct seen_row {
  std::string key;
  std::string row;
  std::size_t line;
  bool operator==(const seen_row&) const = default;
};

std::vector<seen_row> reopen(const std::filesystem::path& p, messages& m,
                             on_error errors = on_error::raise) {
  std::vector<seen_row> seen;
  auto out =
      resume_jsonl_file(p, "k",
                        [&](std::string_view key, const json::object& row, std::size_t line) {
                          seen.push_back({std::string(key), json::serialize(row), line});
                        },
                        {.errors = errors, .report = m.fn()});
  out->write(json::object{{"k", "new"}});
  return seen;
}

TEST(ResumeJsonlFile, PassesEveryRowWithItsKeyThenAppends) {
  temp_dir d;
  write_file(d / "r.jsonl", "{\"k\":1,\"v\":2}\n\n{\"k\":\"1\"}\n");
  messages m;
  EXPECT_EQ(reopen(d / "r.jsonl", m),
            (std::vector<seen_row>{{"1", "{\"k\":1,\"v\":2}", 1}, {"\"1\"", "{\"k\":\"1\"}", 3}}));
  EXPECT_EQ(read_file(d / "r.jsonl"), "{\"k\":1,\"v\":2}\n\n{\"k\":\"1\"}\n{\"k\":\"new\"}\n");
  EXPECT_TRUE(m.said.empty());
}

TEST(ResumeJsonlFile, CutsATornLastLineAndReportsIt) {
  temp_dir d;
  write_file(d / "r.jsonl", "{\"k\":1}\n{\"k\":2,\"v\":\"hal");
  messages m;
  EXPECT_EQ(reopen(d / "r.jsonl", m).size(), 1u);
  EXPECT_EQ(read_file(d / "r.jsonl"), "{\"k\":1}\n{\"k\":\"new\"}\n");
  ASSERT_EQ(m.said.size(), 1u);
  EXPECT_NE(m.said[0].find("r.jsonl:2: torn last line (15 bytes"), std::string::npos) << m.said[0];
}

TEST(ResumeJsonlFile, EndsALastRowThatLacksItsNewline) {
  temp_dir d;
  write_file(d / "r.jsonl", "{\"k\":1}");
  messages m;
  EXPECT_EQ(reopen(d / "r.jsonl", m).size(), 1u);
  EXPECT_EQ(read_file(d / "r.jsonl"), "{\"k\":1}\n{\"k\":\"new\"}\n");
}

// Found by fuzz_jsonl: a bad last row without its '\n' (kept under print) had the next row
// glued onto it.
TEST(ResumeJsonlFile, EndsABadLastRowThatLacksItsNewlineUnderPrint) {
  temp_dir d;
  for (const char* last : {"{\"other\":3}", "[1,2]", "7"}) {
    write_file(d / "r.jsonl", std::string("{\"k\":8}\n\n   \n") + last);
    messages m;
    EXPECT_EQ(reopen(d / "r.jsonl", m, on_error::print).size(), 1u);
    EXPECT_EQ(read_file(d / "r.jsonl"),
              std::string("{\"k\":8}\n\n   \n") + last + "\n{\"k\":\"new\"}\n");
    EXPECT_EQ(m.said.size(), 1u) << last;  // the bad row, reported
  }
}

TEST(ResumeJsonlFile, CreatesAMissingFile) {
  temp_dir d;
  messages m;
  EXPECT_TRUE(reopen(d / "r.jsonl", m).empty());
  EXPECT_EQ(read_file(d / "r.jsonl"), "{\"k\":\"new\"}\n");
}

TEST(ReadKeyedJsonlFile, PassesTheSameRowsAndChangesNothing) {
  temp_dir d;
  const std::string text = "{\"k\":1}\n{\"k\":\"a\"}\n{\"k\":2,\"v\":\"to";
  write_file(d / "r.jsonl", text);
  std::vector<seen_row> seen;
  read_keyed_jsonl_file(d / "r.jsonl", "k",
                        [&](std::string_view key, const json::object& row, std::size_t line) {
                          seen.push_back({std::string(key), json::serialize(row), line});
                        });
  EXPECT_EQ(seen, (std::vector<seen_row>{{"1", "{\"k\":1}", 1}, {"\"a\"", "{\"k\":\"a\"}", 2}}));
  EXPECT_EQ(read_file(d / "r.jsonl"), text);  // the torn line is still there
  read_keyed_jsonl_file(d / "none.jsonl", "k", [&](auto, const auto&, auto) { seen.clear(); });
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(d / "none.jsonl"));
  write_file(d / "bad.jsonl", "{\"k\":1}\n[2]\n");
  EXPECT_THROW(read_keyed_jsonl_file(d / "bad.jsonl", "k", [](auto, const auto&, auto) {}),
               jsonl_error);
}

TEST(ResumeJsonlFile, ABadRowRaisesBeforeTheFileIsChangedOrIsReportedUnderPrint) {
  temp_dir d;
  const std::string text = "{\"k\":1}\n[1]\n{\"v\":2}\n{\"k\":3}";
  write_file(d / "r.jsonl", text);
  messages m;
  try {
    reopen(d / "r.jsonl", m);
    ADD_FAILURE() << "no error";
  } catch (const jsonl_error& e) {
    EXPECT_EQ(e.line(), 2u);
    EXPECT_STREQ(e.what(),
                 (d / "r.jsonl").string().append(":2: row is an array, not a JSON object").c_str());
  }
  EXPECT_EQ(read_file(d / "r.jsonl"), text);
  auto seen = reopen(d / "r.jsonl", m, on_error::print);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].line, 4u);
  EXPECT_EQ(m.said.size(), 2u);  // the array, the row without "k"
}

}  // namespace
}  // namespace sluice::test
