#include "flags.hpp"

#include "records.hpp"

#include <sluice/redis_client.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

namespace sluice::cli {

CLI::Validator whole_number(std::uint64_t least, std::uint64_t most) {
  return CLI::Validator(
      [least, most](std::string& text) -> std::string {
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec == std::errc() && end == text.data() + text.size() && n >= least && n <= most)
          return {};
        return "\"" + text + "\" is not allowed: a whole number from " + std::to_string(least) +
               " to " + std::to_string(most);
      },
      "", "whole number");
}

CLI::Validator decimal_number(double least, double most, bool zero_is_none) {
  return CLI::Validator(
      [least, most, zero_is_none](std::string& text) -> std::string {
        double d = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        const bool number = ec == std::errc() && end == text.data() + text.size();
        if (number && ((d >= least && d <= most) || (zero_is_none && d == 0))) return {};
        return fmt::format("\"{}\" is not allowed: {}a number from {:g} to {:g}", text,
                           zero_is_none ? "0 (no limit) or " : "", least, most);
      },
      "", "number");
}

void add_run_flags(CLI::App& run, run_flags& f, bool commands) {
  run.add_option("-j,--max-at-once,--jobs", f.jobs,
                 "Tasks running at once (default: the number of cores; 0: no limit)");
  run.add_option("-r,--max-per-second,--rate", f.rate,
                 "Task starts per second, retries included (fractions allowed; 0: no limit)")
      ->check(decimal_number(1e-6, 1e12, true));
  run.add_option("--burst", f.burst, "Starts allowed back to back after an idle time")
      ->check(whole_number(1, std::numeric_limits<std::uint32_t>::max()));
  run.add_option("--window", f.windows,
                 "N/DUR: at most N starts in any window of DUR, bursts allowed (500/1m, "
                 "10/1s); repeatable; with -r, every limit admits each start")
      ->allow_extra_args(false);
  run.add_option("--min-gap", f.min_gap, "At least DUR between two starts (250ms)");
  run.add_option("--cost", f.cost,
                 "A JSON Lines field holding each task's cost (tokens): what --cost-window "
                 "counts");
  run.add_option("--cost-window", f.cost_windows,
                 "N/DUR: at most N units of cost in any window of DUR (200000/1m); repeatable")
      ->allow_extra_args(false);
  run.add_option("--per-key", f.per_key,
                 "A JSON Lines field (a.b for nested) whose value is each task's key for the "
                 "--per-key-* limits (a tenant, a user)");
  run.add_option("--per-key-max-at-once", f.per_key_max_at_once, "Tasks of one key running at once")
      ->check(whole_number(1, std::numeric_limits<std::uint64_t>::max()));
  run.add_option("--per-key-max-per-second", f.per_key_rate,
                 "Task starts of one key per second (fractions allowed)")
      ->check(decimal_number(1e-6, 1e12, true));
  run.add_option("--per-key-burst", f.per_key_burst, "Starts of one key allowed back to back")
      ->check(whole_number(1, std::numeric_limits<std::uint32_t>::max()));
  run.add_option("--per-key-window", f.per_key_windows,
                 "N/DUR: at most N starts of one key in any window of DUR; repeatable")
      ->allow_extra_args(false);
  run.add_flag("--adaptive", f.adaptive,
               "Lower -j and -r when tasks meet overload (HTTP 429 or 503, a timeout) and raise "
               "them again as they succeed (AIMD; -j and -r are the ceilings)");
  run.add_option("--control", f.control,
                 "A file of limits (max_at_once=8, max_per_second=20, burst=5), re-read when it "
                 "changes and on SIGHUP");
  run.add_option("--redis", f.redis,
                 "redis://[[user]:password@]host[:port][/db] (or rediss://): share -r, --window, "
                 "--cost-window and --min-gap with every sluice that gives the same --limit-name "
                 "(password also from SLUICE_REDIS_PASSWORD)");
  run.add_option("--limit-name", f.limit_name,
                 commands ? "The name of the shared limits (--redis)"
                          : "The name of the shared limits (--redis; default: --url's host)");
  run.add_option("--shared-max-at-once", f.shared_max_at_once,
                 "Tasks running at once across every sluice sharing --limit-name (--redis "
                 "leases, given back when a task ends or --lease-ttl after its process dies)")
      ->check(whole_number(1, std::numeric_limits<std::uint64_t>::max()));
  run.add_option("--lease-ttl", f.lease_ttl,
                 "How long a dead process's --shared-max-at-once places stay taken (default 30s; "
                 "renewed every third of it)");
  run.add_option("--timeout", f.timeout,
                 commands ? "Kill a task (its process group) that runs longer: 30s, 500ms, 2m, 1.5"
                          : "Fail an attempt that takes longer (connecting and redirects "
                            "included): 30s, 500ms, 2m, 1.5");
  run.add_option("--retries", f.retries, "Run a failed task up to N more times")
      ->check(whole_number(0, 1000000));
  run.add_option("--backoff", f.backoff,
                 "Wait before a retry: exponential from BASE up to CAP, full jitter "
                 "(BASE[,CAP], default 1s,60s)");
  run.add_option("--halt", f.halt,
                 "Stop early: never (default), or now|soon,fail=N|fail=P%|success=N|done=N "
                 "(soon lets running tasks finish; now kills them)");
  run.add_flag("-k,--keep-order", f.keep_order,
               "Print (or write) results in input order instead of as they finish");
  run.add_option("-i,--input", f.input, "Read inputs from FILE (default: standard input)");
  run.add_flag("--jsonl", f.jsonl, "Inputs are JSON Lines (each line an object)");
  run.add_flag("--lines", f.lines, "Inputs are text lines, even if they look like JSON");
  run.add_flag("--skip-empty", f.skip_empty,
               "Skip empty input lines and ::: arguments (by default each is a task, as in "
               "GNU parallel)");
  run.add_option("--key", f.key, "The field (a.b for nested) that identifies a JSON Lines input");
  if (commands) {
    run.add_flag("--shell", f.shell,
                 "Run the command through sh -c, every substitution shell-quoted");
    run.add_flag("--noop", f.noop,
                 "Run no command: each task succeeds at once with no output (measures sluice's "
                 "own cost; marks inputs done)");
  }
  run.add_option("-o,--output", f.output,
                 "Write one JSON row per task to FILE.jsonl; resume from it when it exists");
  run.add_option("--joblog", f.joblog, "Append GNU parallel's job log to FILE");
  run.add_option("--max-output", f.output_cap,
                 commands
                     ? "Bytes of a task's stdout and of its stderr kept in its row (default 1 MiB)"
                     : "A larger response body fails the request (default 1 MiB)")
      ->check(whole_number(1, std::uint64_t(1) << 40));
  run.add_flag("--dedupe", f.dedupe,
               "Run once per distinct key (--key, or the input); every input still gets a row "
               "(needs -o)");
  run.add_flag("--retry-failed", f.retry_failed,
               "On resume, run again the tasks whose row says they failed");
  run.add_flag("--progress,--bar", f.progress,
               "Show a progress line on stderr (default when stderr is a terminal)");
  run.add_flag("--no-progress", f.no_progress, "Never show the progress line");
  run.add_flag("--dry-run", f.dry_run, "Print the commands that would run, and run nothing");
  run.add_flag("--stats", f.stats,
               "At the end, print tasks/s and sluice's own CPU time per task to stderr");
  run.add_option("--shard", f.shard,
                 "I/N: keep only the inputs whose key hashes to shard I (0-based) of N");
  if (commands) {
    run.prefix_command();  // the first argument that is not a flag starts the command
    run.positionals_at_end(false);
  }
}

