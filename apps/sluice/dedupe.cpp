#include "dedupe.hpp"

#include "task_report.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

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
      auto [pos, first] = d_.rows_.try_emplace((*it)->key_identity());
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

dedupe::dedupe(jsonl_writer& out, const std::string& path, bool keep_order, std::size_t max_held)
    : out_(out),
      path_(path),
      keep_order_(keep_order),
      max_held_(std::max<std::size_t>(1, max_held)) {
  read_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (read_fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot read " + path);
}

dedupe::~dedupe() {
  ::close(read_fd_);
}

void dedupe::known(fingerprint key, row_ref row) {
  rows_.insert_or_assign(key, row);
}

stream<dedupe::item_ptr> dedupe::first_of_each_key(stream<item_ptr> inputs,
                                                   asio::any_io_executor ex) {
  room_.emplace(std::move(ex));
  return stream<item_ptr>(std::make_shared<filter>(*this, std::move(inputs)));
}

void dedupe::ran(const input_item& in, row_ref row) {
  ++ran_;
  rows_.insert_or_assign(in.key_identity(), row);
  flush();
}

void dedupe::flush() {
  bool wrote = false;
  while (!held_.empty()) {
    const held& h = held_.front();
    const auto& row = rows_.at(h.in->key_identity());
    if (!row || (keep_order_ && ran_ < h.ran_before)) break;
    // The key's row, read back from the results file (it is whole there: written before).
    std::string text(row->length, '\0');
    std::size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::pread(read_fd_, text.data() + got, text.size() - got,
                                static_cast<off_t>(row->offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw std::system_error(n < 0 ? errno : EIO, std::generic_category(),
                                "cannot read back a row of " + path_);
      got += static_cast<std::size_t>(n);
    }
    out_.write(json::value(reused_row(*h.in, json::parse(text).as_object())));
    ++reused_;
    if (!row->ok) ++reused_failed_;
    held_.pop_front();
    wrote = true;
  }
  if (wrote && room_) room_->cancel();
}

}  // namespace sluice::cli
