// What the pipeline writes for a task: the row's timestamp and the row itself.
#include "task_report.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <chrono>

namespace sluice::cli {
namespace {

namespace json = boost::json;
using namespace std::chrono;

TEST(TaskReport, UtcTextIsIso8601WithMilliseconds) {
  const sys_days day = 2026y / November / 21;
  EXPECT_EQ(utc_text(day + 16h + 28min + 31s + 780ms), "2026-11-21T16:28:31.780Z");
  EXPECT_EQ(utc_text(day + 999us), "2026-11-21T00:00:00.000Z");  // truncated, not rounded
  EXPECT_EQ(utc_text(sys_days(2024y / February / 29) + 23h + 59min + 59s + 999ms),
            "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(utc_text(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(utc_text(sys_days(1969y / December / 31) + 23h + 59min + 59s + 500ms),
            "1969-12-31T23:59:59.500Z");  // before the epoch: floored, not truncated
  EXPECT_EQ(utc_text(sys_days(1700y / March / 1) + 10h + 7min + 5s + 42ms),
            "1700-03-01T10:07:05.042Z");
}

TEST(TaskReport, ResultLineHasTheInputTheColumnsAndTheTiming) {
  auto in = std::make_shared<input_item>();
  in->key = json::string("a");
  in->key_text = json::serialize(in->key);
  in->occurrence = 2;
  in->text = in->key.get_string();
  finished_task t;
  t.input = in;
  t.columns["ok"] = true;
  t.columns["body"] = "x";
  t.started_at = sys_days(2026y / November / 21);
  t.duration = 1500us;
  EXPECT_EQ(result_line(t, 3),
            R"({"key":"a","occurrence":2,"input":"a","ok":true,"body":"x",)"
            R"("started_at":"2026-11-21T00:00:00.000Z","duration_ms":1.500,"attempts":3})");
  t.duration = 34'712'499ns;  // milliseconds with three decimals, to the microsecond
  EXPECT_NE(result_line(t, 3).find(R"("duration_ms":34.712,)"), std::string::npos);
  t.duration = 2min + 3us;
  EXPECT_NE(result_line(t, 3).find(R"("duration_ms":120000.003,)"), std::string::npos);
  // A JSON Lines input row, a number key, escapes in the input and the columns, numbers of
  // every kind: the line is what serializing the same row as an object gives (but for the
  // duration's three decimals).
  json::object input{{"id", 7}, {"q", "a \"b\"\n\u00e9"}};
  in->row = input;
  in->text = json::serialize(input);
  in->key = 7;
  in->key_text = json::serialize(in->key);
  t.columns["body"] = json::object{{"nested", json::array{1, 2.5, nullptr}}};
  t.columns["tab\tname"] = "\x01";
  t.columns["quote\"d"] = "back\\slash";
  t.columns["n"] = -12;
  t.columns["u"] = std::uint64_t(18'446'744'073'709'551'615u);
  t.columns["d"] = 0.25;
  t.columns["none"] = nullptr;
  t.columns["no"] = false;
  t.duration = 0ns;
  const json::object row{{"key", 7},
                         {"occurrence", 2},
                         {"input", input},
                         {"ok", true},
                         {"body", t.columns["body"]},
                         {"tab\tname", "\x01"},
                         {"quote\"d", "back\\slash"},
                         {"n", -12},
                         {"u", std::uint64_t(18'446'744'073'709'551'615u)},
                         {"d", 0.25},
                         {"none", nullptr},
                         {"no", false},
                         {"started_at", "2026-11-21T00:00:00.000Z"},
                         {"duration_ms", 0.0},
                         {"attempts", 1}};
  std::string expected = json::serialize(row);
  expected.replace(expected.find("0E0"), 3, "0.000");
  EXPECT_EQ(result_line(t, 1), expected);
  // Text input (not a row) with characters to escape.
  in->row.reset();
  in->text = "say \"hi\"\n\ttab";
  EXPECT_EQ(json::parse(result_line(t, 1)).at("input"), json::value(in->text));
  EXPECT_NE(result_line(t, 1).find(R"("input":"say \"hi\"\n\ttab",)"), std::string::npos);
}

TEST(TaskReport, ResultLineEscapesWhatJsonEscapesAtAnyPlaceInAString) {
  // Plain strings are copied eight bytes at a time: a character to escape is found in any
  // of the eight places and in the tail; bytes from 0x7f up (UTF-8) are not escaped.
  auto in = std::make_shared<input_item>();
  in->key = json::string("k");
  in->key_text = json::serialize(in->key);
  in->text = in->key.get_string();
  finished_task t;
  t.input = in;
  for (const char special : {'"', '\\', '\n', '\x00', '\x1f', ' ', '\x7f', '\xc3', '\xff'}) {
    for (std::size_t size = 1; size <= 19; ++size) {
      for (std::size_t at = 0; at < size; ++at) {
        std::string text(size, 'a');
        text[at] = special;
        t.columns["s"] = text;
        const std::string line = result_line(t, 1);
        std::string want = R"("s":)";
        want += json::serialize(json::string(text));
        want.push_back(',');
        ASSERT_NE(line.find(want), std::string::npos)
            << "character " << int(static_cast<unsigned char>(special)) << " at " << at << " of "
            << size << ": " << line;
      }
    }
  }
}

}  // namespace
}  // namespace sluice::cli
