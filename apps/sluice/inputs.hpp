// The inputs of `sluice run`: lines or JSON Lines rows from a file, standard input or the
// ::: arguments, each with its identity for resume (its key and which occurrence of that key
// it is) and its shard.
//
// Format rule: --jsonl or --lines decide. Otherwise a regular file is read once up front and
// is JSON Lines when every non-blank line is a JSON object; standard input, a pipe and :::
// arguments are lines. An empty line (or ::: argument) is an input, as in GNU parallel, unless
// --skip-empty; a blank line of JSON Lines is skipped. Text inputs go through one model
// (arguments.hpp): records, columns, tuples of several sources, groups.
//
// A task's identity: a task of one argument is keyed by it (a string); one of several (::: a
// ::: b, --colsep, -n) by the JSON array of them. Bytes that are not UTF-8 make the key's
// lossy rendering, and key_b64 the exact bytes in base64 (several arguments: each followed
// by a NUL but the last).
#pragma once

#include "placeholders.hpp"
#include "run_config.hpp"

#include <sluice/fingerprint_set.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::cli {

/// A task's identity across runs, as the results file records it: the fingerprint of its
/// key's text, its key_b64 (for a key that is not UTF-8; else empty) and its occurrence.
/// Occurrence 0 stands for the key alone (--dedupe).
fingerprint task_identity(std::string_view key_text, std::string_view key_b64,
                          std::uint64_t occurrence);

/// One input.
struct input_item {
  std::size_t seq = 0;   // 1-based, in input order: {#} and the job log's Seq
  std::size_t line = 0;  // its line in the file (the argument's position for :::)
  std::string text;      // the line, or the row as compact JSON (several arguments: joined by ' ')
  std::vector<std::string> args;  // a task of several arguments: them (else empty: `text`)
  std::optional<boost::json::object> row;
  boost::json::value key;  // the input itself (the line, or the row), or its --key field
  std::string key_text;    // key as compact JSON: the identity, with key_b64
  /// A line that is not UTF-8: its key is the line's lossy_utf8 rendering, and this the
  /// line's exact bytes in base64 (the row's key_b64); empty otherwise.
  std::string key_b64;
  std::uint32_t occurrence = 1;  // 1 for the first input with this key, 2 for the next...
  std::uint32_t cost = 1;        // --cost FIELD's value
  std::string limit_key;         // --per-key FIELD's value: a string as is, else compact JSON
  std::string queue_id;          // sluice worker: the queue entry it came from

  [[nodiscard]] task_input as_task_input() const {
    return {text, row ? &*row : nullptr, args.empty() ? nullptr : &args};
  }
  [[nodiscard]] fingerprint identity() const {
    return task_identity(key_text, key_b64, occurrence);
  }
  [[nodiscard]] fingerprint key_identity() const { return task_identity(key_text, key_b64, 0); }
};

/// A stable 64-bit hash (FNV-1a) of a key's text: the same on every machine and build, so
/// that --shard splits one input the same way everywhere.
std::uint64_t key_hash(std::string_view key_text) noexcept;

/// Reads the inputs in order. Bad input (a missing file, a row that is not an object, a
/// missing --key field or template field) throws sluice::jsonl_error naming the file, line
/// and field. For a regular file every row is checked before the first is returned.
class input_reader {
 public:
  /// `fields`: what the command template reads from each row. `command`: the template that
  /// -X and -m fill (its length per argument), when there is one.
  input_reader(const run_config& c, const std::vector<std::string>& fields,
               const command_template* command = nullptr);
  ~input_reader();
  input_reader(const input_reader&) = delete;
  input_reader& operator=(const input_reader&) = delete;

  /// The next input, or std::nullopt at the end.
  std::optional<input_item> next();
  /// An input taken from a queue (sluice worker): `text` read in this reader's format (a line,
  /// or a JSON object checked as a file's rows are), numbered `seq`, with the occurrence the
  /// enqueuer counted. Throws jsonl_error naming this reader's name() and `seq`.
  input_item queued(std::string text, std::uint32_t occurrence, std::size_t seq);
  /// Names the inputs in messages.
  void set_name(std::string name) { name_ = std::move(name); }

  /// How many inputs there are, when known before reading them (a file, ::: arguments).
  [[nodiscard]] std::optional<std::size_t> total() const noexcept { return total_; }
  [[nodiscard]] bool jsonl() const noexcept { return jsonl_; }
  /// The name of the input in messages.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  struct source;
  std::optional<input_item> make_item(std::string text, std::size_t line, boost::json::object* row,
                                      bool count = true);
  /// A task of several arguments: its key, the array of them (exact in key_b64).
  static void key_by_arguments(input_item& it);
  /// The key's text and (with `count`) which occurrence of it this input is.
  void identify(input_item& it, bool count);

  std::string name_;
  std::string key_field_;
  std::string cost_field_;
  std::string per_key_field_;
  double most_cost_ = 4294967295.0;  // a --cost above it never fits
  std::vector<std::string> fields_;
  bool jsonl_ = false;
  std::optional<std::size_t> total_;
  std::unique_ptr<source> src_;
  std::size_t seq_ = 0;
  // What numbers repeated keys, the one thing that grows with the input (by key_hash, 9 to
  // 27 bytes per distinct key): the keys seen, and how often the repeated ones came again.
  boost::unordered_flat_set<std::uint64_t> seen_;
  boost::unordered_flat_map<std::uint64_t, std::uint32_t> again_;
};

}  // namespace sluice::cli
