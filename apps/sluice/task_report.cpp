#include "task_report.hpp"

#include <sluice/bytes_field.hpp>

#include <fmt/format.h>
#include <boost/json/serializer.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace sluice::cli {

namespace json = boost::json;

std::string_view to_string(task_status s) noexcept {
  switch (s) {
    case task_status::ok:
      return "ok";
    case task_status::failed:
      return "failed";
    case task_status::timeout:
      return "timeout";
    case task_status::killed:
      return "killed";
  }
  return "failed";
}

namespace {

std::string describe_exit(const process_result& r) {
  if (r.exit_code) return fmt::format("exit code {}", *r.exit_code);
  return fmt::format("killed by signal {}", r.signal.value_or(0));
}

}  // namespace

std::string failure_message(const command_run& run) {
  return fmt::format("{}: {}", run.argv.empty() ? "" : run.argv[0], describe_exit(run.result));
}

task_report task_report::from_run(command_run run) {
  task_report t;
  auto& p = run.result;
  t.status = p.ok()        ? task_status::ok
             : p.timed_out ? task_status::timeout
             : p.signal    ? task_status::killed
                           : task_status::failed;
  t.exit_code = p.exit_code;
  t.signal = p.signal;
  t.out = std::move(p.out);
  t.err = std::move(p.err);
  t.out_truncated = p.out_truncated;
  t.err_truncated = p.err_truncated;
  t.started_at = run.started_at;
  t.duration = p.duration;
  t.argv = std::move(run.argv);
  return t;
}

namespace {

/// The columns that say which input a row is for, with room for `more` besides.
json::object input_columns(const input_item& in, std::size_t more) {
  json::object row;
  row.reserve(5 + more);
  row["key"] = in.key;
  if (!in.key_b64.empty()) row["key_b64"] = in.key_b64;
  row["occurrence"] = in.occurrence;
  if (in.row) {
    row["input"] = *in.row;
  } else if (!in.args.empty()) {
    row["input"] = in.key;  // the arguments (exact in input_b64 when not UTF-8)
    if (!in.key_b64.empty()) row["input_b64"] = in.key_b64;
  } else {
    put_bytes(row, "input", in.text);
  }
  return row;
}

}  // namespace

bool row_ok(std::string_view ok_text, std::string_view status_text) noexcept {
  if (!ok_text.empty()) return ok_text == "true";
  return status_text == R"("ok")";
}

std::string_view unquoted(std::string_view json_text) noexcept {
  if (json_text.size() >= 2 && json_text.front() == '"')
    return json_text.substr(1, json_text.size() - 2);
  return json_text;
}

fingerprint row_identity(std::string_view key_text, std::string_view key_b64_json,
                         std::string_view occurrence_json) {
  std::uint64_t occurrence = 1;
  std::from_chars(occurrence_json.data(), occurrence_json.data() + occurrence_json.size(),
                  occurrence);
  return task_identity(key_text, unquoted(key_b64_json), occurrence);
}

namespace {

/// Writes `value` (not negative) as `width` decimal digits, zero-padded, at `at`.
void put_digits(char* at, long value, int width) noexcept {
  for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = char('0' + value % 10);
}

}  // namespace

std::string utc_text(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  // Calendar arithmetic and digits put in place: a row's timestamp costs a few dozen
  // instructions (a padded fmt format cost ~2,000, a noticeable part of an HTTP row).
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day date(day);
  const hh_mm_ss time(ms - day);
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&](std::size_t at, long value, int width) { put_digits(&out[at], value, width); };
  // (The system clock's nanoseconds span the years 1677 to 2262: four digits.)
  const int year = static_cast<int>(date.year());
  put(0, year, 4);
  put(5, static_cast<unsigned>(date.month()), 2);
  put(8, static_cast<unsigned>(date.day()), 2);
  put(11, time.hours().count(), 2);
  put(14, time.minutes().count(), 2);
  put(17, time.seconds().count(), 2);
  put(20, time.subseconds().count(), 3);
  return out;
}

finished_task finished(std::shared_ptr<const input_item> in, task_report r) {
  finished_task t;
  t.input = std::move(in);
  t.ok = r.status == task_status::ok;
  json::object& row = t.columns;
  row["status"] = to_string(r.status);
  row["exit_code"] = r.exit_code ? json::value(*r.exit_code) : json::value(nullptr);
  row["signal"] = r.signal ? json::value(*r.signal) : json::value(nullptr);
  put_bytes(row, "stdout", r.out);
  put_bytes(row, "stderr", r.err);
  if (r.out_truncated) row["stdout_truncated"] = true;
  if (r.err_truncated) row["stderr_truncated"] = true;
  t.started_at = r.started_at;
  t.duration = r.duration;
  t.overload = r.status == task_status::timeout;
  // GNU parallel writes -1 for a job its timeout killed.
  t.exitval = r.status == task_status::timeout ? -1 : r.exit_code.value_or(0);
  t.signal = r.signal.value_or(0);
  t.received = r.out.size();
  t.command = command_line(r.argv);
  t.out = std::move(r.out);
  t.err = std::move(r.err);
  return t;
}

namespace {

/// Whether `s` has a character JSON escapes: '"', '\\' or a control character. Eight bytes
/// at a time (a row's strings are mostly long and plain): a byte b is flagged when b < 0x20,
/// or b ^ '"' or b ^ '\\' is zero, each tested on all eight bytes by one subtraction.
bool needs_escapes(std::string_view s) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  auto below = [&](std::uint64_t x, std::uint8_t n) { return (x - ones * n) & ~x & highs; };
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    if (below(x, 0x20) | below(x ^ (ones * '"'), 1) | below(x ^ (ones * '\\'), 1)) return true;
  }
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '"' || c == '\\') return true;
  }
  return false;
}

