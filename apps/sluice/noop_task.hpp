// `sluice run --noop`'s task kind: no command. Each task succeeds at once with empty output
// and writes its row, so that a run measures the pipeline alone (inputs, resume, limits, the
// results file) without a fork per task, or marks inputs done.
#pragma once

#include "task_kind.hpp"

namespace sluice::cli {

class noop_task final : public task_kind {
 public:
  std::vector<std::string> fields() const override { return {}; }
  void inputs_are_lines() override {}
  boost::asio::awaitable<finished_task> attempt(std::shared_ptr<const input_item> in,
                                                std::size_t slot) override;
  std::string describe(const input_item& in) const override;
};

}  // namespace sluice::cli
