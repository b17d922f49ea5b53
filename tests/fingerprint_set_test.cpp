// fingerprint_set: membership, growth, and the memory a reserved set takes per entry.
#include <sluice/fingerprint_set.hpp>

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(Fingerprint, IsXxh3OfTheBytesTheSameOnEveryMachine) {
  // XXH3-128 of "" with seed 0 (xxHash's own test value).
  const fingerprint empty = fingerprint_of("");
  EXPECT_EQ(empty.hi, 0x99aa06d3014798d8ULL);
  EXPECT_EQ(empty.lo, 0x6001c324468d497fULL);
  EXPECT_NE(fingerprint_of("a"), fingerprint_of("b"));
  EXPECT_EQ(fingerprint_of(std::string("a\0b", 3)), fingerprint_of(std::string("a\0b", 3)));
  EXPECT_NE(fingerprint_of(std::string("a\0b", 3)), fingerprint_of("a"));
}

TEST(FingerprintSet, HoldsWhatWasInsertedAndNothingElse) {
  fingerprint_set s;
  EXPECT_FALSE(s.contains(fingerprint_of("x")));
  for (int i = 0; i < 100000; ++i) EXPECT_TRUE(s.insert(fingerprint_of(std::to_string(i))));
  for (int i = 0; i < 100000; ++i) EXPECT_FALSE(s.insert(fingerprint_of(std::to_string(i))));
  EXPECT_EQ(s.size(), 100000u);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(s.contains(fingerprint_of(std::to_string(i))));
  for (int i = 100000; i < 200000; ++i) ASSERT_FALSE(s.contains(fingerprint_of(std::to_string(i))));
}

TEST(FingerprintSet, TheAllZeroFingerprintIsAMemberLikeAnyOther) {
  fingerprint_set s;
  EXPECT_FALSE(s.contains({0, 0}));
  EXPECT_TRUE(s.insert({0, 0}));
  EXPECT_TRUE(s.contains({0, 0}));
  EXPECT_EQ(s.size(), 1u);
}

TEST(FingerprintSet, AReservedSetTakesAbout20BytesPerEntryAndGrowingStaysUnder32) {
  fingerprint_set reserved;
  reserved.reserve(1000000);
  const std::size_t bytes = reserved.memory_bytes();
  for (int i = 0; i < 1000000; ++i) reserved.insert(fingerprint_of(std::to_string(i)));
  EXPECT_EQ(reserved.memory_bytes(), bytes);  // never grew
  EXPECT_LE(bytes, 20u * 1000000 + 64);
  fingerprint_set grown;
  for (int n = 1; n <= 1000000; ++n) {
    grown.insert(fingerprint_of(std::to_string(n)));
    if (n >= 1000) {
      ASSERT_LE(grown.memory_bytes(), 31u * n) << n;
    }
  }
}

}  // namespace
}  // namespace sluice
