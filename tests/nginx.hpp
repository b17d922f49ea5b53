// The nginx the HTTP tests share: scripts/nginx.sh, run by CTest as the `nginx` fixture
// (tests/CMakeLists.txt), serves on a free loopback port and writes its base URL to
// SLUICE_NGINX_DIR/url. What it serves is listed at the top of that script.
#pragma once

#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace sluice::test {

/// The fixture nginx's base URL, "http://127.0.0.1:PORT".
inline std::string nginx_url(const std::string& path = {}) {
  std::ifstream in(SLUICE_NGINX_DIR "/url");
  std::string base;
  if (!(in >> base))
    throw std::runtime_error("no " SLUICE_NGINX_DIR
                             "/url: nginx is started by CTest's nginx fixture (run the tests "
                             "through ctest)");
  return base + path;
}

/// nginx's answer to /conn, "CONNECTION REQUESTS", split: its connection number and how many
/// requests that connection has carried so far.
inline std::pair<std::string, int> connection_and_count(const std::string& body) {
  const auto space = body.find(' ');
  return {body.substr(0, space), std::stoi(body.substr(space + 1))};
}

}  // namespace sluice::test
