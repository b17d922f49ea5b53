#include <sluice/errors.hpp>
#include <sluice/outcome.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using namespace sluice::test;

TEST(Outcome, HoldsAValueOrAnError) {
  sluice::outcome<std::string> v{std::string("x")};
  EXPECT_TRUE(v.has_value());
  EXPECT_EQ(v.value(), "x");
  EXPECT_FALSE(v.error());
  sluice::outcome<std::string> e{std::make_exception_ptr(std::runtime_error("bad"))};
  EXPECT_FALSE(e);
  EXPECT_THROW(e.value(), std::runtime_error);
  sluice::outcome<void> ok;
  EXPECT_TRUE(ok);
}

TEST(Outcome, CaptureTurnsExceptionsIntoOutcomes) {
  auto f = sluice::capture([](int x) -> asio::awaitable<int> {
    if (x < 0) throw std::invalid_argument("negative");
    co_return x * 2;
  });
  // (co_spawn needs a default-constructible result: collect into a vector.)
  auto r = run_virtual([&]() -> asio::awaitable<std::vector<sluice::outcome<int>>> {
    std::vector<sluice::outcome<int>> out;
    out.push_back(co_await f(2));
    out.push_back(co_await f(-1));
    co_return out;
  }());
  EXPECT_EQ(r[0].value(), 4);
  EXPECT_EQ(sluice::describe(r[1].error()), "negative");
}

}  // namespace
