// sluice::batches: a range cut into batches of a fixed size over several epochs, as a C++20
// view (the seed's `batches`, with its empty-input and generator cases defined).
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

/// The view behind sluice::batches.
template <std::ranges::view V>
class batches_view : public std::ranges::view_interface<batches_view<V>> {
 public:
  using batch = std::vector<std::ranges::range_value_t<V>>;

  batches_view(V base, std::size_t batch_size, std::size_t epochs)
      : base_(std::move(base)), size_(batch_size), epochs_(epochs) {
    if (batch_size == 0) throw std::invalid_argument("batches: batch_size must be >= 1, got 0");
    if (epochs == 0) throw std::invalid_argument("batches: epochs must be >= 1, got 0");
  }

  class iterator {
   public:
    using value_type = batch;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    const batch& operator*() const { return cur_; }
    const batch* operator->() const { return &cur_; }
    iterator& operator++() {
      fill();
      return *this;
    }
    void operator++(int) { fill(); }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.done_; }

   private:
    friend class batches_view;
    explicit iterator(batches_view* v) : v_(v) {
      it_.emplace(std::ranges::begin(v_->base_));
      fill();
    }

    // The next batch: items from the current epoch, then from the next ones (a batch spans
    // the boundary), until it is full or the last epoch ends.
    void fill() {
      cur_.clear();
      while (cur_.size() < v_->size_ && !exhausted_) {
        if (*it_ == std::ranges::end(v_->base_)) {
          end_epoch();
          continue;
        }
        cur_.push_back(**it_);
        ++*it_;
        ++count_;
        if (epoch_ > 0 && count_ > first_) mismatch();
      }
      done_ = cur_.empty();
    }

    void end_epoch() {
      if (epoch_ == 0)
        first_ = count_;
      else if (count_ != first_)
        mismatch();
      ++epoch_;
      count_ = 0;
      // A single-pass range cannot be iterated again: one epoch (documented).
      if (epoch_ == v_->epochs_ || first_ == 0 || !std::ranges::forward_range<V>) {
        exhausted_ = true;
        return;
      }
      it_.emplace(std::ranges::begin(v_->base_));
    }

    [[noreturn]] void mismatch() const {
      throw std::length_error("batches: the first epoch had " + std::to_string(first_) +
                              " items, but epoch " + std::to_string(epoch_ + 1) + " had " +
                              (count_ > first_ ? "more" : std::to_string(count_)));
    }

    batches_view* v_ = nullptr;
    std::optional<std::ranges::iterator_t<V>> it_;
    batch cur_;
    std::size_t epoch_ = 0;
    std::size_t count_ = 0;  // items taken in this epoch
    std::size_t first_ = 0;  // items in the first epoch
    bool exhausted_ = false;
    bool done_ = false;
  };

  /// Starts the first epoch. Call once (the view is an input range).
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  V base_;
  std::size_t size_;
  std::size_t epochs_;
};

/// Cuts `range` into batches (std::vector) of `batch_size` items, over `epochs` passes.
///
/// - A forward range is iterated again for each epoch, and a batch carries over the epoch
///   boundary: [0..4] in batches of 2 over 2 epochs gives [0,1] [2,3] [4,0] [1,2] [3,4].
///   Only the last batch may be short.
/// - A single-pass range (a generator, a stream of lines) gives one epoch, whatever `epochs`.
/// - An empty range gives no batch.
/// - batch_size or epochs 0: std::invalid_argument, at the call.
/// - A later epoch with a different number of items than the first throws std::length_error
///   when that is seen (the batches before it were yielded). The seed accepts a longer later
///   epoch silently; a dataset that changes size between epochs is treated as a bug here.
///
///     for (const auto& b : sluice::batches(samples, 32, 10)) train(b);
template <std::ranges::viewable_range R>
requires std::ranges::input_range<R>
auto batches(R&& range, std::size_t batch_size, std::size_t epochs = 1) {
  return batches_view<std::views::all_t<R>>(std::views::all(std::forward<R>(range)), batch_size,
                                            epochs);
}

}  // namespace sluice
