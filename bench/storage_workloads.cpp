#include "storage_workloads.hpp"

#include <sluice/resumable_file.hpp>

#include <boost/asio.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using clk = std::chrono::steady_clock;

namespace {

std::string key_of(std::size_t i) {
  char buf[32];
  int len = std::snprintf(buf, sizeof buf, "key-%09zu", i);
  return {buf, static_cast<std::size_t>(len)};
}

/// A row of about `bytes` bytes for key i: the key, a number, a flag and padding text.
json::object row_of(std::size_t i, std::size_t bytes) {
  json::object r{{"id", key_of(i)}, {"n", i}, {"ok", i % 7 != 0}, {"text", ""}};
  std::size_t base = json::serialize(r).size() + 1;
  r["text"] = std::string(bytes > base ? bytes - base : 0, 'a' + char(i % 26));
  return r;
}

/// Writes the results file for resume_scan unless one of the right size is there.
void ensure_results(const std::filesystem::path& p, std::size_t rows, std::size_t bytes) {
  std::error_code ec;
  if (std::filesystem::file_size(p, ec) == rows * bytes) return;
  std::filesystem::remove(p, ec);
  sluice::jsonl_writer out(p, sluice::fsync_policy::never());
  for (std::size_t i = 0; i < rows; ++i) out.write(row_of(i, bytes));
}

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

// resume_scan: create_or_resume_jsonl_file on a complete results file of n rows of `bytes`
// bytes each (keys key-000000000..), asked for the same n keys once each. It reads the file,
// learns that every key is done and calls the value generator with nothing. Timed: the whole
// call (taking the keys, the scan, the tally).
int resume_scan(std::size_t n, std::size_t bytes, const std::string& file) {
  ensure_results(file, n, bytes);
  std::vector<std::string> keys;
  keys.reserve(n);
  for (std::size_t i = 0; i < n; ++i) keys.push_back(key_of(i));
  asio::io_context ctx{1};
  sluice::resume_summary s;
  std::size_t asked = 1;
  double secs = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto t0 = clk::now();
        s = co_await sluice::create_or_resume_jsonl_file(
            file, "id", 1, keys, [&](const std::vector<sluice::key_need>& need) {
              asked = need.size();
              return std::vector<json::object>{};
            });
        secs = seconds_since(t0);
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ctx.run();
  if (s.rows_found != n || asked != 0) {
    std::fprintf(stderr, "resume_scan: found %zu rows, asked for %zu keys\n", s.rows_found, asked);
    return 1;
  }
  double mb = double(n * bytes) / 1e6;
  std::printf(
      "peer=sluice-create_or_resume workload=resume_scan n=%zu bytes=%zu wall_ms=%.1f "
      "mb_per_s=%.1f\n",
      n, n * bytes, secs * 1e3, mb / secs);
  return 0;
}

// append: n rows of `bytes` bytes through jsonl_writer to a fresh file, with the default
// fsync policy or fsync after every row (variant each_row).
int append(std::size_t n, std::size_t bytes, const std::string& variant) {
  auto file = std::filesystem::temp_directory_path() / "sluice-bench-append.jsonl";
  std::filesystem::remove(file);
  std::vector<json::object> rows;
  for (std::size_t i = 0; i < 100; ++i) rows.push_back(row_of(i, bytes));
  auto t0 = clk::now();
  {
    sluice::jsonl_writer out(
        file, variant == "each_row" ? sluice::fsync_policy::each_row() : sluice::fsync_policy{});
    for (std::size_t i = 0; i < n; ++i) out.write(rows[i % rows.size()]);
  }
  double secs = seconds_since(t0);
  std::filesystem::remove(file);
  std::printf(
      "peer=sluice-jsonl_writer-%s workload=append n=%zu bytes=%zu wall_ms=%.1f "
      "rows_per_s=%.0f us_per_row=%.2f\n",
      variant.c_str(), n, bytes, secs * 1e3, double(n) / secs, secs * 1e6 / double(n));
  return 0;
}

}  // namespace

int run_storage_workload(const std::string& wl, std::size_t n, std::size_t arg,
                         const std::string& variant) {
  if (wl == "resume_scan")
    return resume_scan(
        n, arg,
        variant.empty()
            ? (std::filesystem::temp_directory_path() / "sluice-bench-results.jsonl").string()
            : variant);
  if (wl == "append") return append(n, arg, variant.empty() ? "default" : variant);
  return -1;
}
