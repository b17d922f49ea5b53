#include <sluice/gcra.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace {

using sluice::gcra;
using ns = std::chrono::nanoseconds;
using namespace std::chrono_literals;

// The start times of `count` back-to-back reservations made at time 0.
std::vector<ns> schedule(double rate, std::uint32_t burst, int count) {
  gcra g{rate, burst};
  std::vector<ns> out;
  for (int i = 0; i < count; ++i) out.push_back(g.reserve(0ns));
  return out;
}

TEST(Gcra, FirstStartIsImmediateThenOneInterval) {
  const auto s = schedule(1000, 1, 4);
  EXPECT_EQ(s, (std::vector<ns>{0ms, 1ms, 2ms, 3ms}));
}

TEST(Gcra, ThreePerSecondIsExactOverMillionsOfStarts) {
  gcra g{3, 1};
  ns last{};
  for (int i = 0; i < 3'000'000; ++i) last = g.reserve(0ns);
  // Start k is at ceil(k / 3 s): start 2,999,999 at 999,999.666... s -> rounded up.
  EXPECT_EQ(last, ns{999'999'666'666'667});
  // The next start is exactly one million seconds in: no drift.
  EXPECT_EQ(g.reserve(0ns), ns{1'000'000'000'000'000});
}

TEST(Gcra, HoldUntilDelaysTheNextStartAndAllowsNoBurstAfterIt) {
  gcra g{10, 5};  // 10/s, bursts of 5
  EXPECT_EQ(g.reserve(0ns), 0ns);
  g.hold_until(2s);
  EXPECT_EQ(g.earliest(1s), 2s);
  EXPECT_EQ(g.reserve(1s), 2s);
  EXPECT_EQ(g.reserve(1s), 2100ms);  // at the rate, not a burst of 5
  g.hold_until(1s);                  // an earlier hold changes nothing
  EXPECT_EQ(g.reserve(1s), 2200ms);
}

TEST(Gcra, FractionalRateOneEveryFiveSeconds) {
  EXPECT_EQ(schedule(0.2, 1, 3), (std::vector<ns>{0s, 5s, 10s}));
}

TEST(Gcra, BurstOfFiveStartsAtOnceThenAtTheRate) {
  EXPECT_EQ(schedule(1000, 5, 7), (std::vector<ns>{0ms, 0ms, 0ms, 0ms, 0ms, 1ms, 2ms}));
  EXPECT_EQ(schedule(3, 5, 6), (std::vector<ns>{0s, 0s, 0s, 0s, 0s, ns{333'333'334}}));
  EXPECT_EQ(schedule(0.2, 5, 7), (std::vector<ns>{0s, 0s, 0s, 0s, 0s, 5s, 10s}));
}

TEST(Gcra, IdleTimeEarnsAtMostBurstStarts) {
  gcra g{10, 3};  // T = 100 ms
  EXPECT_TRUE(g.try_commit(0ms));
  // After an hour idle, exactly 3 starts conform at once, not 36,000.
  int admitted = 0;
  while (g.try_commit(3600s)) ++admitted;
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(g.earliest(3600s), 3600s + 100ms);
}

TEST(Gcra, BurstOneEarnsNoCredit) {
  gcra g{10, 1};
  EXPECT_TRUE(g.try_commit(0ms));
  EXPECT_TRUE(g.try_commit(10s));
  EXPECT_FALSE(g.try_commit(10s));
  EXPECT_EQ(g.earliest(10s), 10s + 100ms);
}

TEST(Gcra, ConformanceIsTGreaterOrEqualTatMinusTau) {
  gcra g{10, 2};                      // T = 100 ms, tau = 100 ms
  g.commit(0ms);                      // TAT = 100 ms
  g.commit(0ms);                      // TAT = 200 ms
  EXPECT_EQ(g.earliest(0ms), 100ms);  // TAT - tau
  EXPECT_FALSE(g.try_commit(99ms));
  EXPECT_TRUE(g.try_commit(100ms));  // TAT = 300 ms
  EXPECT_EQ(g.earliest(100ms), 200ms);
}

TEST(Gcra, SeveralStartsAtOnce) {
  gcra g{10, 4};
  EXPECT_EQ(g.reserve(0ms, 4), 0ms);    // the whole burst
  EXPECT_EQ(g.reserve(0ms, 2), 200ms);  // needs TAT + T - tau = 400 + 100 - 300
  EXPECT_THROW((void)g.earliest(0ms, 5), std::invalid_argument);
  EXPECT_THROW((void)g.earliest(0ms, 0), std::invalid_argument);
}

TEST(Gcra, SetRateKeepsTheStartsAlreadyMade) {
  gcra g{1, 1};
  EXPECT_EQ(g.reserve(0s), 0s);  // TAT = 1 s
  g.set_rate(2);                 // T = 500 ms from now on
  EXPECT_EQ(g.reserve(0s), 1s);
  EXPECT_EQ(g.reserve(0s), 1500ms);
  g.set_burst(3);
  EXPECT_DOUBLE_EQ(g.rate(), 2.0);
  EXPECT_EQ(g.burst(), 3u);
}

TEST(Gcra, RejectsInvalidParameters) {
  EXPECT_THROW(gcra(0, 1), std::invalid_argument);
  EXPECT_THROW(gcra(-1, 1), std::invalid_argument);
  EXPECT_THROW(gcra(std::nan(""), 1), std::invalid_argument);
  EXPECT_THROW(gcra(std::numeric_limits<double>::infinity(), 1), std::invalid_argument);
  EXPECT_THROW(gcra(1e-9, 1), std::invalid_argument);
  EXPECT_THROW(gcra(1, 0), std::invalid_argument);
  try {
    gcra(-2, 1);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("rate"), std::string::npos);
  }
}

}  // namespace
