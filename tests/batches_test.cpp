// sluice::batches: the seed's test catalogue (test_iterables.py), translated, plus the cases
// the seed leaves undefined or gets wrong.
#include <sluice/batches.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <vector>

namespace {

using vv = std::vector<std::vector<int>>;

template <class R>
vv collect(R&& r) {
  vv out;
  for (const auto& b : r) out.push_back(b);
  return out;
}

std::vector<int> iota(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}

TEST(Batches, ListMultipleEpochs) {
  EXPECT_EQ(collect(sluice::batches(iota(6), 2, 2)),
            (vv{{0, 1}, {2, 3}, {4, 5}, {0, 1}, {2, 3}, {4, 5}}));
}

TEST(Batches, ListNonExactDivision) {
  EXPECT_EQ(collect(sluice::batches(iota(5), 2, 1)), (vv{{0, 1}, {2, 3}, {4}}));
}

TEST(Batches, LeftoverCarriesAcrossEpochs) {
  EXPECT_EQ(collect(sluice::batches(iota(5), 2, 2)), (vv{{0, 1}, {2, 3}, {4, 0}, {1, 2}, {3, 4}}));
}

TEST(Batches, ASinglePassRangeGivesOneEpoch) {
  std::istringstream in("0 1 2 3 4");
  auto numbers = std::views::istream<int>(in);
  EXPECT_EQ(collect(sluice::batches(numbers, 2, 2)), (vv{{0, 1}, {2, 3}, {4}}));
}

// A dataset whose size changes between passes: `later` items from the second pass on.
struct changing {
  std::vector<int> v;
  std::size_t later;
  int passes = 0;
  auto begin() {
    ++passes;
    return v.begin();
  }
  auto end() { return passes == 1 ? v.end() : v.begin() + std::ptrdiff_t(later); }
};

TEST(Batches, AShorterLaterEpochThrowsAfterTheBatchesBeforeIt) {
  changing data{{0, 1, 2, 3}, 3};
  vv seen;
  auto b = sluice::batches(data, 2, 2);
  try {
    for (const auto& x : b) seen.push_back(x);
    ADD_FAILURE() << "no error";
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("first epoch had 4 items, but epoch 2 had 3"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(seen, (vv{{0, 1}, {2, 3}, {0, 1}}));
}

TEST(Batches, ALongerLaterEpochThrowsToo) {
  changing data{{0, 1, 2, 3}, 4};
  data.v.push_back(4);  // 5 items, but the first pass stops at 4
  struct first_short {
    changing* c;
    auto begin() { return c->begin(); }
    auto end() { return c->passes == 1 ? c->v.begin() + 4 : c->v.end(); }
  } r{&data};
  EXPECT_THROW(collect(sluice::batches(r, 2, 2)), std::length_error);
}

TEST(Batches, AnEmptyRangeYieldsNothing) {
  // The seed raises UnboundLocalError here.
  EXPECT_TRUE(collect(sluice::batches(std::vector<int>{}, 3, 5)).empty());
}

TEST(Batches, InvalidSizesThrowAtTheCall) {
  EXPECT_THROW(sluice::batches(iota(3), 0, 1), std::invalid_argument);
  EXPECT_THROW(sluice::batches(iota(3), 1, 0), std::invalid_argument);
}

TEST(Batches, BatchLargerThanTheRangeSpansEpochs) {
  EXPECT_EQ(collect(sluice::batches(iota(3), 4, 3)), (vv{{0, 1, 2, 0}, {1, 2, 0, 1}, {2}}));
}

TEST(Batches, WorksInAPipelineAndOverLvalues) {
  const std::vector<int> data = iota(4);
  auto squares = data | std::views::transform([](int i) { return i * i; });
  EXPECT_EQ(collect(sluice::batches(squares, 3)), (vv{{0, 1, 4}, {9}}));
  static_assert(std::ranges::input_range<decltype(sluice::batches(data, 2))>);
}

}  // namespace
