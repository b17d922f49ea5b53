#include "sluice/bytes_field.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace sluice {

namespace {

constexpr std::uint64_t high_bits = 0x8080808080808080u;

/// The length of the valid UTF-8 sequence at s[i] (whose first byte is not ASCII), or 0 when
/// none starts there. The ranges are RFC 3629's (Unicode's table 3-7): the second byte's
/// range excludes overlong forms (E0, F0), surrogates (ED) and code points over U+10FFFF (F4).
std::size_t sequence_at(std::string_view s, std::size_t i) noexcept {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = at(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;  // a continuation byte, C0, C1 or F5..FF
  }
  if (i + n > s.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
  return n;
}

/// Skips ASCII from `i`, eight bytes at a time.
std::size_t skip_ascii(std::string_view s, std::size_t i) noexcept {
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & high_bits) break;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> decoding = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = std::int8_t(i);
  return t;
}();

}  // namespace

bool is_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while ((i = skip_ascii(s, i)) < s.size()) {
    const std::size_t n = sequence_at(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string lossy_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  std::size_t i = 0;
  for (;;) {
    const std::size_t ascii_end = skip_ascii(s, i);
    out.append(s.substr(i, ascii_end - i));
    i = ascii_end;
    if (i == s.size()) return out;
    if (const std::size_t n = sequence_at(s, i)) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    }
  }
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  if (const std::size_t rest = bytes.size() - i) {
    const std::uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      std::int8_t d = decoding[static_cast<unsigned char>(c)];
      if (c == '=' && last && k >= 4 - pad) d = 0;
      if (d < 0) return std::nullopt;
      v = v << 6 | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (!last || pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (!last || pad < 1) out.push_back(static_cast<char>(v & 0xFF));
    // Canonical text only: the bits that padding leaves over must be zero (RFC 4648 3.5).
    if (last && ((pad == 2 && (v & 0xFFFF)) || (pad == 1 && (v & 0xFF)))) return std::nullopt;
  }
  return out;
}

std::string bytes_field_name(std::string_view name) {
  std::string b64(name);
  b64 += "_b64";
  return b64;
}

void put_bytes(boost::json::object& row, std::string_view name, std::string_view bytes) {
  const std::string b64_name = bytes_field_name(name);
  if (is_utf8(bytes)) {
    row[name] = bytes;
    row.erase(b64_name);
    return;
  }
  row[name] = lossy_utf8(bytes);
  row[b64_name] = base64_encode(bytes);
}

std::optional<std::string> get_bytes(const boost::json::object& row, std::string_view name) {
  if (const auto* b64 = row.if_contains(bytes_field_name(name))) {
    if (!b64->is_string()) return std::nullopt;
    return base64_decode(b64->get_string());
  }
  const auto* text = row.if_contains(name);
  if (text == nullptr || !text->is_string()) return std::nullopt;
  return std::string(text->get_string());
}

}  // namespace sluice
