// Runs ten tasks, three at once, in virtual time: proves headers, library and test support
// all come from the installed package.
#include <sluice/redis_limit.hpp>
#include <sluice/sluice.hpp>
#include <sluice/testing/manual_clock.hpp>

#include <boost/asio.hpp>

#include <cstdio>
#include <ranges>

namespace asio = boost::asio;
using sluice::testing::manual_clock;

int main() {
  asio::io_context ctx;
  sluice::testing::virtual_time vt;
  int done = 0;
  asio::co_spawn(ctx,
                 sluice::run_on_each<manual_clock>(
                     [&](int) -> asio::awaitable<void> {
                       asio::basic_waitable_timer<manual_clock> t(
                           co_await asio::this_coro::executor, std::chrono::milliseconds(1));
                       co_await t.async_wait(asio::use_awaitable);
                       ++done;
                     },
                     std::views::iota(0, 10), {.max_at_once = 3}),
                 asio::detached);
  vt.run(ctx);
  // sluice::redis links (hiredis found through the package's config); no server is needed to
  // read a URL.
  const auto redis = sluice::redis_config::from_url("redis://:secret@127.0.0.1:6390/2");
  const bool ok = done == 10 && vt.elapsed() == std::chrono::milliseconds(4) &&
                  redis.display() == "redis://127.0.0.1:6390/2" && redis.password == "secret";
  std::printf("consumer: %d tasks in %lld virtual ms: %s\n", done,
              static_cast<long long>(vt.elapsed().count() / 1'000'000), ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