void add_input_flags(CLI::App& run, run_flags& f) {
  run.add_option("-a,--arg-file", f.arg_files,
                 "An input source: the records of FILE (- is standard input); repeatable, "
                 "every combination of several sources is a task, as with several :::")
      ->allow_extra_args(false);
  run.add_flag("-0,--null", f.null,
               "Records end with NUL, not newline (find -print0): names with newlines pass safely");
  run.add_option("-d,--delimiter", f.delimiter,
                 "Records end with DELIM, not newline (one or more characters; \\n \\t \\0 "
                 "\\xHH escapes)");
  run.add_option(
      "--colsep", f.colsep,
      "Split each record into columns at REGEX (Perl syntax): the arguments {1} {2} ...");
}

void add_grouping_flags(CLI::App& run, run_flags& f) {
  run.add_option("-n,--max-args", f.max_args,
                 "Up to N records (or ::: combinations) per command, as xargs -n")
      ->type_name("N");
  run.add_option("-N,--max-replace-args", f.max_replace_args,
                 "As -n N, with {1} ... {N} the N arguments (empty when fewer)")
      ->type_name("N");
  run.add_flag("-X", f.context_replace,
               "As many arguments as a command line holds; a word holding {} is repeated for "
               "each (x{}y: xay xby)");
  run.add_flag("-m", f.multiple,
               "As many arguments as a command line holds; {} stands for all of them");
  run.add_option("-s,--max-chars", f.max_chars,
                 "The command line's length limit for -X and -m (default: what the system "
                 "allows, 128 KiB at most)")
      ->type_name("N");
  run.add_flag("--tag", f.tag,
               "Start each line a task prints with its arguments and a tab (no -o)");
}

