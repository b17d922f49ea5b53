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

}  // namespace
