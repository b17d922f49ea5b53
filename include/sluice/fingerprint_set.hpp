// A set of 128-bit fingerprints of byte strings (XXH3-128), in one flat table of 16 bytes a
// slot: what a resumed run keeps of each task already done, instead of its identity's text.
// Unlike a set of strings it costs the same for any key length (about 20 bytes per entry),
// at the price of a false "contains" with probability about size() / 2^128 per lookup.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace sluice {

/// XXH3-128 of some bytes.
struct fingerprint {
  std::uint64_t lo = 0, hi = 0;
  friend bool operator==(const fingerprint&, const fingerprint&) = default;
};

/// The fingerprint of `bytes` (XXH3-128, seed 0: the same on every machine and build).
[[nodiscard]] fingerprint fingerprint_of(std::string_view bytes) noexcept;

/// An insert-only set of fingerprints: open addressing with linear probing in a table whose
/// size is any number of slots (not a power of two), at most 80% full; it grows by half when
/// full. reserve(n) before inserting n entries keeps it at about 20 bytes per entry with no
/// growth (and no moment holding two tables).
///
/// Two different strings share a fingerprint with probability 2^-128: among n strings the
/// chance of any such pair is at most n^2 / 2^129 (below 10^-20 for n = 10^9).
///
///     sluice::fingerprint_set done;
///     done.insert(sluice::fingerprint_of("a"));
///     assert(done.contains(sluice::fingerprint_of("a")));
class fingerprint_set {
 public:
  fingerprint_set() = default;
  fingerprint_set(fingerprint_set&&) noexcept = default;
  fingerprint_set& operator=(fingerprint_set&&) noexcept = default;

  /// Room for `n` entries in all without growing.
  void reserve(std::size_t n);
  /// Adds `f`; false if it was there already.
  bool insert(fingerprint f);
  [[nodiscard]] bool contains(fingerprint f) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The bytes the table occupies.
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return slots_ * sizeof(fingerprint); }

 private:
  // The slot of `f`, or of the empty slot where it would go.
  [[nodiscard]] std::size_t probe(fingerprint f) const noexcept;
  void rehash(std::size_t slots);

  std::unique_ptr<fingerprint[]> table_;  // {0, 0}: an empty slot
  std::size_t slots_ = 0, size_ = 0;
};

}  // namespace sluice
