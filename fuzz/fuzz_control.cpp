// A --control file (key=value lines, re-read while a run goes) through run_limits::control,
// on a run with a cap, a rate and --adaptive (the values then move its ceilings).
// Invariants: no crash and no exception: a bad line is a message naming the file and line,
// never fatal; after any text the limits are valid (a cap >= 1, a rate > 0).
#include "fuzz_support.hpp"
#include "run_limits.hpp"

#include <boost/asio/io_context.hpp>

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static boost::asio::io_context io;
  cli::run_config c;
  c.max_at_once = 8;
  c.max_per_second = 20;
  c.control = "ctl";
  c.adaptive = (size % 2) == 1;
  cli::run_limits limits(c, io.get_executor(), size % 3 == 0, true);
  options o;
  limits.apply(o);
  const std::string_view text = fuzz::as_text(data, size);
  for (const auto& m : limits.control(text, "ctl"))
    fuzz::check(m.starts_with("ctl:") && m.ends_with("; ignored"), "a message names the line");
  for (const auto& l : o.limits) {
    if (const auto* cap = dynamic_cast<const concurrency_limit*>(l.lim))
      fuzz::check(cap->capacity() >= 1, "a cap is >= 1");
    if (const auto* rate = dynamic_cast<const gcra_limit*>(l.lim))
      fuzz::check(rate->rate() > 0 && rate->burst() >= 1, "a rate is > 0, a burst >= 1");
  }
  (void)limits.describe();
  return 0;
}