/// Appends JSON text to a row's line: null, booleans, integers and strings with nothing to
/// escape put straight in, the rest (escapes, doubles, objects, arrays) through Boost.JSON's
/// serializer. Either way the text is the one the serializer writes.
class row_text {
 public:
  explicit row_text(std::string& line) : line_(line) {}

  void string(std::string_view s) {
    if (!needs_escapes(s)) {  // the common case, copied whole
      line_.push_back('"');
      line_.append(s);
      line_.push_back('"');
      return;
    }
    sr_.reset(s);
    drain();
  }

  /// Bytes from outside as the member `name` (put_bytes' rule): the text when it is UTF-8,
  /// else its lossy rendering and `name_b64` with the bytes in base64.
  void bytes(std::string_view name, std::string_view s) {
    line_.push_back(',');
    string(name);
    line_.push_back(':');
    if (is_utf8(s)) {
      string(s);
      return;
    }
    string(lossy_utf8(s));
    line_.push_back(',');
    string(bytes_field_name(name));
    line_.push_back(':');
    string(base64_encode(s));
  }

  void value(const json::value& v) {
    switch (v.kind()) {
      case json::kind::null:
        line_.append("null");
        return;
      case json::kind::bool_:
        line_.append(v.get_bool() ? "true" : "false");
        return;
      case json::kind::int64:
        integer(v.get_int64());
        return;
      case json::kind::uint64:
        integer(v.get_uint64());
        return;
      case json::kind::string:
        string(v.get_string());
        return;
      default:
        sr_.reset(&v);
        drain();
    }
  }

  template <class Int>
  void integer(Int n) {
    const fmt::format_int text(n);
    line_.append(text.data(), text.size());
  }

 private:
  void drain() {
    char chunk[4096];
    while (!sr_.done()) line_.append(sr_.read(chunk, sizeof chunk));
  }

  std::string& line_;
  json::serializer sr_;
};

}  // namespace

std::string result_line(const finished_task& t, std::size_t attempts) {
  // Written straight as text, value by value: building the row as a json::object first and
  // serializing that cost twice as much, a noticeable part of an HTTP request.
  const input_item& in = *t.input;
  std::string line;
  line.reserve(192 + in.text.size());
  row_text out(line);
  line.append(R"({"key":)").append(in.key_text);
  if (!in.key_b64.empty()) line.append(R"(,"key_b64":")").append(in.key_b64).push_back('"');
  line.append(R"(,"occurrence":)");
  out.integer(in.occurrence);
  if (in.row) {
    line.append(R"(,"input":)").append(in.text);  // the row, serialized already
  } else if (!in.args.empty()) {
    line.append(R"(,"input":)").append(in.key_text);  // the arguments, as the key has them
    if (!in.key_b64.empty()) line.append(R"(,"input_b64":")").append(in.key_b64).push_back('"');
  } else {
    out.bytes("input", in.text);
  }
  for (const auto& [name, value] : t.columns) {
    line.push_back(',');
    out.string(name);
    line.push_back(':');
    out.value(value);
  }
  line.append(R"(,"started_at":")").append(utc_text(t.started_at)).append(R"(","duration_ms":)");
  // Milliseconds with three decimals ("34.712"), to the microsecond, rounded.
  const auto us =
      std::max<std::int64_t>(0, std::chrono::round<std::chrono::microseconds>(t.duration).count());
  out.integer(us / 1000);
  char decimals[] = ".000";
  put_digits(decimals + 1, static_cast<long>(us % 1000), 3);
  line.append(decimals, 4);
  line.append(R"(,"attempts":)");
  out.integer(attempts);
  line.push_back('}');
  return line;
}

json::object reused_row(const input_item& in, const json::object& from) {
  json::object row = input_columns(in, from.size());
  // The input's own identity and input columns, the rest from the row it reuses.
  for (const auto& [name, value] : from)
    if (!row.contains(name) && name != "key_b64" && name != "input_b64") row[name] = value;
  return row;
}

std::string_view joblog_header() noexcept {
  return "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";
}

std::string joblog_line(const finished_task& t) {
  const double start = std::chrono::duration<double>(t.started_at.time_since_epoch()).count();
  const double runtime = std::chrono::duration<double>(t.duration).count();
  // (GNU parallel's widths. A newline or tab in a --shell script would break the line's
  // columns: written \n and \t.)
  std::string command;
  for (char c : t.command)
    c == '\n' ? command += "\\n" : c == '\t' ? command += "\\t" : command += c;
  return fmt::format("{}\t:\t{:.3f}\t{:10.3f}\t0\t{}\t{}\t{}\t{}\n", t.input->seq, start, runtime,
                     t.received, t.exitval, t.signal, command);
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) {
    if (!line.empty()) line += ' ';
    const bool plain = !a.empty() && a.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                         "OPQRSTUVWXYZ0123456789_-./=:,+@%") == std::string::npos;
    const bool control = std::any_of(a.begin(), a.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (plain) {
      line += a;
    } else if (!control) {
      line += shell_quote(a);
    } else {
      // A newline or other control character: bash's $'...' form, so that one command stays
      // on one line (the job log, --dry-run).
      line += "$'";
      for (char c : a) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\\' || c == '\'')
          line.append(1, '\\').append(1, c);
        else if (c == '\n')
          line += "\\n";
        else if (c == '\t')
          line += "\\t";
        else if (c == '\r')
          line += "\\r";
        else if (u < 0x20 || u == 0x7f)
          line += fmt::format("\\x{:02x}", u);
        else
          line += c;
      }
      line += '\'';
    }
  }
  return line;
}

}  // namespace sluice::cli
