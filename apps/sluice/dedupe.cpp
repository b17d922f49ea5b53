#include "dedupe.hpp"

#include "task_report.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/string.hpp>

namespace sluice::cli {

namespace asio = boost::asio;
namespace json = boost::json;

class dedupe::filter final : public stream<item_ptr>::impl {
 public:
  filter(dedupe& d, stream<item_ptr> inner) : d_(d), inner_(std::move(inner)) {}

  asio::awaitable<std::optional<item_ptr>> next() override {
    for (;;) {
      while (d_.held_.size() >= d_.max_held_ && !cancelled_) {
        d_.room_->expires_at(asio::steady_timer::time_point::max());
        co_await d_.room_->async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (cancelled_) throw boost::system::system_error(asio::error::operation_aborted);
      auto it = co_await inner_.next();
      if (!it) co_return std::nullopt;
      auto [pos, first] = d_.rows_.try_emplace((*it)->key_text);
      if (first) {
        ++d_.passed_;
        co_return it;
      }
      d_.held_.push_back({std::move(*it), d_.passed_});
      d_.flush();
    }
  }
  // A next() waiting for room or for the inner stream ends with operation_aborted.
  void cancel() noexcept override {
    cancelled_ = true;
    d_.room_->cancel();
    inner_.cancel();
  }
  asio::awaitable<void> close() override { co_await inner_.close(); }

 private:
  dedupe& d_;
  stream<item_ptr> inner_;
  bool cancelled_ = false;
};

dedupe::dedupe(jsonl_writer& out, bool keep_order, std::size_t max_held)
    : out_(out), keep_order_(keep_order), max_held_(std::max<std::size_t>(1, max_held)) {}

void dedupe::known(std::string key_text, json::object row) {
  rows_.insert_or_assign(std::move(key_text), std::move(row));
}

stream<dedupe::item_ptr> dedupe::first_of_each_key(stream<item_ptr> inputs,
                                                   asio::any_io_executor ex) {
  room_.emplace(std::move(ex));
  return stream<item_ptr>(std::make_shared<filter>(*this, std::move(inputs)));
}

void dedupe::ran(const input_item& in, const json::object& row) {
  ++ran_;
  rows_.insert_or_assign(in.key_text, json::object(row, json::storage_ptr()));
  flush();
}

void dedupe::flush() {
  bool wrote = false;
  while (!held_.empty()) {
    const held& h = held_.front();
    const auto& row = rows_.at(h.in->key_text);
    if (!row || (keep_order_ && ran_ < h.ran_before)) break;
    out_.write(json::value(reused_row(*h.in, *row)));  // moved in, not copied
    ++reused_;
    if (!row_ok(*row)) ++reused_failed_;
    held_.pop_front();
    wrote = true;
  }
  if (wrote && room_) room_->cancel();
}

}  // namespace sluice::cli
