// The Redis GCRA's cost on loopback (bench/redis.sh; docs/benchmarks.md), one key=value line
// per result:
//   sluice_redis_bench latency URL N        N acquisitions one after another through a
//                                           limit_set holding a redis_rate_limit (a rate that
//                                           never makes one wait): median and p99 per acquire;
//                                           beside it the floor, one PING round trip
//   sluice_redis_bench throughput URL C SECS C connections (a set and a limit each), each
//                                           acquiring back to back for SECS: the starts per
//                                           second one Redis admits
#include <sluice/limit_set.hpp>
#include <sluice/redis_client.hpp>
#include <sluice/redis_limit.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

double us(clock_type::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

void print_percentiles(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("workload=redis_%s n=%zu median_us=%.1f p99_us=%.1f\n", what, v.size(),
              v[v.size() / 2], v[v.size() * 99 / 100]);
}

int latency(const std::string& url, int n) {
  asio::io_context io;
  sluice::redis_client client(io.get_executor(), sluice::redis_config::from_url(url));
  sluice::redis_rate_limit rate(client, "bench:latency:" + std::to_string(::getpid()), 1e9, 1000);
  sluice::limit_set set(io.get_executor());
  set.add_shared(rate);
  std::vector<double> acquire, ping;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
          const auto t0 = clock_type::now();
          auto t = co_await set.acquire();
          acquire.push_back(us(clock_type::now() - t0));
        }
        for (int i = 0; i < n; ++i) {
          const auto t0 = clock_type::now();
          std::vector<std::string> p{"PING"};
          co_await client.command(std::move(p));
          ping.push_back(us(clock_type::now() - t0));
        }
        client.close();
      },
      asio::detached);
  io.run();
  print_percentiles("gcra_acquire", acquire);
  print_percentiles("ping_floor", ping);
  return 0;
}

int throughput(const std::string& url, int connections, double seconds) {
  asio::io_context io;
  const std::string key = "bench:throughput:" + std::to_string(::getpid());
  struct one {
    std::unique_ptr<sluice::redis_client> client;
    std::unique_ptr<sluice::redis_rate_limit> rate;
    std::unique_ptr<sluice::limit_set> set;
  };
  std::vector<one> all;
  for (int i = 0; i < connections; ++i) {
    one o;
    o.client = std::make_unique<sluice::redis_client>(io.get_executor(),
                                                      sluice::redis_config::from_url(url));
    o.rate = std::make_unique<sluice::redis_rate_limit>(*o.client, key, 1e9, 1000000);
    o.set = std::make_unique<sluice::limit_set>(io.get_executor());
    o.set->add_shared(*o.rate);
    all.push_back(std::move(o));
  }
  std::uint64_t admitted = 0;
  const auto end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                           std::chrono::duration<double>(seconds));
  int running = connections;
  for (auto& o : all)
    asio::co_spawn(
        io,
        [&, s = o.set.get(), c = o.client.get()]() -> asio::awaitable<void> {
          while (clock_type::now() < end) {
            auto t = co_await s->acquire();
            ++admitted;
          }
          if (--running == 0)
            for (auto& x : all) x.client->close();
          (void)c;
        },
        asio::detached);
  const auto t0 = clock_type::now();
  io.run();
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("workload=redis_gcra_admits connections=%d seconds=%.2f admitted=%llu per_s=%.0f\n",
              connections, secs, static_cast<unsigned long long>(admitted),
              static_cast<double>(admitted) / secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "latency" && argc == 4) return latency(argv[2], std::atoi(argv[3]));
  if (mode == "throughput" && argc == 5)
    return throughput(argv[2], std::atoi(argv[3]), std::atof(argv[4]));
  std::fprintf(stderr,
               "usage: sluice_redis_bench latency URL N | throughput URL CONNECTIONS SECONDS\n");
  return 2;
}
