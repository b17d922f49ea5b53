#include "sluice/detail/key_index.hpp"

#include <sys/mman.h>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

namespace sluice::detail {

std::uint64_t key_index::hash(std::string_view s) noexcept {
  // FNV-1a over 8-byte words, then a final mix: fast for short keys, spread for the table.
  std::uint64_t h = 0xcbf29ce484222325ULL ^ s.size();
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < s.size(); ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

void key_index::free_slots::operator()(slot* s) const noexcept {
  std::free(s);
}

void key_index::reserve(std::size_t keys) {
  starts_.reserve(keys + 1);
  std::size_t want = std::bit_ceil(keys + keys / 2 + 16);
  if (want > mask_ + 1) rehash(want);
}

void key_index::rehash(std::size_t count) {
  constexpr std::size_t huge = std::size_t(2) << 20;
  std::size_t bytes = (count * sizeof(slot) + huge - 1) / huge * huge;
  void* mem = std::aligned_alloc(huge, bytes);
  if (mem == nullptr) throw std::bad_alloc();
  ::madvise(mem, bytes, MADV_HUGEPAGE);  // a hint; without huge pages it works the same
  std::memset(mem, 0, bytes);
  std::unique_ptr<slot[], free_slots> old(static_cast<slot*>(mem));
  old.swap(slots_);
  std::size_t old_count = mask_ == 0 ? 0 : mask_ + 1;
  mask_ = count - 1;
  for (std::size_t i = 0; i < old_count; ++i)
    if (old[i].id1 != 0) {
      std::string_view t = text(old[i].id1 - 1);
      slots_[probe(t, hash(t))] = old[i];
    }
}

std::size_t key_index::probe(std::string_view text_of, std::uint64_t h) const {
  const auto tag = static_cast<std::uint32_t>(h >> 32);
  for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
    const slot& s = slots_[i];
    if (s.id1 == 0) return i;
    if (s.tag == tag && text(s.id1 - 1) == text_of) return i;
  }
}

std::size_t key_index::insert(std::string_view t, std::uint64_t h, bool& added) {
  if (mask_ == 0 || (size() + 1) * 3 >= (mask_ + 1) * 2)  // keep the load factor below 2/3
    rehash(mask_ == 0 ? 16 : (mask_ + 1) * 2);
  slot& s = slots_[probe(t, h)];
  added = s.id1 == 0;
  if (added) {
    arena_.append(t);
    starts_.push_back(arena_.size());
    s = {static_cast<std::uint32_t>(h >> 32), static_cast<std::uint32_t>(size())};
  }
  return s.id1 - 1;
}

std::size_t key_index::find(std::string_view t, std::uint64_t h) const {
  if (mask_ == 0) return npos;
  const slot& s = slots_[probe(t, h)];
  return s.id1 == 0 ? npos : s.id1 - 1;
}

}  // namespace sluice::detail
