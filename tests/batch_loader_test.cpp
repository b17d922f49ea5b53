#include <sluice/batch_loader.hpp>
#include <sluice/run.hpp>
#include <sluice/when_all.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::batch_loader;

// A fake data store: string keys, 5 ms per round trip, every batch's keys recorded.
struct store {
  explicit store(std::map<std::string, std::string> d = {}) : data(std::move(d)) {}
  std::map<std::string, std::string> data;
  std::vector<std::vector<std::string>> trips;
  asio::awaitable<std::vector<std::string>> get(std::vector<std::string> keys) {
    trips.push_back(keys);
    co_await sleep(5ms);
    std::vector<std::string> out;
    for (auto& k : keys) {
      auto it = data.find(k);
      if (it == data.end()) throw std::out_of_range("no such key " + k);
      out.push_back(it->second);
    }
    co_return out;
  }
};

using loader_t = batch_loader<std::string, std::string>;

auto make_loader(asio::any_io_executor ex, store& db, sluice::batch_options o = {}) {
  return std::make_unique<loader_t>(
      ex, [&db](std::vector<std::string> k) { return db.get(std::move(k)); }, o);
}

// The seed's example, with coroutines instead of batch generators.
struct people {
  loader_t& db;
  asio::awaitable<std::string> gen_user(std::string id) {
    co_return co_await db.load("user:" + id);
  }
  asio::awaitable<std::string> gen_spouse(std::string id) {
    auto spouse_id = co_await db.load("spouseId:" + id);
    co_return co_await db.load("user:" + spouse_id);
  }
  asio::awaitable<std::vector<std::string>> gen_spouses(std::string id) {
    auto [user, spouse] = co_await sluice::when_all(gen_user(id), gen_spouse(id));
    co_return std::vector<std::string>{user, spouse};
  }
};

TEST(BatchLoader, TheSeedExampleTakesExactlyTwoRoundTrips) {
  store db{{{"user:12345", "Alice"}, {"spouseId:12345", "99"}, {"user:99", "Bob"}}};
  auto r = run_virtual([&]() -> asio::awaitable<std::vector<std::string>> {
    auto loader = make_loader(co_await asio::this_coro::executor, db);
    people p{*loader};
    co_return co_await p.gen_spouses("12345");
  }());
  EXPECT_EQ(r, (std::vector<std::string>{"Alice", "Bob"}));
  ASSERT_EQ(db.trips.size(), 2u);
  EXPECT_EQ(std::set<std::string>(db.trips[0].begin(), db.trips[0].end()),
            (std::set<std::string>{"user:12345", "spouseId:12345"}));
  EXPECT_EQ(db.trips[1], (std::vector<std::string>{"user:99"}));
  EXPECT_EQ(vnow(), 10ms);
}

// A tree of depth d, fan-out f: each node loads its key, then its children in parallel.
asio::awaitable<int> walk(loader_t& l, std::string id, int depth, int fan) {
  int sum = std::stoi(co_await l.load(id));
  if (depth > 1) {
    std::vector<std::function<asio::awaitable<int>()>> kids;
    for (int i = 0; i < fan; ++i)
      kids.push_back([&l, id, i, depth, fan] {
        return walk(l, id + "." + std::to_string(i), depth - 1, fan);
      });
    for (int v : co_await sluice::run_all(std::move(kids))) sum += v;
  }
  co_return sum;
}

TEST(BatchLoader, ATreeOfDepthDTakesDRoundTrips) {
  for (int depth : {1, 3, 5}) {
    store db;
    // Every id is worth 1 (keys are made up on the fly).
    struct all_ones {
      store& db;
      asio::awaitable<std::vector<std::string>> operator()(std::vector<std::string> keys) {
        db.trips.push_back(keys);
        co_await sleep(5ms);
        co_return std::vector<std::string>(keys.size(), "1");
      }
    };
    const int fan = 5;
    int nodes = 0;
    for (int d = 0, w = 1; d < depth; ++d, w *= fan) nodes += w;
    auto total = run_virtual([&]() -> asio::awaitable<int> {
      loader_t l{co_await asio::this_coro::executor, all_ones{db}};
      co_return co_await walk(l, "root", depth, fan);
    }());
    EXPECT_EQ(total, nodes);
    EXPECT_EQ(int(db.trips.size()), depth) << "depth " << depth << ", " << nodes << " loads";
  }
}