std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view flag) {
  auto bad = [&] {
    return usage_error(std::string(flag) + ": \"" + std::string(text) +
                       "\" is not a duration (like 30s, 500ms, 2m, 1h, 1.5)");
  };
  if (text.empty()) throw bad();
  double total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    double n = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || !std::isfinite(n) || n < 0) throw bad();
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
    double unit = 1;  // a bare number is seconds, as in GNU parallel
    if (rest.starts_with("ms")) {
      unit = 1e-3;
      rest.remove_prefix(2);
    } else if (!rest.empty() && (rest[0] == 's' || rest[0] == 'm' || rest[0] == 'h')) {
      unit = rest[0] == 's' ? 1 : rest[0] == 'm' ? 60 : 3600;
      rest.remove_prefix(1);
    } else if (!rest.empty()) {
      throw bad();
    }
    total += n * unit;
  }
  // Nanoseconds in 64 bits reach 292 years; a longer one would wrap (found by fuzz_options).
  constexpr double longest = 100.0 * 365 * 24 * 3600;
  if (total > longest)
    throw usage_error(std::string(flag) + ": \"" + std::string(text) +
                      "\" is longer than 100 years");
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total * 1e9)));
}

run_config::window parse_window(std::string_view text, std::string_view flag) {
  const auto bad = [&](std::string_view why) {
    return usage_error(std::string(flag) + ": \"" + std::string(text) + "\" " + std::string(why) +
                       " (N/DURATION: at most N starts in any window of DURATION, like 500/1m)");
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) throw bad("has no /");
  run_config::window w;
  const std::string_view count = text.substr(0, slash);
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), w.count);
  if (ec != std::errc() || end != count.data() + count.size() || w.count == 0)
    throw bad("needs a whole number N >= 1");
  try {
    w.per = parse_duration(text.substr(slash + 1), flag);
  } catch (const usage_error&) {
    throw bad("needs a duration after the /");
  }
  if (w.per.count() <= 0) throw bad("needs a duration > 0");
  return w;
}

namespace {

std::size_t parse_jobs(const std::string& text) {
  if (text.empty()) return std::max(1u, std::thread::hardware_concurrency());
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size())
    throw usage_error("--max-at-once: \"" + text + "\" is not a number of tasks");
  return n;
}

// Whether --redis has limits to share (else it is only a worker's queue).
bool shares_limits(const run_config& c) {
  return c.max_per_second > 0 || !c.windows.empty() || !c.cost_windows.empty() ||
         c.min_gap.count() > 0 || c.shared_max_at_once > 0;
}

cli::shard parse_shard(const std::string& text) {
  cli::shard s;
  auto slash = text.find('/');
  auto num = [&](std::string_view part, std::uint32_t& out) {
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && end == part.data() + part.size() && !part.empty();
  };
  std::string_view t = text;
  if (slash == std::string::npos || !num(t.substr(0, slash), s.index) ||
      !num(t.substr(slash + 1), s.count) || s.count == 0 || s.index >= s.count)
    throw usage_error("--shard: \"" + text + "\" is not I/N with 0 <= I < N (like 0/4)");
  return s;
}

}  // namespace

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

