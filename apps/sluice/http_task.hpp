// `sluice http`'s task kind: an HTTP request per input, its URL, headers and body templated
// like run's command, sent by sluice::http::client over a keep-alive pool per host.
#pragma once

#include "pipeline.hpp"

#include "placeholders.hpp"
#include "run_config.hpp"
#include "task_kind.hpp"

#include <sluice/http_client.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cli {

/// What `sluice http` adds to run's options.
struct http_config {
  std::string url = "{}";  // the template; by default the input is the URL
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value" templates
  std::optional<std::string> body;   // a template
  std::string body_field;            // or a JSON Lines field sent as the JSON body
  std::size_t max_per_host = 0;      // 0: as -j
  double rate_per_host = 0;
  std::vector<std::pair<unsigned, unsigned>> ok_status{{100, 399}};  // inclusive ranges
  std::vector<std::string> keep_headers;  // response headers copied into the row
  bool insecure = false;
  std::string ca_file;
  unsigned max_redirects = 5;
};

class http_task final : public task_kind {
 public:
  /// Checks the templates; throws usage_error or template_error.
  http_task(const run_config& c, http_config h);

  std::vector<std::string> fields() const override;
  void inputs_are_lines() override;
  boost::asio::awaitable<finished_task> attempt(std::shared_ptr<const input_item> in,
                                                std::size_t slot) override;
  std::string describe(const input_item& in) const override;
  bool may_hold() const override { return true; }
  bool takes_starts() const override { return true; }
  void starts_from(limit_set* starts) override { starts_ = starts; }
  void run_over() override { client_.reset(); }

 private:
  struct request_parts {
    std::string url;
    http::header_list headers;
    std::string body;
  };
  request_parts expand(const input_item& in, std::size_t slot) const;
  bool ok_status(unsigned status) const;

  const run_config& c_;
  http_config h_;
  command_template tmpl_;               // url, then each header, then the body
  std::optional<http::client> client_;  // made on the run's executor at the first request
  limit_set* starts_ = nullptr;         // the run's limits on starts, taken at send time
};

/// Makes the run's input_source, given what the templates read from each input (sluice
/// worker: its queue).
using source_maker =
    std::function<std::unique_ptr<input_source>(const std::vector<std::string>& fields)>;

/// `sluice http`: runs `c` (see pipeline.hpp for what is thrown) and returns the exit code;
/// with `source`, on its inputs.
int run_http(const run_config& c, http_config h, const source_maker& source = {});

/// "200-299,404" as inclusive ranges; throws usage_error.
std::vector<std::pair<unsigned, unsigned>> parse_status_list(const std::string& text);

}  // namespace sluice::cli