TEST(BatchLoader, AThousandCoroutinesMakeOneBatchOrOnePerMaxBatchSize) {
  for (std::size_t max : {0, 100, 300}) {
    std::vector<std::vector<int>> trips;
    auto fn = [&](std::vector<int> keys) -> asio::awaitable<std::vector<int>> {
      trips.push_back(keys);
      std::vector<int> out;
      for (int k : keys) out.push_back(k * 2);
      co_return out;
    };
    int ok = 0;
    run_virtual([&]() -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      batch_loader<int, int> l{ex, fn, {.max_batch_size = max}};
      co_await sluice::run_on_each(
          [&](int i) -> asio::awaitable<void> { ok += (co_await l.load(i)) == 2 * i; },
          std::views::iota(0, 1000));
    }());
    EXPECT_EQ(ok, 1000);
    EXPECT_EQ(trips.size(), max ? (1000 + max - 1) / max : 1u);
    EXPECT_EQ(trips[0].front(), 0);  // keys in the order they were first requested
  }
}

TEST(BatchLoader, ThousandLoadsOfTenKeysMakeOneBatchOfTen) {
  std::vector<std::vector<int>> trips;
  auto fn = [&](std::vector<int> keys) -> asio::awaitable<std::vector<int>> {
    trips.push_back(keys);
    co_await sleep(1ms);
    co_return keys;
  };
  for (bool cache : {true, false}) {
    trips.clear();
    run_virtual([&]() -> asio::awaitable<void> {
      batch_loader<int, int> l{co_await asio::this_coro::executor, fn, {.cache = cache}};
      co_await sluice::run_on_each(
          [&](int i) -> asio::awaitable<void> { EXPECT_EQ(co_await l.load(i % 10), i % 10); },
          std::views::iota(0, 1000));
    }());
    ASSERT_EQ(trips.size(), 1u);  // in-flight keys are shared even without the cache
    EXPECT_EQ(trips[0], (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  }
}

TEST(BatchLoader, CacheHitsClearAndPrime) {
  store db{{{"a", "1"}, {"b", "2"}}};
  run_virtual([&]() -> asio::awaitable<void> {
    auto l = make_loader(co_await asio::this_coro::executor, db);
    EXPECT_EQ(co_await l->load(std::string("a")), std::string("1"));
    EXPECT_EQ(co_await l->load(std::string("a")), std::string("1"));
    EXPECT_EQ(db.trips.size(), 1u);
    db.data["a"] = "changed";
    l->clear("a");
    EXPECT_EQ(co_await l->load(std::string("a")), std::string("changed"));
    EXPECT_EQ(db.trips.size(), 2u);
    l->prime(std::string("z"), std::string("primed"));
    EXPECT_EQ(co_await l->load(std::string("z")), std::string("primed"));
    l->clear_all();
    // (A braced list inside a co_await expression trips GCC 12: name it first.)
    std::vector<std::string> ab{"a", "b"};
    auto both = co_await l->load_many(ab);
    EXPECT_EQ(both, (std::vector<std::string>{"changed", "2"}));
    EXPECT_EQ(db.trips.size(), 3u);
    EXPECT_EQ(l->batches(), 3u);
  }());
}

TEST(BatchLoader, PrimeAndClearWhileAKeyIsInFlight) {
  store db{{{"a", "1"}, {"b", "2"}, {"c", "3"}}};
  run_virtual([&]() -> asio::awaitable<void> {
    auto l = make_loader(co_await asio::this_coro::executor, db);
    auto a = l->load(std::string("a"));
    auto b = l->load(std::string("b"));
    auto c = l->load(std::string("c"));
    co_await sleep(1ms);  // the batch {a, b, c} is at the store (5 ms)
    auto missing = l->load(std::string("missing"));
    co_await sleep(1ms);  // and the batch {missing}, which will fail
    EXPECT_EQ(db.trips.size(), 2u);
    l->prime(std::string("a"), std::string("primed a"));
    l->prime(std::string("c"), std::string("primed c"));
    l->prime(std::string("missing"), std::string("primed missing"));
    // A primed key is served from the cache at once; its load in flight goes on.
    EXPECT_EQ(co_await l->load(std::string("a")), std::string("primed a"));
    l->clear(std::string("b"));  // nothing cached yet: the load in flight is not affected
    l->clear(std::string("c"));  // drops the primed value, not the load in flight
    l->clear_all();              // drops "primed a" too
    l->prime(std::string("missing"), std::string("primed missing"));
    EXPECT_EQ(co_await std::move(a), std::string("1"));
    EXPECT_EQ(co_await std::move(b), std::string("2"));
    EXPECT_EQ(co_await std::move(c), std::string("3"));
    EXPECT_THROW((void)co_await std::move(missing), std::out_of_range);
    // The batch's values entered the cache; the failed key kept the value primed meanwhile.
    std::vector<std::string> all{"a", "b", "c", "missing"};
    const std::vector<std::string> expected{"1", "2", "3", "primed missing"};
    EXPECT_EQ(co_await l->load_many(all), expected);
    EXPECT_EQ(db.trips.size(), 2u);
    // A value primed during a load in flight stays: the batch's value does not replace it.
    auto d = l->load(std::string("d"));
    co_await sleep(1ms);
    l->prime(std::string("d"), std::string("primed d"));
    db.data["d"] = "4";
    EXPECT_EQ(co_await std::move(d), std::string("4"));
    EXPECT_EQ(co_await l->load(std::string("d")), std::string("primed d"));
    EXPECT_EQ(db.trips.size(), 3u);
  }());
}

TEST(BatchLoader, AWholeBatchErrorFailsEveryLoadAndIsNotCached) {
  store db{{{"a", "1"}}};
  run_virtual([&]() -> asio::awaitable<void> {
    auto l = make_loader(co_await asio::this_coro::executor, db);
    int failed = 0;
    auto try_load = [&](std::string k) -> asio::awaitable<void> {
      try {
        (void)co_await l->load(k);
      } catch (const std::out_of_range&) {
        ++failed;
      }
    };
    std::vector<std::function<asio::awaitable<void>()>> both{
        [&] { return try_load(std::string("a")); },
        [&] { return try_load(std::string("missing")); }};
    co_await sluice::run_all(both);
    EXPECT_EQ(failed, 2);  // "a" shared the failing batch
    EXPECT_EQ(co_await l->load(std::string("a")), std::string("1"));  // the error was not cached
    EXPECT_EQ(db.trips.size(), 2u);
  }());
}

TEST(BatchLoader, PerKeyErrorsFromAMapOrFromOutcomes) {
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    batch_loader<int, std::string> by_map{
        ex, [](std::vector<int> keys) -> asio::awaitable<std::unordered_map<int, std::string>> {
          std::unordered_map<int, std::string> m;
          for (int k : keys)
            if (k % 2 == 0) m[k] = "even " + std::to_string(k);
          co_return m;
        }};
    auto [a, b] = co_await sluice::when_all(by_map.load(2), [&]() -> asio::awaitable<std::string> {
      try {
        co_return co_await by_map.load(3);
      } catch (const sluice::batch_error& e) {
        co_return std::string(e.what());
      }
    }());
    EXPECT_EQ(a, "even 2");
    EXPECT_EQ(b, "batch_loader: the batch function returned no value for key 3");
    EXPECT_EQ(by_map.batches(), 1u);

    batch_loader<int, int> by_outcome{
        ex, [](std::vector<int> keys) -> asio::awaitable<std::vector<sluice::outcome<int>>> {
          std::vector<sluice::outcome<int>> out;
          for (int k : keys)
            if (k < 0)
              out.emplace_back(std::make_exception_ptr(std::domain_error("negative")));
            else
              out.emplace_back(k);
          co_return out;
        }};
    EXPECT_EQ(co_await by_outcome.load(5), 5);
    EXPECT_THROW((void)co_await by_outcome.load(-1), std::domain_error);
  }());
}

