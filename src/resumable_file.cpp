#include "sluice/resumable_file.hpp"

#include "line_file.hpp"
#include "sluice/detail/key_scan.hpp"
#include "sluice/errors.hpp"

namespace sluice {

std::unique_ptr<jsonl_writer> resume_jsonl_file(
    const std::filesystem::path& path, std::string_view key_name,
    const std::function<void(std::string_view, const boost::json::object&, std::size_t)>& on_row,
    const resume_options& opts) {
  detail::scan_result scan;
  if (std::filesystem::exists(path)) {
    // Under raise a bad row throws here, before the file is changed.
    scan = detail::scan_keys(
        path, key_name,
        [&](const detail::keyed_row& r) {
          on_row(r.key, detail::parse_row(r.line).as_object(), r.number);
        },
        [&](const jsonl_error& e) { detail::bad_input(opts.errors, opts.report, e); });
  }
  return detail::open_for_append(path, scan, opts.sync, opts.report);
}

}  // namespace sluice
