// The bytes codecs on any input. Invariants: lossy_utf8 is valid UTF-8 and is the identity on
// valid text; base64 round-trips; a decodable text is canonical (it re-encodes to itself).
#include "fuzz_support.hpp"

#include <sluice/bytes_field.hpp>

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = fuzz::as_text(data, size);
  const std::string lossy = lossy_utf8(bytes);
  fuzz::check(is_utf8(lossy), "lossy_utf8 gives valid UTF-8");
  if (is_utf8(bytes)) fuzz::check(lossy == bytes, "lossy_utf8 keeps valid text as it is");
  fuzz::check(base64_decode(base64_encode(bytes)) == std::string(bytes), "base64 round-trips");
  if (auto decoded = base64_decode(bytes))
    fuzz::check(base64_encode(*decoded) == bytes, "decodable base64 is canonical");
  return 0;
}