TEST(BatchLoader, ResultsOfTheWrongLengthFailTheBatch) {
  run_virtual([&]() -> asio::awaitable<void> {
    batch_loader<int, int> l{co_await asio::this_coro::executor,
                             [](std::vector<int>) -> asio::awaitable<std::vector<int>> {
                               co_return std::vector<int>{1};
                             }};
    std::vector<int> keys{1, 2};
    EXPECT_THROW((void)co_await l.load_many(keys), sluice::batch_error);
  }());
}

TEST(BatchLoader, ACancelledLoadDoesNotCancelTheBatchOthersWaitOn) {
  // Two loads of the key are cancelled while its batch is in flight: a callback's and a
  // coroutine's. Each fails alone; the others get the value from the same batch.
  store db{{{"k", "v"}}};
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto l = make_loader(ex, db);
    asio::cancellation_signal sig, coroutine_sig;
    std::exception_ptr cancelled, coroutine_cancelled;
    bool resumed = false;
    std::string other;
    // (load takes a completion token: here, callbacks on the test's executor.)
    l->load(std::string("k"),
            asio::bind_cancellation_slot(
                sig.slot(), asio::bind_executor(
                                ex, [&](std::exception_ptr e, std::string) { cancelled = e; })));
    l->load(std::string("k"),
            asio::bind_executor(ex, [&](std::exception_ptr, std::string v) { other = v; }));
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          (void)co_await l->load(std::string("k"));
          resumed = true;
        },
        asio::bind_cancellation_slot(coroutine_sig.slot(),
                                     [&](std::exception_ptr e) { coroutine_cancelled = e; }));
    co_await sleep(1ms);  // the batch is in flight (5 ms)
    sig.emit(asio::cancellation_type::terminal);
    coroutine_sig.emit(asio::cancellation_type::terminal);
    EXPECT_EQ(co_await l->load(std::string("k")), "v");
    co_await sleep(10ms);
    EXPECT_TRUE(is_cancellation(cancelled));
    EXPECT_TRUE(is_cancellation(coroutine_cancelled));
    EXPECT_FALSE(resumed);
    EXPECT_EQ(other, "v");
    EXPECT_EQ(db.trips.size(), 1u);
  }());
}

