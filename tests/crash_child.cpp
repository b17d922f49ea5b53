// The process that crash_test kills: it fills a results file slowly, some rows large, so
// that a SIGKILL can land anywhere, in the middle of a write included.
//   sluice_crash_child create FILE KEYS COUNT   create_or_resume_jsonl_file, keys "k0".."kN-1"
//   sluice_crash_child map SRC DST              map_by_key_jsonl_file (key "key", keep "o")
#include "sluice/map_by_key.hpp"
#include "sluice/resumable_file.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

asio::awaitable<void> pause() {
  asio::steady_timer t(co_await asio::this_coro::executor, 2ms);
  co_await t.async_wait(asio::use_awaitable);
}

std::string pad_for(std::size_t n) {
  return std::string(n % 10 == 0 ? 4 << 20 : 64, 'p');
}

asio::awaitable<void> create(std::string file, int keys, std::size_t count) {
  std::vector<std::string> names;
  for (int i = 0; i < keys; ++i) names.push_back(std::string("k").append(std::to_string(i)));
  std::size_t made = 0;
  auto gen = [&made](const std::vector<sluice::key_need>& need) {
    std::vector<std::function<asio::awaitable<json::object>()>> rows;
    for (const auto& n : need)
      for (std::size_t i = 0; i < n.count; ++i)
        rows.push_back([&made, key = n.key]() -> asio::awaitable<json::object> {
          co_await pause();
          co_return json::object{{"k", key}, {"pad", pad_for(made++)}};
        });
    return rows;
  };
  auto s = co_await sluice::create_or_resume_jsonl_file(file, "k", count, names, gen);
  std::printf("found=%zu written=%zu torn=%llu\n", s.rows_found, s.rows_written,
              static_cast<unsigned long long>(s.torn_bytes));
}

asio::awaitable<void> map(std::string src, std::string dst) {
  auto f = [](const json::object& row) -> asio::awaitable<json::object> {
    co_await pause();
    std::int64_t k = row.at("key").as_int64();
    co_return json::object{{"result", 2 * k}, {"pad", pad_for(static_cast<std::size_t>(k))}};
  };
  sluice::map_by_key_options o{.key = "key", .num_concurrent = 4, .keep_columns = {"o"}};
  auto s = co_await sluice::map_by_key_jsonl_file(src, dst, f, o);
  std::printf("resumed=%zu written=%zu torn=%llu\n", s.rows_resumed, s.rows_written,
              static_cast<unsigned long long>(s.torn_bytes));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  asio::io_context ctx;
  int rc = 0;
  auto done = [&rc](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::fprintf(stderr, "crash_child: %s\n", x.what());
      rc = 1;
    }
  };
  if (a.size() == 4 && a[0] == "create")
    asio::co_spawn(ctx, create(a[1], std::stoi(a[2]), std::stoul(a[3])), done);
  else if (a.size() == 3 && a[0] == "map")
    asio::co_spawn(ctx, map(a[1], a[2]), done);
  else
    return 2;
  ctx.run();
  return rc;
}
