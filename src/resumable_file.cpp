#include "sluice/resumable_file.hpp"

#include "line_file.hpp"
#include "sluice/detail/key_scan.hpp"
#include "sluice/errors.hpp"

namespace sluice {

namespace {

using row_fn = std::function<void(std::string_view, const boost::json::object&, std::size_t)>;

// Every row of an existing file to on_row; under raise a bad row throws here, before the
// file is changed.
detail::scan_result scan_rows(const std::filesystem::path& path, std::string_view key_name,
                              std::span<const std::string_view> fields, const keyed_row_fn& on_row,
                              const resume_options& opts) {
  if (!std::filesystem::exists(path)) return {};
  return detail::scan_keys(
      path, key_name, on_row,
      [&](const jsonl_error& e) { detail::bad_input(opts.errors, opts.report, e); }, fields);
}

keyed_row_fn with_object(const row_fn& on_row) {
  return [&on_row](const keyed_row& r) {
    on_row(r.key, detail::parse_row(r.line).as_object(), r.number);
  };
}

}  // namespace

void read_keyed_jsonl_file(const std::filesystem::path& path, std::string_view key_name,
                           const row_fn& on_row, const resume_options& opts) {
  scan_rows(path, key_name, {}, with_object(on_row), opts);
}

void read_keyed_jsonl_file(const std::filesystem::path& path, std::string_view key_name,
                           std::span<const std::string_view> fields, const keyed_row_fn& on_row,
                           const resume_options& opts) {
  scan_rows(path, key_name, fields, on_row, opts);
}

std::unique_ptr<jsonl_writer> resume_jsonl_file(const std::filesystem::path& path,
                                                std::string_view key_name,
                                                std::span<const std::string_view> fields,
                                                const keyed_row_fn& on_row,
                                                const resume_options& opts) {
  // Locked before it is read: a second run on the file stops here, before it reads or writes.
  file_lock lock = file_lock::exclusive(path);
  const auto scan = scan_rows(path, key_name, fields, on_row, opts);
  return detail::open_for_append(path, scan, opts.sync, opts.report, std::move(lock));
}

std::unique_ptr<jsonl_writer> resume_jsonl_file(const std::filesystem::path& path,
                                                std::string_view key_name, const row_fn& on_row,
                                                const resume_options& opts) {
  return resume_jsonl_file(path, key_name, {}, with_object(on_row), opts);
}

}  // namespace sluice
