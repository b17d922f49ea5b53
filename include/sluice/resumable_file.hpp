// sluice::create_or_resume_jsonl_file fills a JSON Lines results file until every key has
// exactly key_count rows, surviving crashes: a rerun counts what is there, cuts away a torn
// last line and asks the value generator only for the rows still missing. It is the seed's
// (abstractions) function with the torn line, duplicate keys and cancellation handled.
#pragma once

#include "sluice/amap.hpp"
#include "sluice/detail/key_scan.hpp"
#include "sluice/detail/results_file.hpp"
#include "sluice/options.hpp"
#include "sluice/run.hpp"
#include "sluice/stream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/value_from.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice {

/// One row of a results file as the key scan sees it: no DOM is built for it.
///   line    the row's text (without its '\n'), valid during the call
///   number  its line number
///   offset  of its first byte in the file
///   key     the compact JSON text of its key field (1 and "1" differ; "a" is `"a"`)
///   fields  the compact JSON text of each field asked for, in the order asked; an empty
///           string for a field the row does not have
using keyed_row = detail::keyed_row;
using keyed_row_fn = std::function<void(const keyed_row&)>;

/// Reopens a results file that an earlier run (crashed, killed or finished) appended to, to
/// append more: every row already there is passed to on_row with its key (the compact JSON
/// text of its `key_name` field: 1 and "1" differ) and its line number; a torn last line is
/// cut away and reported; a last row that lacks its '\n' gets one. A missing file is created
/// empty. Bad rows (invalid JSON, not an object, no `key_name`) go through opts.errors: raise
/// throws sluice::jsonl_error before the file is changed, print reports and skips them.
///
/// The file is locked (file_lock) before it is read, and the returned writer holds the lock
/// until it is closed: while one run appends, another run's call throws sluice::file_in_use
/// at once, naming the file and the holder's pid, and reads and writes nothing.
/// Returns the writer to append with (opts.sync).
///
///     std::set<std::string> done;
///     auto out = sluice::resume_jsonl_file("results.jsonl", "id",
///         [&](std::string_view key, const boost::json::object&, std::size_t) { done.emplace(key);
///         });
std::unique_ptr<jsonl_writer> resume_jsonl_file(
    const std::filesystem::path& path, std::string_view key_name,
    const std::function<void(std::string_view key, const boost::json::object& row,
                             std::size_t line)>& on_row,
    const resume_options& opts = {});

/// The fast form: each row is validated by a SAX parse that keeps only its key and the
/// top-level `fields` asked for (their compact JSON text), with its offset; no row is parsed
/// into a DOM, so millions of rows are read at hundreds of MB/s. Otherwise as above.
///
///     const std::string_view fields[] = {"occurrence", "status"};
///     auto out = sluice::resume_jsonl_file("results.jsonl", "key", fields,
///         [&](const sluice::keyed_row& r) { done.insert(r.key, r.fields[0]); });
std::unique_ptr<jsonl_writer> resume_jsonl_file(const std::filesystem::path& path,
                                                std::string_view key_name,
                                                std::span<const std::string_view> fields,
                                                const keyed_row_fn& on_row,
                                                const resume_options& opts = {});

/// The rows of a keyed results file, read only: what resume_jsonl_file passes to on_row,
/// with bad rows going through opts.errors the same way, but nothing in the file changed (a
/// torn last line is not a row and is left where it is) and no lock taken. A missing file
/// has no rows.
void read_keyed_jsonl_file(
    const std::filesystem::path& path, std::string_view key_name,
    const std::function<void(std::string_view key, const boost::json::object& row,
                             std::size_t line)>& on_row,
    const resume_options& opts = {});

/// The same with the fast form's rows.
void read_keyed_jsonl_file(const std::filesystem::path& path, std::string_view key_name,
                           std::span<const std::string_view> fields, const keyed_row_fn& on_row,
                           const resume_options& opts = {});

namespace detail {

template <class T>
concept awaitable_value = requires {
  typename T::value_type;
}
&&std::is_same_v<T, boost::asio::awaitable<typename T::value_type>>;

/// Feeds what a value generator returned to `out`, in its order: a sluice::stream of rows, or
/// a range whose elements are rows, awaitables of rows, or callables returning those.
template <class Rows, class Out>
boost::asio::awaitable<void> for_each_row(Rows& rows, Out out) {
  if constexpr (is_stream_v<Rows>) {
    while (auto row = co_await rows.next()) out(boost::json::value_from(std::move(*row)));
  } else {
    for (auto&& element : rows) {
      auto row = invoke_element{}(element);  // a callable's awaitable, or the element
      if constexpr (awaitable_value<decltype(row)>)
        out(boost::json::value_from(co_await std::move(row)));
      else
        out(boost::json::value_from(std::move(row)));
    }
  }
}

template <class Generator>
boost::asio::awaitable<resume_summary> create_or_resume(results_file file,
                                                        Generator value_generator) {
  auto rows = value_generator(file.open());
  co_await for_each_row(rows, [&](const boost::json::value& row) { file.append(row); });
  co_return file.finish();
}

}  // namespace detail