void check_unknown_option(const CLI::App& sub, const std::vector<std::string>& rest) {
  if (rest.empty()) return;
  const std::string& word = rest.front();
  if (word.size() < 2 || word[0] != '-' || word == "--") return;
  const std::string name = word.substr(0, word.find('='));
  std::string nearest;
  std::size_t best = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const CLI::Option* o : sub.get_options()) {
    std::vector<std::string> names;
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
    for (const auto& n : names)
      if (const std::size_t d = edit_distance(name, n); d < best) {
        best = d;
        nearest = n;
      }
  }
  throw usage_error("unknown option " + name + " for sluice " + sub.get_name() +
                    (nearest.empty() ? "" : " (did you mean " + nearest + "?)") + "; 'sluice " +
                    sub.get_name() + " --help' lists them, and a command that starts with - " +
                    "goes after --");
}

namespace {

bool is_separator(const std::string& w) {
  return w == ":::" || w == ":::+" || w == "::::" || w == "::::+";
}

// The input sources: -i and -a files, then the ::: lists and :::: files in their order.
std::vector<source_spec> sources_of(const run_flags& f, std::vector<std::string>::iterator at,
                                    std::vector<std::string>::iterator end) {
  std::vector<source_spec> sources;
  if (!f.input.empty()) sources.push_back(source_spec::of_file(f.input));
  for (const auto& a : f.arg_files) sources.push_back(source_spec::of_file(a));
  while (at != end) {
    const std::string sep = *at++;
    const bool linked = sep.back() == '+';
    if (linked && sources.empty())
      throw usage_error(sep +
                        " links its inputs to those of a source before it, and there is none");
    auto next = std::find_if(at, end, is_separator);
    if (sep.starts_with("::::")) {
      if (at == next) throw usage_error(sep + " needs a file (- for standard input)");
      for (; at != next; ++at) sources.push_back(source_spec::of_file(*at, linked));
    } else {
      sources.push_back(source_spec::list({at, next}, linked));
      at = next;
    }
  }
  if (sources.empty()) sources.push_back(source_spec::of_file("-"));
  const auto stdins = std::count_if(sources.begin(), sources.end(), [](const source_spec& s) {
    return !s.is_list && s.file == "-";
  });
  if (stdins > 1) throw usage_error("standard input (-) can be one input source only");
  return sources;
}

// -n, -N, -s: a whole number >= 1.
std::size_t count_flag(const std::string& text, const char* flag, const char* what) {
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n == 0)
    throw usage_error(std::string(flag) + ": \"" + text + "\" is not allowed: " + what +
                      " (a whole number, at least 1)");
  return n;
}

// What one command line may hold: the system's limit for arguments and environment less the
// environment and a margin, and one argument (the whole script, with --shell) 128 KiB.
std::size_t line_limit() {
  long total = ::sysconf(_SC_ARG_MAX);
  if (total <= 0) total = 131072;
  std::size_t env = 0;
  for (char** e = environ; *e != nullptr; ++e) env += std::strlen(*e) + 1 + sizeof(char*);
  const std::size_t room = static_cast<std::size_t>(total) > env + 8192
                               ? static_cast<std::size_t>(total) - env - 8192
                               : 4096;
  return std::min<std::size_t>(room, 131072 - 2048);
}

