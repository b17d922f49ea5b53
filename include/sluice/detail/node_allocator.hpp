// An allocator for the nodes of a node-based container that lives on one thread: blocks of
// one size come from a Boost.Pool free list instead of malloc, so a map that grows to millions
// of entries costs a pointer pop per node. Anything larger (bucket arrays) or more aligned
// than a pointer (Boost.Pool aligns blocks to 8 bytes) goes to the heap; chunks and arrays of
// 2 MiB and more ask for huge pages.
#pragma once

#include <boost/pool/pool.hpp>

#include <sys/mman.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <optional>

namespace sluice::detail {

/// Boost.Pool's source of chunks. A pool doubles its chunk each time it grows: a map of
/// millions of nodes gets chunks of megabytes, which are asked to be backed by huge pages
/// (one page fault per 2 MiB instead of per 4 KiB, where the kernel's transparent huge pages
/// are "always" or "madvise").
struct pool_chunks {
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  static constexpr std::size_t huge_page = std::size_t{2} << 20;

  static char* malloc(size_type bytes) {
    if (bytes < huge_page) return static_cast<char*>(std::malloc(bytes));
    const std::size_t rounded = (bytes + huge_page - 1) / huge_page * huge_page;
    void* p = std::aligned_alloc(huge_page, rounded);
    if (p) ::madvise(p, rounded, MADV_HUGEPAGE);  // (a hint: failure changes nothing)
    return static_cast<char*>(p);
  }
  static void free(char* block) { std::free(block); }
};

/// The pools behind node_allocator: one per small block size, made at first use. Not
/// thread-safe; owned by the container's owner and outliving the container.
class node_pools {
 public:
  static constexpr std::size_t max_block = 128;

  node_pools() = default;
  node_pools(const node_pools&) = delete;
  node_pools& operator=(const node_pools&) = delete;

  /// The pool for blocks of `bytes` (<= max_block), or null when every slot has another size.
  boost::pool<pool_chunks>* for_size(std::size_t bytes) {
    for (auto& slot : slots_) {
      if (!slot) slot.emplace(bytes);
      if (slot->get_requested_size() == bytes) return &*slot;
    }
    return nullptr;
  }

 private:
  // A node-based map asks for its node type; a few slots cover what it rebinds to.
  std::array<std::optional<boost::pool<pool_chunks>>, 4> slots_;
};

template <class T>
class node_allocator {
 public:
  using value_type = T;

  explicit node_allocator(node_pools* pools) noexcept : pools_(pools) {}
  template <class U>
  node_allocator(const node_allocator<U>& o) noexcept : pools_(o.pools()) {}

  T* allocate(std::size_t n) {
    if (pooled(n))
      if (auto* pool = pools_->for_size(sizeof(T))) {
        if (void* p = pool->malloc()) return static_cast<T*>(p);
        throw std::bad_alloc();
      }
    if (huge(n)) {
      if (void* p = pool_chunks::malloc(n * sizeof(T))) return static_cast<T*>(p);
      throw std::bad_alloc();
    }
    return std::allocator<T>().allocate(n);
  }

  void deallocate(T* p, std::size_t n) noexcept {
    if (pooled(n))
      if (auto* pool = pools_->for_size(sizeof(T))) {
        pool->free(p);
        return;
      }
    if (huge(n)) return pool_chunks::free(reinterpret_cast<char*>(p));
    std::allocator<T>().deallocate(p, n);
  }

  [[nodiscard]] node_pools* pools() const noexcept { return pools_; }
  template <class U>
  bool operator==(const node_allocator<U>& o) const noexcept {
    return pools_ == o.pools();
  }

 private:
  // Where n objects come from, the same for allocate and deallocate: one node from its pool;
  // an array of 2 MiB and more (a bucket array of a map of millions) from pool_chunks.
  static constexpr bool pooled(std::size_t n) noexcept {
    return n == 1 && sizeof(T) <= node_pools::max_block && alignof(T) <= alignof(void*);
  }
  static constexpr bool huge(std::size_t n) noexcept {
    return alignof(T) <= alignof(std::max_align_t) && n > pool_chunks::huge_page / sizeof(T);
  }

  node_pools* pools_;
};

}  // namespace sluice::detail
