// sluice::map_by_key_jsonl_file applies an async function once per distinct key of a JSON
// Lines file and writes one output row per input row, resumable after a crash. It is the
// seed's (abstractions) function, resuming by row identity instead of by counting lines, and
// letting cancellation through.
#pragma once

#include "sluice/detail/key_map.hpp"
#include "sluice/errors.hpp"
#include "sluice/task_scope.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <exception>
#include <filesystem>
#include <unordered_map>
#include <utility>

namespace sluice {

/// Reads `src` (JSON Lines, one object per row) and calls `f(const json::object& row)`
/// (returning asio::awaitable<json::object>) once per distinct value of the column
/// opts.key, at most opts.num_concurrent at once, with the first row of each key. For every
/// src row it writes one row to `dst`: the keep columns (in opts.keep_columns order), the key
/// (unless it is a keep column), then f's columns; where f returns a column that is already
/// there, f's value replaces it in place. f may return the key column but not change it.
///
/// Order: dst rows follow src order (a row waits for its key's result; at most opts.window
/// rows wait). Resume: dst's rows are counted per key; the i-th src row of a key is done when
/// dst has more than i rows of that key, and a key with rows in dst is never passed to f
/// again (its result is rebuilt from its first dst row). A torn last line is cut away. So a
/// crash, a failure or a rerun never duplicates or drops a row.
///
/// Errors (opts.errors): under raise, f's exception propagates unchanged once the calls
/// running are cancelled and awaited, and so does jsonl_error for a bad src row; rows already
/// written stay. Under print, f's failure is reported and that key's rows are left out (a
/// rerun tries the key again); bad src rows are reported and skipped. Cancelling the caller
/// cancels the calls of f and propagates operation_aborted: it is never swallowed.
///
/// Memory: a state per distinct key (its result once computed), and at most opts.window
/// waiting rows; src is streamed.
///
///     sluice::map_by_key_options o{.key = "key", .num_concurrent = 4, .keep_columns = {"other"}};
///     co_await sluice::map_by_key_jsonl_file("in.jsonl", "out.jsonl", compute, o);
template <class F>
boost::asio::awaitable<map_by_key_summary> map_by_key_jsonl_file(std::filesystem::path src,
                                                                 std::filesystem::path dst, F f,
                                                                 map_by_key_options opts) {
  using key_state = detail::key_map::key_state;
  detail::key_map map(src, dst, std::move(opts));

  auto call = [&map, &f](key_state* k, boost::json::object row) -> boost::asio::awaitable<void> {
    std::exception_ptr error;
    try {
      const boost::json::object& arg = row;
      map.resolved(*k, co_await f(arg));
    } catch (...) {
      error = std::current_exception();
    }
    if (!error) co_return;
    if (is_cancellation(error)) std::rethrow_exception(error);
    map.failed(*k, error);
    if (map.opts().errors == on_error::raise) std::rethrow_exception(error);
  };

  auto body = [&map, &call](task_scope& s) -> boost::asio::awaitable<void> {
    std::unordered_map<key_state*, job<void>> jobs;  // keys whose rows have not all been written
    auto wait_front = [&]() -> boost::asio::awaitable<void> {
      auto it = jobs.find(map.front_waiting());
      co_await it->second.result();
      jobs.erase(it);
      map.write_ready();
    };
    boost::json::object row;
    while (key_state* k = map.next(row)) {
      jobs.emplace(k, co_await s.submit(call, k, std::move(row)));
      map.write_ready();
      while (map.full()) co_await wait_front();
    }
    map.write_ready();
    while (map.front_waiting() != nullptr) co_await wait_front();
  };
  co_await with_scope(options{.max_at_once = map.opts().num_concurrent}, body);
  co_return map.finish();
}

}  // namespace sluice
