#include "sluice/fingerprint_set.hpp"

#include "sluice/detail/node_allocator.hpp"

// xxHash (Debian's libxxhash-dev) compiled into this file alone: no library to link.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <new>

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

void fingerprint_set::free_table::operator()(fingerprint* t) const noexcept {
  detail::pool_chunks::free(reinterpret_cast<char*>(t));
}

std::size_t fingerprint_set::probe(fingerprint f) const noexcept {
  for (std::size_t i = home(f);;) {
    const fingerprint& s = table_[i];
    if (s == f || (s.lo == 0 && s.hi == 0)) return i;
    if (++i == slots_) i = 0;
  }
}

void fingerprint_set::grow_for(std::size_t more) {
  while ((size_ + more) * 100 > slots_ * percent_full)
    rehash(std::max<std::size_t>(64, slots_ + slots_ / 2));
}

bool fingerprint_set::insert(fingerprint f) {
  f = stored(f);
  grow_for(1);
  fingerprint& s = table_[probe(f)];
  if (s == f) return false;
  s = f;
  ++size_;
  return true;
}

void fingerprint_set::insert_all(std::span<const fingerprint> fs) {
  constexpr std::size_t ahead = 16;  // enough misses in flight to cover the memory latency
  grow_for(fs.size());
  for (std::size_t i = 0; i < fs.size(); ++i) {
    if (i + ahead < fs.size()) prefetch(stored(fs[i + ahead]));
    const fingerprint f = stored(fs[i]);
    fingerprint& s = table_[probe(f)];
    if (s != f) {
      s = f;
      ++size_;
    }
  }
}

bool fingerprint_set::contains(fingerprint f) const noexcept {
  if (size_ == 0) return false;
  f = stored(f);
  return table_[probe(f)] == f;
}

void fingerprint_set::rehash(std::size_t slots) {
  fingerprint_set bigger;
  const std::size_t bytes = slots * sizeof(fingerprint);
  char* memory = detail::pool_chunks::malloc(bytes);
  if (memory == nullptr) throw std::bad_alloc();
  std::memset(memory, 0, bytes);  // every slot empty
  bigger.table_.reset(reinterpret_cast<fingerprint*>(memory));
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
