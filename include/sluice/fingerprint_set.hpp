// A set of 128-bit fingerprints of byte strings (XXH3-128), in one flat table of 16 bytes a
// slot: what a resumed run keeps of each task already done, instead of its identity's text.
// Unlike a set of strings it costs the same for any key length (about 20 bytes per entry),
// at the price of a false "contains" with probability about size() / 2^128 per lookup.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
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
  /// Adds them all, faster than one by one: each slot is fetched into the cache some entries
  /// ahead of its insert, so that the cache misses of a big table overlap.
  void insert_all(std::span<const fingerprint> fs);
  [[nodiscard]] bool contains(fingerprint f) const noexcept;
  /// Starts loading the slot of `f` into the cache, for a contains(f) soon.
  void prefetch(fingerprint f) const noexcept {
    if (slots_ != 0) __builtin_prefetch(&table_[home(f)]);
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The bytes the table occupies.
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return slots_ * sizeof(fingerprint); }

 private:
  // Where the search for `f` starts: the high word scaled to the table (Lemire's
  // multiply-shift), so that any table size works.
  [[nodiscard]] std::size_t home(fingerprint f) const noexcept {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::size_t>((static_cast<u128>(f.hi) * slots_) >> 64);
  }
  // The slot of `f`, or of the empty slot where it would go.
  [[nodiscard]] std::size_t probe(fingerprint f) const noexcept;
  void grow_for(std::size_t more);
  void rehash(std::size_t slots);

  struct free_table {
    void operator()(fingerprint* t) const noexcept;
  };
  // In huge pages where the system has them: at millions of entries every access is a TLB
  // miss with 4 KiB pages. {0, 0}: an empty slot.
  std::unique_ptr<fingerprint[], free_table> table_;
  std::size_t slots_ = 0, size_ = 0;
};

}  // namespace sluice
