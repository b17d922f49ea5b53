// Bytes in JSON rows: RFC 3629 UTF-8 validity, the lossy rendering, RFC 4648 base64 and the
// put_bytes / get_bytes round trip for every byte value.
#include <sluice/bytes_field.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice {
namespace {

namespace json = boost::json;

TEST(Base64, EncodesAndDecodesTheRfc4648TestVectors) {
  // RFC 4648, section 10.
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(plain)) << encoded;
  }
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Base64, RejectsTextThatIsNotCanonicalBase64) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "====", "Zm9v=", "Zm9\x80", "Zm 9",
                          "Zh==", "Zm9=Zm9v", "Zm-v", "Zm_v"})
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
}

TEST(Base64, RoundTripsRandomBytesOfEveryLength) {
  std::mt19937 rng(4648);
  for (std::size_t n = 0; n < 300; ++n) {
    std::string bytes(n, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << n;
  }
}

TEST(Utf8, AcceptsValidTextAndRejectsEveryKindOfInvalidSequence) {
  for (const char* good : {"", "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                           "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80",
                           "0123456789abcdef\xc3\xa9 and more ascii after it"})
    EXPECT_TRUE(is_utf8(good)) << good;
  EXPECT_TRUE(is_utf8(std::string("a\0b", 3)));  // NUL is a character
  for (const char* bad : {
           "\x80",              // a continuation byte alone
           "\xc3",              // a sequence cut short
           "caf\xe9",           // Latin-1
           "\xc0\x80",          // overlong NUL
           "\xc1\xbf",          // overlong
           "\xe0\x80\xaf",      // overlong 3-byte
           "\xf0\x8f\xbf\xbf",  // overlong 4-byte
           "\xed\xa0\x80",      // a UTF-16 surrogate (U+D800)
           "\xed\xbf\xbf",      // U+DFFF
           "\xf4\x90\x80\x80",  // above U+10FFFF
           "\xf5\x80\x80\x80", "\xff", "\xfe",
           "\xe2\x82",             // cut short
           "\xe2\x28\xa1",         // a bad second byte
           "12345678\xe2\x82\x28"  // after the 8-byte ASCII path
       })
    EXPECT_FALSE(is_utf8(bad)) << json::serialize(json::string(base64_encode(bad)));
}

TEST(Utf8, LossyTextReplacesEachInvalidByteAndKeepsTheRest) {
  EXPECT_EQ(lossy_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(lossy_utf8("caf\xe9"), "caf\xef\xbf\xbd");
  EXPECT_EQ(lossy_utf8("\xff\xfe"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(lossy_utf8("a\xe2\x82z"), "a\xef\xbf\xbd\xef\xbf\xbdz");
  EXPECT_EQ(lossy_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  std::mt19937 rng(3629);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 40, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    EXPECT_TRUE(is_utf8(lossy_utf8(bytes)));
  }
}

TEST(BytesField, EveryByteValueRoundTripsThroughAStrictJsonParser) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (const std::string& bytes : {all, std::string("plain text"), std::string("caf\xe9"),
                                   std::string("a\0b\n\"\\", 6), std::string()}) {
    json::object row;
    put_bytes(row, "stdout", bytes);
    EXPECT_EQ(row.contains("stdout_b64"), !is_utf8(bytes));
    // Boost.JSON's parser rejects text that is not UTF-8: the row parses, and gives the bytes.
    const std::string text = json::serialize(row);
    ASSERT_TRUE(is_utf8(text));
    const json::object back = json::parse(text).as_object();
    EXPECT_EQ(get_bytes(back, "stdout"), bytes);
  }
}

TEST(BytesField, PuttingTextOverBytesDropsTheStaleBase64) {
  json::object row;
  put_bytes(row, "out", "\xff");
  put_bytes(row, "out", "fine");
  EXPECT_FALSE(row.contains("out_b64"));
  EXPECT_EQ(get_bytes(row, "out"), "fine");
  EXPECT_EQ(get_bytes(row, "missing"), std::nullopt);
  row["bad_b64"] = "not base64!";
  row["bad"] = "x";
  EXPECT_EQ(get_bytes(row, "bad"), std::nullopt);
}

}  // namespace
}  // namespace sluice
