// The option parsers of `sluice run` through to_config, the one place flags are checked:
// -j, --timeout, --backoff, --halt, --shard, --window, --min-gap, --per-key-window (with
// --per-key), then halt_policy::parse, parse_duration, parse_window and the --redis URL
// (redis_config::from_url) and -d's escapes (parse_delimiter) alone.
// Fields, one a line: jobs, timeout, backoff, halt, shard, key, window, min gap, per-key
// window, command words...
// Invariants: no crash; a value is either accepted or a usage_error (never another
// exception); accepted values are in range; a Redis URL's password is never in display().
#include "flags.hpp"
#include "fuzz_support.hpp"
#include "records.hpp"

#include <sluice/options.hpp>
#include <sluice/redis_client.hpp>

#include <algorithm>

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto f = fuzz::fields_of(fuzz::as_text(data, size));
  f.resize(std::max<std::size_t>(f.size(), 10));
  cli::run_flags flags;
  flags.jobs = f[0];
  flags.timeout = f[1];
  flags.backoff = f[2];
  flags.halt = f[3];
  flags.shard = f[4];
  flags.key = f[5];
  if (!f[6].empty()) flags.windows.push_back(f[6]);
  flags.min_gap = f[7];
  if (!f[8].empty()) {
    flags.per_key = "user";
    flags.per_key_windows.push_back(f[8]);
  }
  std::vector<std::string> rest(f.begin() + 9, f.end());
  try {
    const cli::run_config c = cli::to_config(flags, rest, false);
    fuzz::check(c.timeout.count() >= 0, "a timeout is not negative");
    fuzz::check(c.backoff_base.count() >= 0 && c.backoff_cap.count() >= 0, "backoffs >= 0");
    if (c.shard_of) fuzz::check(c.shard_of->index < c.shard_of->count, "shard I < N");
    for (const auto& w : c.windows)
      fuzz::check(w.count >= 1 && w.per.count() > 0, "a window has N >= 1 and a length > 0");
    fuzz::check(c.min_gap.count() >= 0, "a gap is not negative");
    if (c.per_key)
      for (const auto& w : c.per_key->windows)
        fuzz::check(w.capacity >= 1 && w.length.count() > 0, "a per-key window is valid");
  } catch (const cli::usage_error&) {
  }
  for (const auto& text : f) {
    try {
      const std::string d = cli::parse_delimiter(text);  // -d's escapes
      fuzz::check(!d.empty() && d.size() <= text.size(), "a delimiter is never longer than -d");
    } catch (const cli::usage_error&) {
    }
    try {
      (void)halt_policy::parse(text);
    } catch (const std::invalid_argument&) {
    }
    try {
      const auto d = cli::parse_duration(text, "--timeout");
      fuzz::check(d.count() >= 0, "a duration is not negative");
    } catch (const cli::usage_error&) {
    }
    try {
      const auto r = redis_config::from_url(text);
      fuzz::check(r.port != 0 && r.db >= 0 && !r.host.empty(), "a Redis URL's parts are valid");
      fuzz::check(
          r.password.empty() || r.display().find(":" + r.password + "@") == std::string::npos,
          "display() never shows the password");
    } catch (const std::invalid_argument&) {
    }
    try {
      const auto w = cli::parse_window(text, "--window");
      fuzz::check(w.count >= 1 && w.per.count() > 0, "a window has N >= 1 and a length > 0");
    } catch (const cli::usage_error&) {
    }
  }
  return 0;
}