TEST(BatchLoader, AMillionCachedLoadsInALoopDoNotExhaustTheStack) {
  // A cached load completes inside the co_await, one level deeper on the stack; past a few
  // levels it is posted instead. Unbounded nesting would overflow the stack long before this.
  run_virtual([&]() -> asio::awaitable<void> {
    batch_loader<int, int> l{
        co_await asio::this_coro::executor,
        [](std::vector<int> keys) -> asio::awaitable<std::vector<int>> { co_return keys; }};
    for (int k = 0; k < 100; ++k) l.prime(k, k * 2);
    long sum = 0;
    for (int i = 0; i < 1'000'000; ++i) sum += co_await l.load(i % 100);
    EXPECT_EQ(sum, 1'000'000L / 100 * (99 * 100));
    EXPECT_EQ(l.batches(), 0u);
  }());
}

TEST(BatchLoader, ACacheOfHundredsOfThousandsOfKeys) {
  // (Its node chunks and bucket array pass 2 MiB: memory that asks for huge pages.)
  run_virtual([&]() -> asio::awaitable<void> {
    std::size_t sent = 0;
    batch_loader<long, long> l{co_await asio::this_coro::executor,
                               [&](std::vector<long> keys) -> asio::awaitable<std::vector<long>> {
                                 sent += keys.size();
                                 for (auto& k : keys) k = -k;
                                 co_return keys;
                               }};
    constexpr long n = 300'000;
    std::vector<long> keys(1000);
    for (long base = 0; base < n; base += 1000) {
      std::iota(keys.begin(), keys.end(), base);
      auto values = co_await l.load_many(keys);
      EXPECT_EQ(values.back(), -(base + 999));
    }
    EXPECT_EQ(sent, std::size_t(n));
    long sum = 0;
    for (long k = 0; k < n; k += 7) sum += co_await l.load(k);  // from the cache
    EXPECT_EQ(sent, std::size_t(n));
    EXPECT_EQ(sum, -(7 * ((n - 1) / 7) * ((n - 1) / 7 + 1) / 2));
    l.clear_all();
    EXPECT_EQ(co_await l.load(n - 1), -(n - 1));
    EXPECT_EQ(sent, std::size_t(n) + 1);
  }());
}