// The input forms: sources, records, columns, groups.
void set_input_forms(run_config& c, const run_flags& f, bool commands) {
  if (f.null && !f.delimiter.empty()) throw usage_error("-0 and -d both say what ends a record");
  if (f.null) c.delimiter.assign(1, '\0');
  if (!f.delimiter.empty()) c.delimiter = parse_delimiter(f.delimiter);
  c.colsep = f.colsep;
  if (!f.max_args.empty() && !f.max_replace_args.empty())
    throw usage_error("-n and -N both give the arguments per command: give one");
  if (f.context_replace && f.multiple)
    throw usage_error("-X and -m contradict each other: give one");
  c.pack = f.context_replace || f.multiple;
  c.context_replace = f.context_replace;
  if (!f.max_args.empty())
    c.per_task = count_flag(f.max_args, "-n", "the arguments per command");
  else if (!f.max_replace_args.empty())
    c.per_task = count_flag(f.max_replace_args, "-N", "the arguments per command");
  else if (c.pack)
    c.per_task = std::numeric_limits<std::size_t>::max();
  const std::size_t limit = line_limit();
  c.max_chars = limit;
  if (!f.max_chars.empty()) {
    c.max_chars = count_flag(f.max_chars, "-s", "the command line's length");
    if (c.max_chars > limit)
      throw usage_error("-s: \"" + f.max_chars + "\" is more than this system allows (" +
                        std::to_string(limit) + ")");
    if (!c.pack) throw usage_error("-s limits the command lines that -X and -m fill: give one");
  }
  c.tag = f.tag;
  if (c.tag && !f.output.empty())
    throw usage_error(
        "--tag marks the lines tasks print, and with -o nothing is printed (each "
        "row holds its input)");
  const bool text_forms =
      c.sources.size() > 1 || !c.colsep.empty() || c.per_task > 1 || c.pack || !c.delimiter.empty();
  if (f.jsonl && text_forms)
    throw usage_error(
        "--jsonl reads one JSON object per line of one source: several input sources, "
        "--colsep, -n, -N, -X, -m, -0 and -d make text arguments");
  if (!f.key.empty() && text_forms)
    throw usage_error("--key names a JSON Lines field, and these inputs are text arguments");
  (void)commands;
}

}  // namespace

