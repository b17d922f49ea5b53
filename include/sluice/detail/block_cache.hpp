// A per-thread cache of freed small blocks in front of operator new, for objects made and
// destroyed in steady rotation, many alive at once: a scope's job states (up to max_at_once
// and a batch more), a batch loader's keys in flight (a round of a thousand loads). Asio's
// recycling allocator keeps two blocks per thread, which serves a coroutine frame at a time
// but not a window of jobs.
#pragma once

#include <array>
#include <cstddef>
#include <new>

namespace sluice::detail {

class block_cache {
 public:
  static constexpr std::size_t granule = 64;  // sizes are rounded up to a multiple of this
  static constexpr std::size_t classes = 8;   // so blocks up to 512 bytes are cached
  /// Bytes kept per size class and thread: 4,096 blocks of 64 bytes, 512 of 512.
  static constexpr std::size_t max_cached_bytes = 256 * 1024;
  static constexpr std::size_t max_cached(std::size_t size_class) noexcept {
    return limits[size_class];
  }

  /// `bytes` from this thread's cache, else from operator new.
  static void* allocate(std::size_t bytes) {
    const std::size_t c = size_class(bytes);
    if (c < classes) {
      lists& l = cache;
      if (free_block* b = l.head[c]) {
        l.head[c] = b->next;
        --l.count[c];
        return b;
      }
      return ::operator new((c + 1) * granule);
    }
    return ::operator new(bytes);
  }

  /// Gives back a block of `bytes` from allocate(), on any thread: it joins this thread's
  /// cache unless that is full.
  static void deallocate(void* p, std::size_t bytes) noexcept {
    const std::size_t c = size_class(bytes);
    if (c < classes) {
      lists& l = cache;
      if (l.count[c] < max_cached(c)) {
        if (!l.drain_armed) [[unlikely]]
          arm_drain();
        l.head[c] = ::new (p) free_block{l.head[c]};
        ++l.count[c];
        return;
      }
    }
    ::operator delete(p);
  }

 private:
  static constexpr std::array<std::size_t, classes> limits = [] {
    std::array<std::size_t, classes> l{};
    for (std::size_t c = 0; c < classes; ++c) l[c] = max_cached_bytes / ((c + 1) * granule);
    return l;
  }();

  struct free_block {
    free_block* next;
  };
  // The thread's free lists: constant-initialised and trivially destructible, so reaching
  // them costs no initialisation guard, and they stay usable while other thread_locals are
  // destroyed. The first block cached on a thread arms `drain`, which empties them into
  // operator delete when the thread ends; from then on blocks go straight back to the heap.
  struct lists {
    std::array<free_block*, classes> head;
    std::array<std::size_t, classes> count;
    bool drain_armed;  // `drain` will run (or has run) when the thread ends
  };
  struct drain {
    ~drain() {
      for (std::size_t c = 0; c < classes; ++c) {
        while (free_block* b = cache.head[c]) {
          cache.head[c] = b->next;
          ::operator delete(b);
        }
        cache.count[c] = max_cached(c);
      }
    }
  };

  static std::size_t size_class(std::size_t bytes) noexcept {
    return bytes == 0 ? 0 : (bytes - 1) / granule;
  }
  [[gnu::noinline]] static void arm_drain() noexcept {
    cache.drain_armed = true;
    thread_local drain d;
    (void)d;
  }

  static constinit inline thread_local lists cache{};
};

/// A standard allocator over block_cache: for the nodes of asynchronous operations whose
/// handler brings no allocator of its own (a coroutine's), many of which wait at once.
template <class T>
struct block_cache_allocator {
  using value_type = T;
  block_cache_allocator() noexcept = default;
  template <class U>
  block_cache_allocator(const block_cache_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(block_cache::allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { block_cache::deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const block_cache_allocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace sluice::detail
