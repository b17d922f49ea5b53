// sluice enqueue, sluice worker and sluice queue status: a work queue on Redis (the library's
// redis_queue) for workers on many machines. enqueue adds each input once by its identity
// (its key and occurrence, as a results file records it); each worker runs the inputs it
// takes as sluice run would, writes each row to its own results file, syncs it, and only then
// acknowledges the entry; a dead worker's entries are claimed by the others.
#pragma once

#include "http_task.hpp"
#include "run_config.hpp"

#include <CLI/App.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::cli {

struct queue_flags {
  std::string redis, queue;
  // enqueue
  std::string input = "-", key;
  bool jsonl = false, lines = false;
  // worker
  std::string claim_after = "5m", consumer;
  std::uint64_t max_deliveries = 5;
  bool follow = false;
  bool http = false;  // --http: sluice http's requests instead of a command
};

void add_enqueue_flags(CLI::App& app, queue_flags& f);
/// The worker's own flags (its run flags, --redis among them, are add_run_flags').
void add_worker_flags(CLI::App& app, queue_flags& f);
void add_status_flags(CLI::App& app, queue_flags& f);

int enqueue_inputs(const queue_flags& f);
int queue_status(const queue_flags& f);
/// Runs the queue's inputs with `c`'s command and limits until the queue is drained (or for
/// ever, --follow). `c.redis` is the queue's server.
/// With `http`, each input is an HTTP request (sluice http's) instead of a command.
int run_worker(run_config c, const queue_flags& f, std::optional<http_config> http = {});

}  // namespace sluice::cli