run_config to_config(const run_flags& f, std::vector<std::string> rest, bool stderr_is_terminal,
                     bool commands) {
  run_config c;
  if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
  auto sep = std::find_if(rest.begin(), rest.end(), is_separator);
  c.sources = sources_of(f, sep, rest.end());
  c.command.assign(rest.begin(), sep);
  set_input_forms(c, f, commands);
  c.noop = f.noop;
  if (c.noop && !c.command.empty())
    throw usage_error("--noop runs no command, and \"" + c.command.front() + "\" was given");
  if (c.noop && f.shell) throw usage_error("--noop runs no command: --shell has nothing to run");
  if (commands && !c.noop && c.command.empty())
    throw usage_error("no command given (sluice run [options] -- COMMAND)");
  if (!commands && !c.command.empty())
    throw usage_error("unexpected argument \"" + c.command.front() +
                      "\" (sluice http takes the URL as --url, inputs after :::)");
  if (f.jsonl && f.lines) throw usage_error("--jsonl and --lines contradict each other");
  c.format = f.jsonl ? input_format::jsonl : f.lines ? input_format::lines : input_format::detect;
  c.skip_empty = f.skip_empty;
  c.key = f.key;
  if (!c.key.empty() && f.lines) throw usage_error("--key needs JSON Lines input, not --lines");
  c.shell = f.shell;

  c.max_at_once = parse_jobs(f.jobs);
  // (-r, --burst and the other numbers are checked as they are parsed: whole_number and
  // decimal_number.)
  c.max_per_second = f.rate;
  c.burst = f.burst;
  for (const auto& w : f.windows) c.windows.push_back(parse_window(w, "--window"));
  for (const auto& w : f.cost_windows) c.cost_windows.push_back(parse_window(w, "--cost-window"));
  c.cost_field = f.cost;
  if (!c.cost_windows.empty() && c.cost_field.empty())
    throw usage_error("--cost-window counts each task's cost: give the field with --cost");
  if (!c.cost_field.empty() && c.cost_windows.empty())
    throw usage_error("--cost " + c.cost_field +
                      " gives each task a cost, and no --cost-window counts it");
  c.per_key_field = f.per_key;
  per_key_limits pk;
  pk.max_at_once = f.per_key_max_at_once;
  pk.max_per_second = f.per_key_rate;
  pk.burst = f.per_key_burst;
  for (const auto& w : f.per_key_windows) {
    const auto pw = parse_window(w, "--per-key-window");
    pk.windows.push_back({pw.count, pw.per});
  }
  const bool any_per_key = pk.max_at_once > 0 || pk.max_per_second > 0 || !pk.windows.empty();
  if (any_per_key && c.per_key_field.empty())
    throw usage_error(
        "--per-key-max-at-once, --per-key-max-per-second and --per-key-window "
        "limit each key: give the key's field with --per-key");
  if (!c.per_key_field.empty() && !any_per_key)
    throw usage_error("--per-key " + c.per_key_field +
                      " needs a limit per key (--per-key-max-at-once, --per-key-max-per-second "
                      "or --per-key-window)");
  if (!c.per_key_field.empty() && f.lines)
    throw usage_error("--per-key needs JSON Lines input, not --lines");
  if (any_per_key) c.per_key = std::move(pk);
  c.adaptive = f.adaptive;
  if (c.adaptive && c.max_at_once == 0 && c.max_per_second == 0)
    throw usage_error(
        "--adaptive needs a ceiling: -j N or -r R (it lowers them and raises them "
        "back, never above)");
  c.control = f.control;
  c.redis = f.redis;
  c.limit_name = f.limit_name;
  c.shared_max_at_once = f.shared_max_at_once;
  if (!f.lease_ttl.empty()) {
    c.lease_ttl = parse_duration(f.lease_ttl, "--lease-ttl");
    if (c.lease_ttl < std::chrono::milliseconds(100))
      throw usage_error("--lease-ttl: \"" + f.lease_ttl + "\" must be at least 100ms");
  }
  if (c.redis.empty()) {
    for (const auto& [given, flag] : {std::pair{!f.limit_name.empty(), "--limit-name"},
                                      std::pair{f.shared_max_at_once > 0, "--shared-max-at-once"},
                                      std::pair{!f.lease_ttl.empty(), "--lease-ttl"}})
      if (given)
        throw usage_error(std::string(flag) + " shares limits through Redis: give --redis URL");
  } else {
    try {
      (void)redis_config::from_url(c.redis);
    } catch (const std::invalid_argument& e) {
      throw usage_error(e.what());
    }
    const bool no_limit = !shares_limits(c);
    if (no_limit && !f.worker)
      throw usage_error(
          "--redis shares limits, and none is given (-r, --window, --cost-window, "
          "--min-gap or --shared-max-at-once)");
    if (commands && c.limit_name.empty() && !no_limit)
      throw usage_error(
          "--redis needs --limit-name NAME: the processes that give the same name "
          "share its limits");
  }
  if (!c.cost_field.empty() && f.lines)
    throw usage_error("--cost needs JSON Lines input, not --lines");
  if (!f.min_gap.empty()) {
    c.min_gap = parse_duration(f.min_gap, "--min-gap");
    if (c.min_gap.count() <= 0)
      throw usage_error("--min-gap: \"" + f.min_gap + "\" must be more than 0");
  }
  if (!f.timeout.empty()) c.timeout = parse_duration(f.timeout, "--timeout");
  c.retries = f.retries;
  if (!f.backoff.empty()) {
    auto comma = f.backoff.find(',');
    c.backoff_base = parse_duration(std::string_view(f.backoff).substr(0, comma), "--backoff");
    if (comma != std::string::npos)
      c.backoff_cap = parse_duration(std::string_view(f.backoff).substr(comma + 1), "--backoff");
    else
      c.backoff_cap = std::max(c.backoff_cap, c.backoff_base);
    if (c.backoff_base.count() <= 0 || c.backoff_cap < c.backoff_base)
      throw usage_error("--backoff: BASE must be > 0 and CAP >= BASE, got \"" + f.backoff + "\"");
  }
  if (!f.halt.empty() && f.halt != "never") {
    try {
      c.halt = halt_policy::parse(f.halt);
    } catch (const std::invalid_argument& e) {
      throw usage_error(std::string("--halt: ") + e.what());
    }
  }
  c.keep_order = f.keep_order;

  c.output = f.output;
  c.joblog = f.joblog;
  c.output_cap = f.output_cap;
  c.retry_failed = f.retry_failed;
  if (c.retry_failed && c.output.empty())
    throw usage_error("--retry-failed needs -o FILE.jsonl (the results it reruns the failures of)");
  c.dedupe = f.dedupe;
  if (c.dedupe && c.output.empty())
    throw usage_error("--dedupe needs -o FILE.jsonl (each input gets its key's row there)");
  c.dry_run = f.dry_run;
  c.stats = f.stats;
  c.progress = f.no_progress ? false : f.progress || stderr_is_terminal;
  if (c.dry_run) c.progress = false;
  if (!f.shard.empty()) c.shard_of = parse_shard(f.shard);
  return c;
}

