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
            R"("started_at":"2026-11-21T00:00:00.000Z","duration_ms":1.5E0,"attempts":3})");
  // A JSON Lines input row, a number key, escapes in the input and the columns: the line is
  // what serializing the same row as an object gives.
  json::object input{{"id", 7}, {"q", "a \"b\"\n\u00e9"}};
  in->row = input;
  in->text = json::serialize(input);
  in->key = 7;
  in->key_text = json::serialize(in->key);
  t.columns["body"] = json::object{{"nested", json::array{1, 2.5, nullptr}}};
  t.columns["tab\tname"] = "\x01";
  t.duration = 0ns;
  const json::object row{{"key", 7},
                         {"occurrence", 2},
                         {"input", input},
                         {"ok", true},
                         {"body", t.columns["body"]},
                         {"tab\tname", "\x01"},
                         {"started_at", "2026-11-21T00:00:00.000Z"},
                         {"duration_ms", 0.0},
                         {"attempts", 1}};
  EXPECT_EQ(result_line(t, 1), json::serialize(row));
}

}  // namespace
}  // namespace sluice::cli
