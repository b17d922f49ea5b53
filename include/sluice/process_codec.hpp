// How in_process passes a function's arguments and result between processes: as bytes, by a
// codec the caller can choose. Given: trivially copyable types (not pointers), std::string,
// std::vector of a codable type, std::pair and std::tuple of codable types, and
// boost::json::value. Specialize sluice::process_codec<T> for a type of your own.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice {

/// The bytes of a T: `static void encode(const T&, std::string& out)` appends them, and
/// `static T decode(std::string_view& in)` reads them from the front of `in` (advancing it).
/// decode throws std::runtime_error on input too short (a codec mismatch).
template <class T>
struct process_codec;

namespace detail {

inline void need_bytes(std::string_view in, std::size_t n) {
  if (in.size() < n) throw std::runtime_error("process_codec: the encoded value is cut short");
}

inline void encode_size(std::size_t n, std::string& out) {
  const auto v = static_cast<std::uint64_t>(n);
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

inline std::size_t decode_size(std::string_view& in) {
  std::uint64_t v;
  need_bytes(in, sizeof v);
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return static_cast<std::size_t>(v);
}

}  // namespace detail

template <class T>
requires(std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
         !std::is_member_pointer_v<T>) struct process_codec<T> {
  static void encode(const T& v, std::string& out) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  static T decode(std::string_view& in) {
    detail::need_bytes(in, sizeof(T));
    T v;
    std::memcpy(static_cast<void*>(&v), in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
};

template <>
struct process_codec<std::string> {
  static void encode(const std::string& v, std::string& out) {
    detail::encode_size(v.size(), out);
    out += v;
  }
  static std::string decode(std::string_view& in) {
    const std::size_t n = detail::decode_size(in);
    detail::need_bytes(in, n);
    std::string v(in.substr(0, n));
    in.remove_prefix(n);
    return v;
  }
};

template <class T>
struct process_codec<std::vector<T>> {
  static void encode(const std::vector<T>& v, std::string& out) {
    detail::encode_size(v.size(), out);
    for (const auto& e : v) process_codec<T>::encode(e, out);
  }
  static std::vector<T> decode(std::string_view& in) {
    const std::size_t n = detail::decode_size(in);
    std::vector<T> v;
    v.reserve(std::min<std::size_t>(n, in.size()));
    for (std::size_t i = 0; i < n; ++i) v.push_back(process_codec<T>::decode(in));
    return v;
  }
};

template <class... T>
requires(!std::is_trivially_copyable_v<std::tuple<T...>>) struct process_codec<std::tuple<T...>> {
  static void encode(const std::tuple<T...>& v, std::string& out) {
    std::apply([&out](const T&... e) { (process_codec<T>::encode(e, out), ...); }, v);
  }
  static std::tuple<T...> decode(std::string_view& in) {
    return std::tuple<T...>{process_codec<T>::decode(in)...};  // (braces: left to right)
  }
};

template <class A, class B>
requires(!std::is_trivially_copyable_v<std::pair<A, B>>) struct process_codec<std::pair<A, B>> {
  static void encode(const std::pair<A, B>& v, std::string& out) {
    process_codec<A>::encode(v.first, out);
    process_codec<B>::encode(v.second, out);
  }
  static std::pair<A, B> decode(std::string_view& in) {
    A a = process_codec<A>::decode(in);
    return {std::move(a), process_codec<B>::decode(in)};
  }
};

template <>
struct process_codec<boost::json::value> {
  static void encode(const boost::json::value& v, std::string& out) {
    process_codec<std::string>::encode(boost::json::serialize(v), out);
  }
  static boost::json::value decode(std::string_view& in) {
    return boost::json::parse(process_codec<std::string>::decode(in));
  }
};

}  // namespace sluice
