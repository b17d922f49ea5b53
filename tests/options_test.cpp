#include <sluice/options.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace {

std::string message_of(const sluice::options& o) {
  try {
    sluice::validate(o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Options, DefaultsAreValidAndUnlimited) {
  sluice::options o;
  EXPECT_NO_THROW(sluice::validate(o));
  EXPECT_EQ(o.max_at_once, 0u);
  EXPECT_EQ(o.max_per_second, 0);
  EXPECT_EQ(o.burst, 1u);
  EXPECT_EQ(o.errors, sluice::error_policy::fail_fast);
}

TEST(Options, InvalidValuesAreRejectedNamingTheField) {
  EXPECT_NE(message_of({.max_per_second = -1}).find("max_per_second"), std::string::npos);
  EXPECT_NE(message_of({.max_per_second = std::nan("")}).find("max_per_second"), std::string::npos);
  EXPECT_NE(message_of({.max_per_second = std::numeric_limits<double>::infinity()})
                .find("max_per_second"),
            std::string::npos);
  EXPECT_NE(message_of({.burst = 0}).find("burst"), std::string::npos);
  EXPECT_EQ(message_of({.max_at_once = 3, .max_per_second = 0.2, .burst = 4}), "");
}

TEST(Options, TimeoutRetryAndHaltAreChecked) {
  using namespace std::chrono_literals;
  EXPECT_NE(message_of({.timeout = -1ns}).find("options.timeout"), std::string::npos);
  EXPECT_NE(message_of({.retry = {.attempts = 0}}).find("retry.attempts"), std::string::npos);
  EXPECT_NE(message_of({.retry = {.attempts = 3, .base = 0ms}}).find("retry.base"),
            std::string::npos);
  EXPECT_EQ(message_of({.retry = {.attempts = 1, .base = 0ms}}), "");  // no retry, no backoff
  EXPECT_NE(message_of({.errors = sluice::error_policy::halt, .halt = {.count = 0, .percent = 0}})
                .find("halt.percent"),
            std::string::npos);
  EXPECT_EQ(message_of({.errors = sluice::error_policy::halt, .halt = {.count = 0, .percent = 5}}),
            "");
}

TEST(HaltPolicy, ParsesGnuParallelSyntax) {
  using H = sluice::halt_policy;
  auto h = H::parse("now,fail=1");
  EXPECT_EQ(h.when, H::mode::now);
  EXPECT_EQ(h.on, H::trigger::fail);
  EXPECT_EQ(h.count, 1u);
  h = H::parse("soon,fail=20%");
  EXPECT_EQ(h.when, H::mode::soon);
  EXPECT_EQ(h.count, 0u);
  EXPECT_EQ(h.percent, 20);
  EXPECT_EQ(H::parse("now,success=3").on, H::trigger::success);
  EXPECT_EQ(H::parse("soon,done=100").on, H::trigger::done);
  EXPECT_EQ(H::parse("soon,done=100").count, 100u);
  for (const char* text : {"now,fail=1", "soon,fail=20%", "now,success=3", "soon,done=2.5%"})
    EXPECT_EQ(H::parse(text).to_string(), text);
}

TEST(HaltPolicy, BadTextIsRejectedQuotingIt) {
  auto message = [](const char* text) {
    try {
      sluice::halt_policy::parse(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message("later,fail=1").find("unknown mode 'later'"), std::string::npos);
  EXPECT_NE(message("now,crash=1").find("unknown event 'crash'"), std::string::npos);
  EXPECT_NE(message("now,fail=0").find("integer >= 1"), std::string::npos);
  EXPECT_NE(message("now,fail=x").find("'now,fail=x'"), std::string::npos);
  EXPECT_NE(message("now,fail=101%").find("(0, 100]"), std::string::npos);
  EXPECT_NE(message("now").find("missing ','"), std::string::npos);
  EXPECT_NE(message("now,fail").find("missing '='"), std::string::npos);
}

}  // namespace
