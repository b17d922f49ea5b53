// Bytes from outside (a command's output, an input line, an HTTP body) in a JSON row, lossless:
// JSON text must be UTF-8, and such bytes need not be. A field holding bytes is a plain string
// when they are valid UTF-8; otherwise the string is a readable rendering (each byte that is
// not part of a valid UTF-8 sequence becomes U+FFFD) and a companion field `<name>_b64` holds
// the exact bytes in base64 (RFC 4648, standard alphabet, padded). Unlike Boost.JSON's
// serializer, which writes the bytes of a string as they are, every row stays valid JSON.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

/// Whether `s` is valid UTF-8 (RFC 3629: shortest forms only, no UTF-16 surrogates, nothing
/// above U+10FFFF). NUL and other control characters are valid.
[[nodiscard]] bool is_utf8(std::string_view s) noexcept;

/// `s` with every byte that does not belong to a valid UTF-8 sequence replaced by U+FFFD
/// (one replacement per byte); valid text is returned unchanged.
[[nodiscard]] std::string lossy_utf8(std::string_view s);

/// RFC 4648 base64 of `bytes` (alphabet A-Z a-z 0-9 + /, '=' padding).
[[nodiscard]] std::string base64_encode(std::string_view bytes);

/// The bytes of RFC 4648 base64 text (padding required, no line breaks or spaces), or
/// std::nullopt when `text` is not such text (a bad character, a bad length, bits left over in
/// the last character).
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

/// The field that holds the exact bytes of field `name` when they are not UTF-8: `name_b64`.
[[nodiscard]] std::string bytes_field_name(std::string_view name);

/// Sets `row[name]` to `bytes`: the text itself when it is valid UTF-8 (and removes a stale
/// `name_b64`); otherwise lossy_utf8(bytes), with `name_b64` set to base64_encode(bytes).
///
///     sluice::put_bytes(row, "stdout", output);   // "stdout" (+ "stdout_b64" if not UTF-8)
void put_bytes(boost::json::object& row, std::string_view name, std::string_view bytes);

/// The exact bytes put_bytes stored under `name`: from `name_b64` when present, else the
/// string `name` as UTF-8. std::nullopt when the row has neither, when `name` is not a
/// string, or when `name_b64` is not valid base64.
[[nodiscard]] std::optional<std::string> get_bytes(const boost::json::object& row,
                                                   std::string_view name);

}  // namespace sluice