void add_http_flags(CLI::App& http, http_flags& f) {
  http.add_option("--url", f.url, "The URL template (default {}: the input is the URL)");
  http.add_option("-X,--method", f.method, "The request method (default GET)");
  http.add_option("-H,--header", f.headers, "A request header, templated: -H 'Name: {value}'")
      ->allow_extra_args(false);
  http.add_option("--body", f.body, "The request body, templated");
  http.add_option("--body-field", f.body_field,
                  "Send this JSON Lines field as the JSON body (Content-Type: application/json)");
  http.add_option("--max-per-host", f.max_per_host,
                  "Requests in flight (and connections) per host (default: as -j)")
      ->check(whole_number(0, std::numeric_limits<std::uint32_t>::max()));
  http.add_option("--max-per-second-per-host", f.rate_per_host,
                  "Requests started per second per host (0: no limit)")
      ->check(decimal_number(1e-6, 1e12, true));
  http.add_option("--ok-status", f.ok_status,
                  "Statuses that count as success (default 100-399), like 200-299,404");
  http.add_option("--keep-header", f.keep_headers, "A response header to copy into the row")
      ->allow_extra_args(false);
  http.add_option(
      "--max-retry-wait", f.max_wait,
      "The longest Retry-After honoured: every start holds this long at most (default 60s)");
  http.add_option("--max-redirects", f.max_redirects,
                  "Redirects followed for GET and HEAD (default 5)")
      ->check(whole_number(0, 100));
  http.add_flag("--insecure", f.insecure, "Do not verify TLS certificates");
  http.add_option("--cacert", f.ca_file, "Trust this CA file (PEM) besides the system store");
}

namespace {

// The host of a URL template when it is fixed ("https://api.example.com/v1/{id}"), else "".
std::string url_host(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  url.remove_prefix(scheme + 3);
  const auto end = url.find_first_of("/?#");
  std::string_view host = url.substr(0, end);
  if (const auto at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
  if (host.empty() || host.find_first_of("{}") != std::string_view::npos) return {};
  return std::string(host);
}

}  // namespace

http_config to_http_config(const http_flags& f, run_config& c) {
  http_config h;
  h.url = f.url;
  h.method = f.method;
  h.headers = f.headers;
  if (!f.body.empty()) h.body = f.body;
  h.body_field = f.body_field;
  h.max_per_host = f.max_per_host;
  h.rate_per_host = f.rate_per_host;
  if (!f.ok_status.empty()) h.ok_status = parse_status_list(f.ok_status);
  h.keep_headers = f.keep_headers;
  for (const auto& name : h.keep_headers)
    if (name.ends_with("_b64"))
      throw usage_error(
          "--keep-header: \"" + name +
          "\": names ending in _b64 hold the exact bytes of another header in the row");
  h.insecure = f.insecure;
  h.ca_file = f.ca_file;
  h.max_redirects = f.max_redirects;
  if (!f.max_wait.empty()) c.max_hold = parse_duration(f.max_wait, "--max-retry-wait");
  if (!c.redis.empty() && c.limit_name.empty() && shares_limits(c)) {
    c.limit_name = url_host(h.url);
    if (c.limit_name.empty())
      throw usage_error("--redis needs --limit-name NAME: --url \"" + h.url +
                        "\" has no fixed host to name the shared limits after");
  }
  return h;
}

}  // namespace sluice::cli
