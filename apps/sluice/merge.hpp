// sluice merge: the results files of several workers (or runs) as one, with one row per task
// (its key and occurrence): the last successful attempt, or if none succeeded the last one.
// After any number of worker deaths, every task of the queue is in it exactly once.
#pragma once

#include <string>
#include <vector>

namespace sluice::cli {

/// Writes `output` (whole, then renamed into place) from `parts`, in their order; prints what
/// it kept and dropped on stderr. Throws jsonl_error for a bad row (naming file and line).
int merge_results(const std::vector<std::string>& parts, const std::string& output);

}  // namespace sluice::cli