TEST(BatchLoader, LoadsJoinTheirRoundWhenCalledAndMayBeAwaitedAfterItEnds) {
  store db{{{"a", "1"}, {"b", "2"}, {"c", "3"}}};
  run_virtual([&]() -> asio::awaitable<void> {
    auto l = make_loader(co_await asio::this_coro::executor, db);
    auto a = l->load(std::string("a"));
    auto b = l->load(std::string("b"));
    co_await sleep(20ms);  // the round of {a, b} is dispatched and ends before anyone awaits
    EXPECT_EQ(db.trips.size(), 1u);
    EXPECT_EQ(co_await std::move(b), std::string("2"));
    EXPECT_EQ(co_await std::move(a), std::string("1"));
    auto c = l->load(std::string("c"));
    auto missing = l->load(std::string("missing"));
    co_await sleep(20ms);
    EXPECT_THROW((void)co_await std::move(missing), std::out_of_range);
    EXPECT_THROW((void)co_await std::move(c), std::out_of_range);  // it shared the failed batch
    EXPECT_EQ(db.trips, (std::vector<std::vector<std::string>>{{"a", "b"}, {"c", "missing"}}));
  }());
}

// A value type without a default constructor takes the coroutine path of load.
struct account {
  explicit account(int n) : id(n) {}
  int id;
};

TEST(BatchLoader, ValuesWithoutADefaultConstructor) {
  run_virtual([&]() -> asio::awaitable<void> {
    batch_loader<int, account> l{
        co_await asio::this_coro::executor,
        [](std::vector<int> keys) -> asio::awaitable<std::vector<sluice::outcome<account>>> {
          std::vector<sluice::outcome<account>> out;
          for (int k : keys)
            if (k < 0)
              out.emplace_back(std::make_exception_ptr(std::domain_error("negative")));
            else
              out.emplace_back(account(k));
          co_return out;
        }};
    // (Asio's co_spawn, under when_all, needs default-constructible results: unwrap first.)
    auto id = [](asio::awaitable<account> a) -> asio::awaitable<int> {
      co_return (co_await std::move(a)).id;
    };
    auto [x, y] = co_await sluice::when_all(id(l.load(7)), id(l.load(8)));
    EXPECT_EQ(x, 7);
    EXPECT_EQ(y, 8);
    EXPECT_EQ((co_await l.load(7)).id, 7);  // cached
    EXPECT_THROW((void)co_await l.load(-1), std::domain_error);
    EXPECT_EQ(l.batches(), 2u);
  }());
}

TEST(BatchLoader, LoadsOutliveTheLoader) {
  store db{{{"k", "v"}, {"j", "w"}}};
  std::vector<std::string> got;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto l = make_loader(ex, db);
    for (const char* k : {"k", "j", "k"})
      l->load(std::string(k), asio::bind_executor(ex, [&](std::exception_ptr e, std::string v) {
                got.push_back(e ? "error" : v);
              }));
    l.reset();  // the round is pending: it still runs, and the loads get their values
    co_await sleep(10ms);
  }());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"v", "v", "w"}));
  EXPECT_EQ(db.trips.size(), 1u);
}

