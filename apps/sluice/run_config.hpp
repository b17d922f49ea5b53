// What `sluice run` was asked to do, once its arguments are parsed and checked.
#pragma once

#include <sluice/options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cli {

enum class input_format { detect, lines, jsonl };

struct shard {
  std::uint32_t index = 0;  // 0-based
  std::uint32_t count = 1;
};

/// One input source, as GNU parallel has them: a ::: list, or a file (:::: FILE, -a FILE,
/// -i FILE; "-" is standard input).
struct source_spec {
  bool is_list = false;
  std::vector<std::string> args;  // the ::: list
  std::string file;               // or the file
  bool linked = false;            // :::+ / ::::+: goes along with the source before it

  static source_spec list(std::vector<std::string> args, bool linked = false) {
    source_spec s;
    s.is_list = true;
    s.args = std::move(args);
    s.linked = linked;
    return s;
  }
  static source_spec of_file(std::string path, bool linked = false) {
    source_spec s;
    s.file = std::move(path);
    s.linked = linked;
    return s;
  }
};

struct run_config {
  // The command and its inputs.
  std::vector<std::string> command;
  std::vector<source_spec> sources{source_spec::of_file("-")};  // (none given: standard input)
  input_format format = input_format::detect;
  bool skip_empty = false;   // --skip-empty: empty lines and ::: arguments are not inputs
  std::string delimiter;     // what ends a record (-0 "\0", -d DELIM); empty: a line (LF or CRLF)
  std::string colsep;        // --colsep REGEX: each record's columns are its arguments
  std::size_t per_task = 1;  // -n / -N: records (tuples) per task
  bool pack = false;         // -X / -m: as many as a command line holds (max_chars)
  bool context_replace = false;  // -X: a word holding {} is repeated for each argument
  std::size_t max_chars = 0;     // -s: the command line's length limit for -X / -m
  bool tag = false;              // --tag: each printed line starts with the arguments and a tab
  std::string key;               // --key FIELD (JSON Lines)
  bool shell = false;
  bool noop = false;  // --noop: no command; each task succeeds at once (noop_task.hpp)

  // Limits and policies.
  std::size_t max_at_once = 0;  // 0: unlimited
  double max_per_second = 0;
  std::uint32_t burst = 1;
  /// --window N/DUR: at most `count` starts in any window of `per` (sliding, exact).
  struct window {
    std::uint64_t count = 0;
    std::chrono::nanoseconds per{0};
  };
  std::vector<window> windows;
  std::chrono::nanoseconds min_gap{0};    // --min-gap: between two starts
  std::string cost_field;                 // --cost FIELD: each task's cost (JSON Lines)
  std::vector<window> cost_windows;       // --cost-window N/DUR: N units of cost per window
  std::string per_key_field;              // --per-key FIELD: each task's key for per_key
  std::optional<per_key_limits> per_key;  // --per-key-max-at-once, -max-per-second, -window
  bool adaptive = false;                  // --adaptive: AIMD on -j and -r on 429, 503 and timeouts
  std::string control;                    // --control FILE: limits re-read while the run goes
  /// --redis URL: -r, --window, --cost-window and --min-gap are shared through Redis by every
  /// process with the same --limit-name; --shared-max-at-once caps tasks across all of them.
  std::string redis;
  std::string limit_name;
  std::uint64_t shared_max_at_once = 0;
  std::chrono::nanoseconds lease_ttl = std::chrono::seconds(30);
  std::chrono::nanoseconds timeout{0};
  std::uint32_t retries = 0;
  std::chrono::nanoseconds backoff_base = std::chrono::seconds(1);
  std::chrono::nanoseconds backoff_cap = std::chrono::seconds(60);
  std::optional<halt_policy> halt;
  /// A server's Retry-After holds every start this long at most (sluice http).
  std::chrono::nanoseconds max_hold = std::chrono::seconds(60);
  bool keep_order = false;

  // Output.
  std::string output;  // results .jsonl, empty: print each task's output
  std::string joblog;
  std::size_t output_cap = 1u << 20;  // bytes of stdout / stderr kept per task in a row
  bool retry_failed = false;
  bool dedupe = false;  // one run per distinct key, a row for every input
  bool progress = false;
  bool dry_run = false;
  bool stats = false;  // a summary line at the end: tasks/s and sluice's own CPU per task
  std::optional<cli::shard> shard_of;
};

}  // namespace sluice::cli
