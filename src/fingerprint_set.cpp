#include "sluice/fingerprint_set.hpp"

// xxHash (Debian's libxxhash-dev) compiled into this file alone: no library to link.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>

namespace sluice {

namespace {

// An empty slot is all zeros, so the one fingerprint that is all zeros is stored as another
// (a collision of probability 2^-128, like any other).
fingerprint stored(fingerprint f) noexcept {
  if (f.lo == 0 && f.hi == 0) f.lo = 1;
  return f;
}

constexpr std::size_t percent_full = 80;

}  // namespace

fingerprint fingerprint_of(std::string_view bytes) noexcept {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  return {h.low64, h.high64};
}

void fingerprint_set::reserve(std::size_t n) {
  const std::size_t want = n * 100 / percent_full + 1;
  if (want > slots_) rehash(want);
}

std::size_t fingerprint_set::probe(fingerprint f) const noexcept {
  // The high word scaled to the table (Lemire's multiply-shift): any table size works.
  __extension__ using u128 = unsigned __int128;
  std::size_t i = static_cast<std::size_t>((static_cast<u128>(f.hi) * slots_) >> 64);
  for (;;) {
    const fingerprint& s = table_[i];
    if (s == f || (s.lo == 0 && s.hi == 0)) return i;
    if (++i == slots_) i = 0;
  }
}

bool fingerprint_set::insert(fingerprint f) {
  f = stored(f);
  if ((size_ + 1) * 100 > slots_ * percent_full)
    rehash(std::max<std::size_t>(64, slots_ + slots_ / 2));
  fingerprint& s = table_[probe(f)];
  if (s == f) return false;
  s = f;
  ++size_;
  return true;
}

bool fingerprint_set::contains(fingerprint f) const noexcept {
  if (size_ == 0) return false;
  f = stored(f);
  return table_[probe(f)] == f;
}

void fingerprint_set::rehash(std::size_t slots) {
  fingerprint_set bigger;
  bigger.table_ = std::make_unique<fingerprint[]>(slots);  // zeroed: every slot empty
  bigger.slots_ = slots;
  for (std::size_t i = 0; i < slots_; ++i) {
    const fingerprint& f = table_[i];
    if (f.lo == 0 && f.hi == 0) continue;
    bigger.table_[bigger.probe(f)] = f;
  }
  bigger.size_ = size_;
  *this = std::move(bigger);
}

}  // namespace sluice
