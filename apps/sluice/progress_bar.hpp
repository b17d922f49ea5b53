// The one-line progress report of `sluice run` on stderr, drawn from the library's public
// progress counters: done/total, failures, running, rate and ETA.
#pragma once

#include <sluice/progress.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace sluice::cli {

class progress_bar {
 public:
  /// `total`: the number of inputs, when known.
  explicit progress_bar(std::optional<std::size_t> total) : total_(total) {}

  /// The line for these counts, `skipped` inputs (done before, or of another shard) and
  /// `reused` ones (given their key's result by --dedupe), `elapsed` after the start (no
  /// terminal control codes).
  [[nodiscard]] std::string line(const progress::counts& c, std::size_t skipped, std::size_t reused,
                                 std::chrono::steady_clock::duration elapsed) const;
  /// Redraws the line on stderr; `final` ends it with a newline.
  void draw(const progress::counts& c, std::size_t skipped, std::size_t reused,
            bool final = false) const;
  /// The run's limits now ("-j 8; -r 20/s, waited 3.1s"), shown at the end of the line.
  std::string limits;

 private:
  std::optional<std::size_t> total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace sluice::cli
