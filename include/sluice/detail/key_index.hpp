// A flat, insert-only index of key texts (key_text of JSON keys) to dense ids 0, 1, 2...: the
// texts in one arena, an open-addressing table of (hash tag, id). Resuming a file of millions
// of keys spends its time here, so it avoids a node per key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::detail {

class key_index {
 public:
  static constexpr std::size_t npos = std::size_t(-1);

  void reserve(std::size_t keys);
  /// The id of `text`, adding it if it is new; `added` says which. `h` is hash(text).
  std::size_t insert(std::string_view text, std::uint64_t h, bool& added);
  /// The id of `text`, or npos. `h` is hash(text).
  [[nodiscard]] std::size_t find(std::string_view text, std::uint64_t h) const;
  [[nodiscard]] std::size_t find(std::string_view text) const { return find(text, hash(text)); }
  /// Starts loading the table entry of hash `h` into the cache, for a find or insert soon.
  void prefetch(std::uint64_t h) const noexcept {
    if (mask_ != 0) __builtin_prefetch(&slots_[h & mask_]);
  }
  static std::uint64_t hash(std::string_view s) noexcept;
  [[nodiscard]] std::string_view text(std::size_t id) const {
    return {arena_.data() + starts_[id], starts_[id + 1] - starts_[id]};
  }
  [[nodiscard]] std::size_t size() const noexcept { return starts_.size() - 1; }

 private:
  struct slot {
    std::uint32_t tag = 0;  // high bits of the hash
    std::uint32_t id1 = 0;  // id + 1; 0: empty
  };
  struct free_slots {
    void operator()(slot* s) const noexcept;
  };
  // The slot of text, or the empty one where it would go.
  std::size_t probe(std::string_view text, std::uint64_t h) const;
  void rehash(std::size_t slots);

  std::string arena_;
  std::vector<std::size_t> starts_{0};  // text i is arena_[starts_[i], starts_[i+1])
  // A power-of-two table in huge pages where the system has them (one TLB entry per 2 MiB
  // instead of per 4 KiB matters at millions of keys).
  std::unique_ptr<slot[], free_slots> slots_;
  std::size_t mask_ = 0;  // slot count - 1; 0 while there is no table
};

}  // namespace sluice::detail
