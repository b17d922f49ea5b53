// sluice: run a command for every input, within limits, with keyed crash-safe resume.
#include "command_task.hpp"
#include "exit_codes.hpp"
#include "flags.hpp"
#include "http_task.hpp"
#include "merge.hpp"
#include "placeholders.hpp"
#include "queue_commands.hpp"

#include <sluice/errors.hpp>
#include <sluice/file_lock.hpp>

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <system_error>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

namespace {

using namespace sluice::cli;

constexpr const char* run_examples = R"(
Examples:
  sluice run -j 8 -- gzip -9 {} ::: *.log
  sluice run -j 16 -r 10 --retries 3 -o results.jsonl -i urls.txt -- curl -fsS {}
  sluice run --jsonl --key id -o out.jsonl -i rows.jsonl -- ./score --id {id} --text {text}
  find . -name '*.png' | sluice run -k -- convert {} {.}.jpg
Rerun the same command after a crash or Ctrl-C: tasks already in -o FILE are not redone.
Exit status: 0 all ok; 1-100 that many tasks failed (100: 100 or more); 101 bad usage;
102 bad input; 103 output not writable; 130 interrupted.)";

constexpr const char* http_examples = R"(
Examples:
  sluice http -j 64 -o pages.jsonl -i urls.txt
  sluice http -j 16 -r 5 --retries 4 --key id -o out.jsonl -i rows.jsonl \
      --url 'https://api.example.com/items/{id}' -H 'Authorization: Bearer {token}'
  sluice http -X POST --body-field payload --url https://api.example.com/score -i rows.jsonl
429 and 5xx are retried with --retries; Retry-After holds every start (at most --max-retry-wait).
A status outside --ok-status (default 100-399) counts as a failure. Exit status as in run.)";

// The message, and the exit code, of an error that stopped sluice itself.
int report(const std::string& message, int code) {
  std::cerr << "sluice: " << message << '\n';
  return code;
}

int run_main(int argc, char** argv) {
  CLI::App app{"sluice: run commands for many inputs, within limits, resumable.", "sluice"};
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  app.require_subcommand(1);
  app.allow_extras();  // what follows run's flags is the command: run->remaining()
  run_flags flags;
  CLI::App* run = app.add_subcommand(
      "run",
      "Run COMMAND once per input (lines or JSON Lines from --input, standard input, or the "
      "arguments after :::), with {} {.} {/} {//} {/.} {#} {%} {field} placeholders");
  add_run_flags(*run, flags);
  add_input_flags(*run, flags);
  add_grouping_flags(*run, flags);
  run->footer(run_examples);
  run_flags http_common;
  http_flags http_only;
  CLI::App* http = app.add_subcommand(
      "http",
      "Send an HTTP request per input (lines or JSON Lines), its URL, headers and body "
      "templated with run's placeholders, over keep-alive connections");
  add_run_flags(*http, http_common, false);
  add_input_flags(*http, http_common);
  add_http_flags(*http, http_only);
  http->footer(http_examples);
  queue_flags enqueue_f;
  CLI::App* enqueue = app.add_subcommand(
      "enqueue", "Add each input to a work queue on Redis, once (by its key and occurrence)");
  add_enqueue_flags(*enqueue, enqueue_f);
  run_flags worker_run;
  worker_run.worker = true;
  queue_flags worker_f;
  CLI::App* worker = app.add_subcommand(
      "worker",
      "Run COMMAND for the inputs of a work queue on Redis, with run's options; each row is "
      "synced to -o FILE before its entry is acknowledged, and a dead worker's entries are "
      "taken over by the others");
  add_run_flags(*worker, worker_run);
  add_worker_flags(*worker, worker_f);
  http_flags worker_http;
  add_http_flags(*worker, worker_http);
  std::vector<std::string> merge_parts;
  std::string merge_out;
  CLI::App* merge = app.add_subcommand(
      "merge", "Merge results files (workers' parts) into one, one row per task");
  merge->add_option("parts", merge_parts, "The results files")->required();
  merge->add_option("-o,--output", merge_out, "The merged file (written whole, then renamed)")
      ->required();
  CLI::App* queue = app.add_subcommand("queue", "Look at a work queue on Redis");
  queue->require_subcommand(1);
  queue_flags status_f;
  CLI::App* status = queue->add_subcommand(
      "status", "Entries undelivered, in flight (per worker), done and dead-lettered");
  add_status_flags(*status, status_f);
  app.footer(
      "Run 'sluice run --help' or 'sluice http --help' for their options. Across machines: "
      "sluice enqueue, sluice worker, sluice merge, sluice queue status (docs/scale-out.md).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report(e.what(), bad_usage);
  }
  try {
    // The command: after the first argument that is not a flag (CLI11 leaves it to run), or
    // after `--` (CLI11 leaves it to the app).
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    if (http->parsed()) {
      auto rest = http->remaining();
      check_unknown_option(*http, rest);
      for (auto& arg : app.remaining()) rest.push_back(std::move(arg));
      run_config c = to_config(http_common, std::move(rest), tty, false);
      http_config h = to_http_config(http_only, c);
      return run_http(std::move(c), std::move(h));
    }
    if (enqueue->parsed()) return enqueue_inputs(enqueue_f);
    if (status->parsed()) return queue_status(status_f);
    if (merge->parsed()) return merge_results(merge_parts, merge_out);
    if (worker->parsed()) {
      auto rest = worker->remaining();
      check_unknown_option(*worker, rest);
      for (auto& arg : app.remaining()) rest.push_back(std::move(arg));
      if (worker_f.http) {
        run_config c = to_config(worker_run, std::move(rest), tty, false);
        http_config h = to_http_config(worker_http, c);
        return run_worker(std::move(c), worker_f, std::move(h));
      }
      return run_worker(to_config(worker_run, std::move(rest), tty), worker_f);
    }
    auto rest = run->remaining();
    check_unknown_option(*run, rest);
    for (auto& arg : app.remaining()) rest.push_back(std::move(arg));
    const run_config c = to_config(flags, std::move(rest), tty);
    return run_command(c);
  } catch (const sluice::cli::usage_error& e) {
    return report(e.what(), bad_usage);
  } catch (const template_error& e) {
    return report(e.what(), bad_usage);
  } catch (const sluice::jsonl_error& e) {
    return report(e.what(), bad_input);
  } catch (const sluice::file_in_use& e) {
    return report(e.what(), output_in_use);
  } catch (const std::system_error& e) {
    return report(e.what(), bad_output);
  } catch (const std::exception& e) {
    return report(e.what(), internal_failure);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int code = run_main(argc, argv);
  // Every file is closed by now. Exit without static destructors: a thread still blocked
  // reading standard input (after Ctrl-C) must not hold the exit up.
  std::fflush(nullptr);
  std::_Exit(code);
}
