// The round trips batch_loader saves: a simulated store with 10 connections that takes 5 ms
// per request, whatever the number of keys in it. The same code, written one key at a time (each
// user's record, then their best friend's record), runs naively (one request per key) and through
// a batch_loader (one request per round).
//
//   build/release/examples/batching [users]
#include <sluice/sluice.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct store {
  int round_trips = 0;
  sluice::limiter connections{10};
  // One request for any number of keys: 5 ms on one of 10 connections. A user's record is
  // its best friend's id.
  asio::awaitable<std::vector<int>> get(std::vector<int> ids) {
    auto connection = co_await connections.acquire();
    ++round_trips;
    asio::steady_timer t(co_await asio::this_coro::executor, 5ms);
    co_await t.async_wait(asio::use_awaitable);
    std::vector<int> friends;
    for (int id : ids) friends.push_back(1000 + (id * 7 + 3) % 1000);
    co_return friends;
  }
};

// The application code: user -> friend -> friend's friend, one key at a time.
using fetch_fn = std::function<asio::awaitable<int>(int)>;
asio::awaitable<int> friend_of_friend(fetch_fn fetch, int user) {
  int f = co_await fetch(user);
  co_return co_await fetch(f);
}

struct result {
  double ms;
  int round_trips;
  long checksum;
};

result run(int users, bool batched) {
  store db;
  long checksum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  sluice::run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    sluice::batch_loader<int, int> loader{
        ex, [&](std::vector<int> ids) { return db.get(std::move(ids)); }};
    fetch_fn fetch = batched
                         ? fetch_fn([&](int id) { return loader.load(id, asio::use_awaitable); })
                         : fetch_fn([&](int id) -> asio::awaitable<int> {
                             std::vector<int> one(1, id);
                             co_return (co_await db.get(std::move(one)))[0];
                           });
    co_await sluice::run_on_each(
        [&](int u) -> asio::awaitable<void> { checksum += co_await friend_of_friend(fetch, u); },
        std::views::iota(0, users));
  });
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return {ms, db.round_trips, checksum};
}

}  // namespace

int main(int argc, char** argv) {
  const int users = argc > 1 ? std::atoi(argv[1]) : 1000;
  const result naive = run(users, false);
  const result batched = run(users, true);
  std::printf("%d users, friend of friend; the store: 10 connections, 5 ms per request\n", users);
  std::printf("naive per-key fetching: %6.0f ms, %5d round trips\n", naive.ms, naive.round_trips);
  std::printf("batch_loader:           %6.0f ms, %5d round trips\n", batched.ms,
              batched.round_trips);
  return naive.checksum == batched.checksum ? 0 : 1;
}
