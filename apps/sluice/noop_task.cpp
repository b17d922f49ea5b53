#include "noop_task.hpp"

#include "task_report.hpp"

namespace sluice::cli {

boost::asio::awaitable<finished_task> noop_task::attempt(std::shared_ptr<const input_item> in,
                                                         std::size_t) {
  task_report r;
  r.exit_code = 0;
  r.started_at = std::chrono::system_clock::now();
  co_return finished(std::move(in), std::move(r));
}

std::string noop_task::describe(const input_item& in) const {
  return "(noop) " + command_line({in.text});
}

}  // namespace sluice::cli
