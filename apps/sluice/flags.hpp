// The flags of `sluice run`: one table that CLI11 parses from, that --help prints, and that
// the tests read. Parsing fills run_flags as typed; to_config checks them and builds the
// run_config (a bad value is a usage error naming its flag).
#pragma once

#include "http_task.hpp"
#include "run_config.hpp"

#include <CLI/App.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::cli {

/// A bad command line: exit code usage_error.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws usage_error when what CLI11 left after `sub`'s flags starts with an option it does
/// not know (`sluice run --bogus -- echo`): an unknown option before the command, or before
/// `--`, is an error naming it, with the nearest known option when one is close, not the
/// command's first word.
void check_unknown_option(const CLI::App& sub, const std::vector<std::string>& rest);

/// A whole number option's check, run on the text before CLI11 converts it: a bad value is
/// one line naming the option, the value and what is allowed ("--burst: \"0\" is not allowed:
/// a whole number from 1 to 4294967295").
CLI::Validator whole_number(std::uint64_t least, std::uint64_t most);
/// The same for a number with a fraction: from `least` to `most`, or 0 when `zero_is_none`.
CLI::Validator decimal_number(double least, double most, bool zero_is_none);

/// The flags as given, before checking.
struct run_flags {
  std::string jobs;  // empty: the number of cores
  double rate = 0;
  std::uint32_t burst = 1;
  std::string timeout, backoff, halt, shard, min_gap;
  std::vector<std::string> windows;  // --window N/DUR, repeatable
  std::string cost;                  // --cost FIELD
  std::vector<std::string> cost_windows;
  std::string per_key;  // --per-key FIELD
  std::uint64_t per_key_max_at_once = 0;
  double per_key_rate = 0;
  std::uint32_t per_key_burst = 1;
  std::vector<std::string> per_key_windows;
  bool adaptive = false;
  std::string control;
  std::string redis, limit_name, lease_ttl;  // --redis URL, --limit-name, --lease-ttl
  std::uint64_t shared_max_at_once = 0;      // --shared-max-at-once
  bool worker = false;  // sluice worker: --redis is the queue's, limits optional
  std::uint32_t retries = 0;
  bool keep_order = false, shell = false, jsonl = false, lines = false, skip_empty = false;
  std::string input, key, output, joblog;
  // GNU parallel's and xargs' input forms.
  std::vector<std::string> arg_files;                 // -a FILE, repeatable
  bool null = false;                                  // -0
  std::string delimiter, colsep;                      // -d, --colsep
  std::string max_args, max_replace_args, max_chars;  // -n, -N, -s
  bool context_replace = false, multiple = false;     // -X, -m
  bool tag = false;
  std::size_t output_cap = 1u << 20;
  bool retry_failed = false, dedupe = false, dry_run = false, stats = false, noop = false;
  bool progress = false, no_progress = false;
};

/// Adds run's flags to `run`, parsed into `f`, and sets it to take the command (and any
/// `::: inputs`) as the rest of the arguments.
void add_run_flags(CLI::App& run, run_flags& f, bool commands = true);
/// GNU parallel's input sources and record forms (-a, -0, -d, --colsep): sluice run and http.
void add_input_flags(CLI::App& run, run_flags& f);
/// Several arguments per command (-n, -N, -X, -m, -s) and --tag: sluice run.
void add_grouping_flags(CLI::App& run, run_flags& f);

/// Checks the flags and splits `rest` (what follows the flags) into the command and the
/// ::: inputs. `stderr_is_terminal` decides --progress when it was not given. Throws
/// usage_error naming the flag.
run_config to_config(const run_flags& f, std::vector<std::string> rest, bool stderr_is_terminal,
                     bool commands = true);

/// The flags `sluice http` adds to run's, as given.
struct http_flags {
  std::string url = "{}", method = "GET", body, body_field, ok_status, max_wait;
  std::vector<std::string> headers, keep_headers;
  std::size_t max_per_host = 0;
  double rate_per_host = 0;
  bool insecure = false;
  std::string ca_file;
  unsigned max_redirects = 5;
};

/// Adds http's own flags to `http` (run's are added by add_run_flags(http, f, false)).
void add_http_flags(CLI::App& http, http_flags& f);

/// Checks http's flags; sets what they say about the run in `c` (--max-retry-wait).
http_config to_http_config(const http_flags& f, run_config& c);

/// "1.5" (seconds), "250ms", "10s", "2m", "1h", "1m30s"; throws usage_error quoting `text`.
std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view flag);

/// "500/1m": N starts per window of a duration; throws usage_error quoting `text`.
run_config::window parse_window(std::string_view text, std::string_view flag);

}  // namespace sluice::cli
