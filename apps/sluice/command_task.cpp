#include "command_task.hpp"

#include "flags.hpp"
#include "noop_task.hpp"
#include "pipeline.hpp"
#include "task_report.hpp"

#include <sluice/process.hpp>

namespace sluice::cli {

namespace {

multi_args multi_of(const run_config& c) {
  return c.context_replace ? multi_args::context : multi_args::words;
}

}  // namespace

command_task::command_task(const run_config& c) : c_(c), tmpl_(c.command, true, multi_of(c)) {
  if (!c.shell && c.command[0].find('{') == std::string::npos) {
    try {
      find_program(c.command[0]);
    } catch (const process_start_error& e) {
      throw usage_error(e.what());
    }
  }
}

void command_task::inputs_are_lines() {
  tmpl_ = command_template(c_.command, false, multi_of(c_));  // names an unknown placeholder
}

std::vector<std::string> command_task::argv_for(const input_item& it, std::size_t slot) const {
  auto argv = tmpl_.expand(it.as_task_input(), it.seq, slot, c_.shell);
  if (!c_.shell) return argv;
  std::string script;
  for (const auto& a : argv) {
    if (!script.empty()) script += ' ';
    script += a;
  }
  return {"/bin/sh", "-c", std::move(script)};
}

std::string command_task::describe(const input_item& in) const {
  auto argv = argv_for(in, 1);
  return c_.shell ? argv[2] : command_line(argv);  // (--shell: the script, as given to sh)
}

boost::asio::awaitable<finished_task> command_task::attempt(std::shared_ptr<const input_item> in,
                                                            std::size_t slot) {
  command_run run;
  run.input = in;
  run.argv = argv_for(*in, slot);
  run.started_at = std::chrono::system_clock::now();
  process_options o;
  o.stdout_limit = c_.output.empty() ? std::size_t(1) << 40 : c_.output_cap;
  o.stderr_limit = o.stdout_limit;
  o.timeout = c_.timeout;
  o.grace = std::chrono::seconds(1);
  try {
    run.result = co_await run_process(run.argv, o);
  } catch (const process_start_error& e) {
    run.result.exit_code = e.exit_code();
    run.result.err = std::string(e.what()) + "\n";
    run.start_error = true;
  }
  // The job log's Command: with --shell, the script as given to sh (as GNU parallel's).
  std::string script = c_.shell ? run.argv[2] : std::string();
  const bool retryable = !run.start_error;
  std::string what = run.result.ok() ? std::string() : failure_message(run);
  const bool ok = run.result.ok();
  finished_task t = finished(std::move(in), task_report::from_run(std::move(run)));
  if (c_.shell) t.command = std::move(script);
  if (ok) co_return t;
  t.retryable = retryable;
  throw task_failed(std::move(what), std::move(t));
}

int run_command(const run_config& c) {
  if (c.noop) {
    noop_task kind;
    return run_tasks(c, kind);
  }
  command_task kind(c);
  return run_tasks(c, kind);
}

}  // namespace sluice::cli
