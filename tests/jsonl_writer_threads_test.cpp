// jsonl_writer from several threads at once: rows never interleave. Run under
// ThreadSanitizer by the tsan preset.
#include "files.hpp"
#include "sluice/jsonl_writer.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sluice::test {
namespace {

TEST(JsonlWriterThreads, RowsFromConcurrentThreadsNeverInterleave) {
  temp_dir d;
  auto p = d / "shared.jsonl";
  constexpr int threads = 4, rows = 500;
  {
    jsonl_writer out(p, fsync_policy::never());
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&out, t] {
        for (int i = 0; i < rows; ++i)  // rows of 1 B to 64 KiB, so that writes are long
          out.write(
              json::object{{"t", t}, {"i", i}, {"pad", std::string((i * 131) % 65536, 'a' + t)}});
      });
    for (auto& th : pool) th.join();
    EXPECT_EQ(out.rows_written(), std::size_t(threads * rows));
  }
  auto all = read_rows(p);  // throws if any line is not a whole row
  ASSERT_EQ(all.size(), std::size_t(threads * rows));
  std::vector<int> next(threads, 0);
  for (const auto& r : all) {  // each thread's rows in its own order
    auto t = r.at("t").as_int64();
    EXPECT_EQ(r.at("i").as_int64(), next[t]++);
    EXPECT_EQ(r.at("pad").as_string().size(), std::size_t((r.at("i").as_int64() * 131) % 65536));
  }
}

}  // namespace
}  // namespace sluice::test
