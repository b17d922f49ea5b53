#include "progress_bar.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>

namespace sluice::cli {

namespace {

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

std::string progress_bar::line(const progress::counts& c, std::size_t skipped, std::size_t reused,
                               std::chrono::steady_clock::duration elapsed) const {
  const std::size_t ran = c.succeeded + c.failed;
  const std::size_t done = ran + skipped + reused;
  const double secs = std::chrono::duration<double>(elapsed).count();
  const double rate = secs > 0 ? static_cast<double>(ran) / secs : 0;
  std::string s;
  if (total_) {
    const double frac = *total_ == 0 ? 1 : static_cast<double>(done) / static_cast<double>(*total_);
    constexpr int width = 20;
    const int filled = std::clamp(static_cast<int>(frac * width), 0, width);
    s = fmt::format("[{}{}] {}/{} {:.0f}%", std::string(filled, '#'),
                    std::string(width - filled, '.'), done, *total_, frac * 100);
  } else {
    s = fmt::format("{} done", done);
  }
  s += fmt::format(" | {} running | {} failed | {:.1f}/s", c.running, c.failed, rate);
  if (c.retried) s += fmt::format(" | {} retried", c.retried);
  if (reused) s += fmt::format(" | {} reused", reused);
  if (skipped) s += fmt::format(" | {} skipped", skipped);
  if (total_ && rate > 0 && done < *total_)
    s += " | ETA " + clock_text(static_cast<double>(*total_ - done) / rate);
  else
    s += " | " + clock_text(secs);
  if (!limits.empty()) s += " | " + limits;
  return s;
}

void progress_bar::draw(const progress::counts& c, std::size_t skipped, std::size_t reused,
                        bool final) const {
  std::string s = "\r\x1b[2K" + line(c, skipped, reused, std::chrono::steady_clock::now() - start_);
  if (final) s += '\n';
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, s.data(), s.size());
}

}  // namespace sluice::cli
