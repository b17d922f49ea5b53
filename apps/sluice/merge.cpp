#include "merge.hpp"

#include "dedupe.hpp"
#include "exit_codes.hpp"
#include "flags.hpp"
#include "inputs.hpp"
#include "task_report.hpp"

#include <sluice/jsonl_writer.hpp>
#include <sluice/resumable_file.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sluice::cli {

namespace {

struct chosen {
  std::uint32_t file = 0;
  std::uint32_t length = 0;
  std::uint64_t offset = 0;
  bool ok = false;
  std::string started_at;  // ISO 8601 UTC: ordered as text
};

}  // namespace

int merge_results(const std::vector<std::string>& parts, const std::string& output) {
  if (parts.empty()) throw usage_error("sluice merge needs the results files to merge");
  for (const auto& p : parts)
    if (std::filesystem::exists(output) && std::filesystem::equivalent(p, output))
      throw usage_error("sluice merge: -o " + output + " is one of the files to merge");
  boost::unordered_flat_map<fingerprint, chosen, key_fingerprint_hash> best;
  std::size_t rows = 0;
  static constexpr std::string_view fields[] = {"key_b64", "occurrence", "ok", "status",
                                                "started_at"};
  for (std::uint32_t i = 0; i < parts.size(); ++i) {
    read_keyed_jsonl_file(parts[i], "key", fields, [&](const keyed_row& r) {
      ++rows;
      const auto id = row_identity(r.key, r.fields[0], r.fields[1]);
      chosen c{i, static_cast<std::uint32_t>(r.line.size()), r.offset,
               row_ok(r.fields[2], r.fields[3]), std::string(unquoted(r.fields[4]))};
      auto [it, fresh] = best.try_emplace(id, c);
      if (fresh) return;
      // A success beats a failure; between two of a kind, the later start (then the later row).
      chosen& b = it->second;
      if (c.ok != b.ok ? c.ok : c.started_at >= b.started_at) b = std::move(c);
    });
  }
  std::vector<const chosen*> order;
  order.reserve(best.size());
  for (const auto& [id, c] : best) order.push_back(&c);
  std::sort(order.begin(), order.end(), [](const chosen* a, const chosen* b) {
    return a->file != b->file ? a->file < b->file : a->offset < b->offset;
  });
  const std::string tmp = output + ".merging";
  std::size_t failed = 0;
  {
    std::filesystem::remove(tmp);
    jsonl_writer out(tmp, fsync_policy{.every_rows = 0, .every = {}, .at_close = true});
    std::ifstream in;
    std::uint32_t open_file = UINT32_MAX;
    std::string row;
    for (const chosen* c : order) {
      if (c->file != open_file) {
        in = std::ifstream(parts[c->file], std::ios::binary);
        if (!in)
          throw std::system_error(errno, std::generic_category(), "cannot open " + parts[c->file]);
        open_file = c->file;
      }
      row.resize(c->length);
      in.seekg(static_cast<std::streamoff>(c->offset));
      in.read(row.data(), c->length);
      if (!in)
        throw std::system_error(EIO, std::generic_category(), "cannot read " + parts[c->file]);
      out.write_line(row);
      if (!c->ok) ++failed;
    }
    out.close();
  }
  std::filesystem::rename(tmp, output);
  std::fputs(fmt::format("sluice: merged {} rows from {} files into {}: {} tasks ({} failed), {} "
                         "duplicates dropped\n",
                         rows, parts.size(), output, best.size(), failed, rows - best.size())
                 .c_str(),
             stderr);
  return all_ok;
}

}  // namespace sluice::cli
