// The JSON Lines workloads of sluice_bench (resume_scan, append), kept apart from the runner
// workloads.
#pragma once

#include <cstddef>
#include <string>

/// Runs workload `wl` (resume_scan or append); returns the exit code, or -1 if `wl` is not one
/// of these.
int run_storage_workload(const std::string& wl, std::size_t n, std::size_t arg,
                         const std::string& variant);
