// Gives the executor one turn: the awaiting coroutine is resumed after what is already queued
// on its executor has run (aioextensions' force_loop_cycle, asyncio.sleep(0)). Unlike a
// zero-length timer it needs no timer and no clock.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

namespace sluice {

/// Suspends the coroutine and posts its resumption to its own executor, behind every handler
/// already queued there. Cooperative: a long loop of ready work (a coroutine that never waits)
/// lets its peers run by awaiting it now and then.
///
///     for (auto& row : rows) { process(row); if (++n % 1000 == 0) co_await sluice::yield_now(); }
///
/// Cancellation: none (it completes on the next turn regardless).
[[nodiscard]] inline boost::asio::awaitable<void> yield_now() {
  co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::deferred);
}

}  // namespace sluice
