// The JSON Lines reader, the key scan (with fields) and the torn-line repair of resume, on any
// bytes. Invariants: no crash or sanitizer report; the reader and the scan agree on the rows;
// after resume_jsonl_file repaired the file, a second scan finds no torn line and the same rows,
// and the file ends with a '\n' when it has rows.
#include "fuzz_support.hpp"

#include <sluice/errors.hpp>
#include <sluice/jsonl_reader.hpp>
#include <sluice/resumable_file.hpp>

#include <fstream>
#include <sstream>

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::memory_file file(fuzz::as_text(data, size));
  const resume_options quiet{.errors = on_error::print, .report = [](std::string_view) {}};

  std::size_t read_rows = 0;
  jsonl_reader in(file.path(), {on_error::print, [](std::string_view) {}});
  while (in.next() != nullptr) ++read_rows;

  static constexpr std::string_view fields[] = {"occurrence", "key_b64", "status"};
  std::size_t keyed = 0;
  read_keyed_jsonl_file(
      file.path(), "key", fields,
      [&](const keyed_row& r) {
        fuzz::check(r.fields.size() == 3, "a field per name asked");
        fuzz::check(!r.key.empty(), "a key text");
        ++keyed;
      },
      quiet);
  fuzz::check(keyed <= read_rows, "every keyed row is a row the reader reads");

  std::size_t resumed = 0;
  try {
    auto out = resume_jsonl_file(
        file.path(), "key", fields, [&](const keyed_row&) { ++resumed; }, quiet);
    out->close();
  } catch (const jsonl_error&) {
    return 0;  // a torn line that could not be cut (not expected on a memory file)
  }
  fuzz::check(resumed == keyed, "resume passes the rows the read-only scan passes");
  std::size_t again = 0;
  bool torn_reported = false;
  const resume_options watch{.errors = on_error::print, .report = [&](std::string_view m) {
                               if (m.find("torn") != std::string_view::npos) torn_reported = true;
                             }};
  auto out = resume_jsonl_file(
      file.path(), "key", fields, [&](const keyed_row&) { ++again; }, watch);
  out->close();
  fuzz::check(!torn_reported, "a repaired file has no torn line");
  fuzz::check(again == resumed, "a repaired file has the same rows");
  std::ifstream f(file.path(), std::ios::binary);
  std::stringstream text;
  text << f.rdbuf();
  const std::string s = text.str();
  fuzz::check(again == 0 || s.back() == '\n', "a repaired file with rows ends with a newline");
  return 0;
}