/// Makes `path` a JSON Lines file in which every key of `keys` (strings, numbers, anything
/// boost::json::value_from takes; a repeated key counts once) has exactly `key_count` rows,
/// each row an object whose field `key_name` holds the key.
///
/// If the file exists, its rows are counted per key first: rows of keys not asked for and
/// rows beyond key_count are inconsistencies (opts.errors: raise throws sluice::jsonl_error
/// before the file is touched; print reports them and leaves them). A torn last line (no
/// '\n' and not valid JSON: a crash in the middle of a write) is cut away and reported.
/// Then `value_generator(std::vector<key_need>)` is called, always, with the keys still
/// missing rows in the order of `keys`, and must return the missing rows: a sluice::stream
/// of rows, or a range of rows, of awaitables of rows, or of callables returning them
/// (awaited one by one). Rows are json::object or json::value. Each row is checked (an
/// object, with the key field, for a key that still needs a row) and appended in one write
/// as it arrives; a rejected row goes through opts.errors and is not written, and so do rows
/// still owed when the generator ends.
///
/// An exception from the generator or a row propagates unchanged (cancellation included);
/// rows written before it stay, and a rerun asks only for the rest.
///
///     co_await sluice::create_or_resume_jsonl_file("out.jsonl", "id", 2, ids,
///         [](std::vector<sluice::key_need> need) { return make_rows(need); });
template <class Keys, class Generator>
boost::asio::awaitable<resume_summary> create_or_resume_jsonl_file(
    std::filesystem::path path, std::string key_name, std::size_t key_count, Keys&& keys,
    Generator value_generator, resume_options opts) {
  // The keys are taken now, at the call, so a temporary range may be passed.
  detail::results_file file(std::move(path), std::move(key_name), key_count, std::move(opts));
  if constexpr (std::ranges::sized_range<Keys>) file.reserve(std::ranges::size(keys));
  for (auto&& k : keys) {
    if constexpr (std::is_convertible_v<decltype(k), std::string_view>)
      file.expect_string(k);
    else
      file.expect(boost::json::value_from(k));
  }
  return detail::create_or_resume(std::move(file), std::move(value_generator));
}

/// As above, with the default resume_options (on_error::raise, the default fsync policy).
template <class Keys, class Generator>
boost::asio::awaitable<resume_summary> create_or_resume_jsonl_file(std::filesystem::path path,
                                                                   std::string key_name,
                                                                   std::size_t key_count,
                                                                   Keys&& keys,
                                                                   Generator value_generator) {
  return create_or_resume_jsonl_file(std::move(path), std::move(key_name), key_count,
                                     std::forward<Keys>(keys), std::move(value_generator),
                                     resume_options{});
}

/// create_or_resume_jsonl_file whose value generator returns tasks (callables returning
/// asio::awaitable<row>, or awaitables) run concurrently under `run`: its max_at_once,
/// max_per_second, timeout, retry and error policy, as sluice::amap runs them. Rows are
/// written in completion order. Under fail_fast (the default) the first failure cancels the
/// other tasks and propagates, after the rows that finished before it were written.
///
///     co_await sluice::run_bounded_create_or_resume_jsonl_file("out.jsonl", "id", 1, ids,
///         make_requests, {.max_at_once = 8, .max_per_second = 20});
template <class Clock = std::chrono::steady_clock, class Keys, class Generator>
boost::asio::awaitable<resume_summary> run_bounded_create_or_resume_jsonl_file(
    std::filesystem::path path, std::string key_name, std::size_t key_count, Keys&& keys,
    Generator value_generator, options run, resume_options opts) {
  auto bounded = [g = std::move(value_generator), run](std::vector<key_need> need) mutable {
    return amap<Clock>(detail::invoke_element{}, g(std::move(need)), run);
  };
  return create_or_resume_jsonl_file(std::move(path), std::move(key_name), key_count,
                                     std::forward<Keys>(keys), std::move(bounded), std::move(opts));
}

/// As above, with the default resume_options.
template <class Clock = std::chrono::steady_clock, class Keys, class Generator>
boost::asio::awaitable<resume_summary> run_bounded_create_or_resume_jsonl_file(
    std::filesystem::path path, std::string key_name, std::size_t key_count, Keys&& keys,
    Generator value_generator, options run) {
  return run_bounded_create_or_resume_jsonl_file<Clock>(
      std::move(path), std::move(key_name), key_count, std::forward<Keys>(keys),
      std::move(value_generator), std::move(run), resume_options{});
}

}  // namespace sluice