TEST(BatchLoader, MaxConcurrentBatches) {
  int in_flight_now = 0, peak = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    batch_loader<int, int> l{co_await asio::this_coro::executor,
                             [&](std::vector<int> keys) -> asio::awaitable<std::vector<int>> {
                               peak = std::max(peak, ++in_flight_now);
                               co_await sleep(5ms);
                               --in_flight_now;
                               co_return keys;
                             },
                             {.max_batch_size = 10, .max_concurrent_batches = 2}};
    std::vector<int> keys(100);
    std::iota(keys.begin(), keys.end(), 0);
    auto v = co_await l.load_many(keys);
    EXPECT_EQ(v, keys);
  }());
  EXPECT_EQ(peak, 2);
  EXPECT_EQ(vnow(), 25ms);  // 10 batches, 2 at a time, 5 ms each
}

// From batch's catalogue: recursive fibonacci with loads at every level, and exceptions
// thrown into parents that catch them or let them through, after siblings complete.
asio::awaitable<int> fib(batch_loader<int, int>& l, int n) {
  if (n < 2) co_return co_await l.load(n);
  auto [a, b] = co_await sluice::when_all(fib(l, n - 1), fib(l, n - 2));
  co_return a + b;
}

TEST(BatchLoaderCatalogue, FibonacciWithLoadsAtTheLeaves) {
  int calls = 0;
  auto r = run_virtual([&]() -> asio::awaitable<int> {
    batch_loader<int, int> l{co_await asio::this_coro::executor,
                             [&](std::vector<int> keys) -> asio::awaitable<std::vector<int>> {
                               ++calls;
                               co_return keys;
                             }};
    co_return co_await fib(l, 12);
  }());
  EXPECT_EQ(r, 144);    // fib(0) = 0, fib(1) = 1
  EXPECT_EQ(calls, 1);  // keys 0 and 1 are all that is ever loaded, in one round
}

TEST(BatchLoaderCatalogue, ExceptionsReachParentsAfterSiblingsFinish) {
  bool sibling_finished = false;
  std::string caught;
  run_virtual([&]() -> asio::awaitable<void> {
    // Per-key errors: key 13 fails alone; the sibling's keys share its batches unharmed.
    batch_loader<int, int> l{
        co_await asio::this_coro::executor,
        [](std::vector<int> keys) -> asio::awaitable<std::vector<sluice::outcome<int>>> {
          std::vector<sluice::outcome<int>> out;
          for (int k : keys)
            if (k == 13)
              out.emplace_back(std::make_exception_ptr(std::runtime_error("unlucky")));
            else
              out.emplace_back(k);
          co_return out;
        }};
    auto failing = [&]() -> asio::awaitable<int> { co_return co_await l.load(13); };
    auto slow_sibling = [&]() -> asio::awaitable<int> {
      int v = 0;
      for (int i = 0; i < 10; ++i) v += co_await l.load(100 + i);  // ten more rounds
      sibling_finished = true;
      co_return v;
    };
    try {
      (void)co_await sluice::when_all(failing(), slow_sibling());
    } catch (const std::runtime_error& e) {
      caught = e.what();
      EXPECT_TRUE(sibling_finished);
    }
    // Recovering: a parent that catches goes on loading.
    int recovered = 0;
    bool failed = false;
    try {
      recovered = co_await l.load(13);
    } catch (...) {
      failed = true;  // (no co_await inside a handler)
    }
    if (failed) recovered = co_await l.load(60);
    EXPECT_EQ(recovered, 60);
  }());
  EXPECT_EQ(caught, "unlucky");
}

// ---- loaders that load from loaders, and cycles ------------------------------------------

// A load's outcome as text: its value, or "error: " and the error's type.
template <class Aw>
asio::awaitable<std::string> outcome_text(Aw aw) {
  try {
    co_return std::to_string(co_await std::move(aw));
  } catch (const sluice::batch_cycle_error&) {
    co_return "cycle";
  } catch (const std::exception& e) {
    co_return std::string("error: ") + e.what();
  }
}

