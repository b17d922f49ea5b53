// `sluice run`'s task kind: the command, its placeholders substituted, run as a child process
// (argv, or sh -c with --shell) with its output captured.
#pragma once

#include "placeholders.hpp"
#include "run_config.hpp"
#include "task_kind.hpp"

namespace sluice::cli {

class command_task final : public task_kind {
 public:
  /// Checks the template (fields allowed until the input is known) and that the program
  /// exists; throws usage_error or template_error.
  explicit command_task(const run_config& c);

  std::vector<std::string> fields() const override { return tmpl_.fields(); }
  const command_template* command() const override { return &tmpl_; }
  void inputs_are_lines() override;
  boost::asio::awaitable<finished_task> attempt(std::shared_ptr<const input_item> in,
                                                std::size_t slot) override;
  std::string describe(const input_item& in) const override;

 private:
  std::vector<std::string> argv_for(const input_item& it, std::size_t slot) const;

  const run_config& c_;
  command_template tmpl_;
};

/// `sluice run`: runs `c` (see pipeline.hpp for what is thrown) and returns the exit code.
int run_command(const run_config& c);

}  // namespace sluice::cli
