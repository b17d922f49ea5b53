// Test support for the storage tests: a temporary directory, whole-file reads and writes,
// and the rows of a JSON Lines file parsed for comparison.
#pragma once

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::test {

namespace json = boost::json;

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    std::string base = std::filesystem::temp_directory_path() / "sluice-test-XXXXXX";
    if (::mkdtemp(base.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = base;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
    return path_ / name;
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Every line of the file parsed; throws (naming the line) if one is not valid JSON.
inline std::vector<json::value> read_rows(const std::filesystem::path& p) {
  std::vector<json::value> rows;
  std::istringstream in(read_file(p));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    json::error_code ec;
    rows.push_back(json::parse(line, ec));
    if (ec) throw std::runtime_error(p.string() + ":" + std::to_string(n) + ": " + ec.message());
  }
  return rows;
}

/// How many rows each value of `key` has (by its JSON text).
inline std::map<std::string, int> count_by(const std::vector<json::value>& rows,
                                           const std::string& key) {
  std::map<std::string, int> n;
  for (const auto& r : rows) ++n[json::serialize(r.at(key))];
  return n;
}

/// JSON Lines text from rows.
inline std::string jsonl(std::initializer_list<json::value> rows) {
  std::string s;
  for (const auto& r : rows) s += json::serialize(r) + "\n";
  return s;
}

}  // namespace sluice::test