TEST(BatchLoaderGraph, ABatchFunctionThatLoadsAKeyOfItsOwnBatchFailsWithACycleError) {
  // Key 1's batch function needs key 1 (its own batch): without detection it waits forever
  // (run_virtual would report a deadlock). The error reaches every load of the batch through
  // the batch function, and is not cached.
  int calls = 0;
  auto r = run_virtual([&]() -> asio::awaitable<std::vector<std::string>> {
    batch_loader<int, int>* self = nullptr;
    batch_loader<int, int> l{co_await asio::this_coro::executor,
                             [&](std::vector<int> keys) -> asio::awaitable<std::vector<int>> {
                               ++calls;
                               if (calls == 1) (void)co_await self->load(keys.front());
                               co_return keys;
                             }};
    self = &l;
    auto [a, b] = co_await sluice::when_all(outcome_text(l.load(1)), outcome_text(l.load(2)));
    auto again = co_await outcome_text(l.load(1));  // a new batch, which needs no load
    co_return std::vector<std::string>{a, b, again};
  }());
  EXPECT_EQ(r, (std::vector<std::string>{"cycle", "cycle", "1"}));
  EXPECT_EQ(calls, 2);
}

TEST(BatchLoaderGraph, ACycleThroughTwoLoadersAndALoadMany) {
  // A's batch for "a" loads "b" from B; B's batch for "b" loads "a" from A (load_many): the
  // second load closes the cycle and fails; B's batch fails with it, then A's.
  auto r = run_virtual([&]() -> asio::awaitable<std::string> {
    using L = batch_loader<std::string, int>;
    L* pa = nullptr;
    L* pb = nullptr;
    L a{co_await asio::this_coro::executor,
        [&](std::vector<std::string> keys) -> asio::awaitable<std::vector<int>> {
          co_await sleep(1ms);
          const std::string b_key = "b";
          co_return std::vector<int>(keys.size(), co_await pb->load(b_key) + 1);
        }};
    L b{co_await asio::this_coro::executor,
        [&](std::vector<std::string> keys) -> asio::awaitable<std::vector<int>> {
          std::vector<std::string> a_keys{"a"};
          auto v = co_await pa->load_many(std::move(a_keys));
          co_return std::vector<int>(keys.size(), v[0] + 1);
        }};
    pa = &a;
    pb = &b;
    const std::string a_key = "a";
    co_return co_await outcome_text(a.load(a_key));
  }());
  EXPECT_EQ(r, "cycle");
  EXPECT_EQ(vnow(), 1ms);  // at once, not after a timeout
}

TEST(BatchLoaderGraph, ACycleOfValuesWithoutADefaultConstructor) {
  struct boxed {
    explicit boxed(int x) : v(x) {}
    int v;
  };
  auto r = run_virtual([&]() -> asio::awaitable<std::string> {
    batch_loader<int, boxed>* self = nullptr;
    batch_loader<int, boxed> l{co_await asio::this_coro::executor,
                               [&](std::vector<int> keys) -> asio::awaitable<std::vector<boxed>> {
                                 boxed b = co_await self->load(keys.front());
                                 co_return std::vector<boxed>(keys.size(), b);
                               }};
    self = &l;
    try {
      (void)co_await l.load(5);
    } catch (const sluice::batch_cycle_error& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  EXPECT_NE(r.find("the load of key 5"), std::string::npos) << r;
}

TEST(BatchLoaderGraph, RecursionAndDiamondsAreNotCycles) {
  // A batch function that loads other keys of its own loader: 2 and 3 both need 4 (a
  // diamond: two batches wait on one), 4 needs 5. value(k) = k + the values it needs.
  int calls = 0;
  auto r = run_virtual([&]() -> asio::awaitable<int> {
    batch_loader<int, int>* self = nullptr;
    batch_loader<int, int> l{co_await asio::this_coro::executor,
                             [&](std::vector<int> keys) -> asio::awaitable<std::vector<int>> {
                               ++calls;
                               const int k = keys.front();
                               int needs = 0;
                               if (k < 4) needs = co_await self->load(4);
                               if (k == 4) {
                                 std::vector<int> five{5};
                                 needs = (co_await self->load_many(std::move(five)))[0];
                               }
                               co_return std::vector<int>{k + needs};
                             },
                             {.max_batch_size = 1}};  // (one key per batch)
    self = &l;
    auto [x, y] = co_await sluice::when_all(l.load(2), l.load(3));
    co_return x + y;
  }());
  EXPECT_EQ(r, (2 + 9) + (3 + 9));
  EXPECT_EQ(calls, 4);  // 2, 3, then 4 once for both, then 5
}

TEST(BatchLoaderGraph, LoadersOfOneRoundDispatchInTheOrderTheyWentQuiet) {
  // Loads of two loaders issued in one pass: each loader makes one batch of its keys, and
  // the two calls start at the same instant. Loaders whose last keys came in the same pass
  // dispatch in the order their rounds began: b (key 1), then a (key 2). A loader that gets
  // a key after the other's last one goes quiet a pass later: below, b's key 3 comes after
  // a's key 2, so a is called first.
  std::vector<std::string> order;
  run_virtual([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto recording = [&](std::string name) {
      return [&order, name](std::vector<int> keys) -> asio::awaitable<std::vector<int>> {
        std::string call = name + ":";
        for (int k : keys) call += std::to_string(k) + ",";
        order.push_back(call);
        co_await sleep(5ms);
        co_return keys;
      };
    };
    batch_loader<int, int> a{ex, recording("a")};
    batch_loader<int, int> b{ex, recording("b")};
    auto b1 = b.load(1);  // (named: the order of calls is the test's subject)
    auto a2 = a.load(2);
    auto [x, y] = co_await sluice::when_all(std::move(b1), std::move(a2));
    EXPECT_EQ(x + y, 3);
    EXPECT_EQ(vnow(), 5ms);
    auto b4 = b.load(4);
    auto a5 = a.load(5);
    auto b6 = b.load(6);
    auto [p, q, r] = co_await sluice::when_all(std::move(b4), std::move(a5), std::move(b6));
    EXPECT_EQ(p + q + r, 15);
    EXPECT_EQ(vnow(), 10ms);
  }());
  EXPECT_EQ(order, (std::vector<std::string>{"b:1,", "a:2,", "a:5,", "b:4,6,"}));
}

TEST(BatchLoaderGraph, BatchFunctionsThatLoadFromAnotherLoaderShareItsRound) {
  // The seed's test_db case: users and posts are object loaders over one store loader; a
  // user batch and a post batch dispatched together issue their store loads in one pass, so
  // the store sees one round trip for both object types.
  store db{{{"user:1", "ann"}, {"user:2", "bob"}, {"post:7", "hi"}, {"post:8", "yo"}}};
  auto r = run_virtual([&]() -> asio::awaitable<std::vector<std::string>> {
    auto ex = co_await asio::this_coro::executor;
    auto rows = make_loader(ex, db);
    auto objects = [&rows](std::string type) {
      return [&rows, type](std::vector<int> ids) -> asio::awaitable<std::vector<std::string>> {
        std::vector<std::string> keys;
        for (int id : ids) keys.push_back(type + ":" + std::to_string(id));
        auto got = co_await rows->load_many(keys);
        for (auto& v : got) v = type + " " + v;
        co_return got;
      };
    };
    batch_loader<int, std::string> users{ex, objects("user")};
    batch_loader<int, std::string> posts{ex, objects("post")};
    auto [u1, p7, u2, p8] =
        co_await sluice::when_all(users.load(1), posts.load(7), users.load(2), posts.load(8));
    EXPECT_EQ(users.batches(), 1u);
    EXPECT_EQ(posts.batches(), 1u);
    co_return std::vector<std::string>{u1, p7, u2, p8};
  }());
  EXPECT_EQ(r, (std::vector<std::string>{"user ann", "post hi", "user bob", "post yo"}));
  ASSERT_EQ(db.trips.size(), 1u);
  EXPECT_EQ(db.trips[0], (std::vector<std::string>{"user:1", "user:2", "post:7", "post:8"}));
  EXPECT_EQ(vnow(), 5ms);
}

}  // namespace
