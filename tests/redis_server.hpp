// A throwaway redis-server (Debian's) for one test: its own temporary directory, a free
// loopback port, an append-only file fsynced on every write (a restart loses nothing), and
// its process in the test's hands (pause with SIGSTOP, kill -9, restart on the same port).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::test {

class redis_server {
 public:
  /// Starts it; `args` go to redis-server (e.g. {"--requirepass", "s3cret"}). With `tls`, it
  /// serves TLS only, with a certificate for "localhost" signed by a CA of its own (ca()).
  explicit redis_server(std::vector<std::string> args = {}, bool tls = false)
      : args_(std::move(args)) {
    char tmpl[] = "/tmp/sluice-redis-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    port_ = free_port();
    if (tls) {
      // A CA, and the server's certificate for DNS:localhost (not 127.0.0.1) signed by it.
      const std::string d = dir_;
      const std::string script =
          "cd " + d +
          " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca "
          "-keyout ca.key -out ca.pem 2>/dev/null"
          " && openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
          "-out server.csr 2>/dev/null"
          " && printf 'subjectAltName=DNS:localhost' > ext.cnf"
          " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
          "-days 2 -extfile ext.cnf -out server.pem 2>/dev/null";
      if (std::system(script.c_str()) != 0) throw std::runtime_error("openssl failed");
      const std::vector<std::string> t{"--tls-port",
                                       std::to_string(port_),
                                       "--port",
                                       "0",
                                       "--tls-cert-file",
                                       d + "/server.pem",
                                       "--tls-key-file",
                                       d + "/server.key",
                                       "--tls-ca-cert-file",
                                       d + "/ca.pem",
                                       "--tls-auth-clients",
                                       "no"};
      args_.insert(args_.end(), t.begin(), t.end());
    }
    start();
  }
  /// The CA that signed a TLS server's certificate (PEM).
  [[nodiscard]] std::string ca() const { return dir_ + "/ca.pem"; }
  ~redis_server() {
    kill(SIGKILL);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }
  /// Ends it with `sig` and reaps it.
  void kill(int sig = SIGKILL) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  /// Starts it again on the same port, with the same data.
  void start() {
    std::vector<std::string> argv{"redis-server",
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--dir",
                                  dir_,
                                  "--save",
                                  "",
                                  "--appendonly",
                                  "yes",
                                  "--appendfsync",
                                  "always",
                                  "--daemonize",
                                  "no",
                                  "--logfile",
                                  dir_ + "/log",
                                  "--protected-mode",
                                  "no"};
    argv.insert(argv.end(), args_.begin(), args_.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      // It dies with the test (a crashed test leaves no server behind), and holds none of the
      // test's streams (CTest waits for them to close).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int null = ::open("/dev/null", O_RDWR);
      for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      ::execvp("redis-server", a.data());
      std::_Exit(127);
    }
    // Setup, not timing logic: wait until it accepts connections.
    for (int i = 0; i < 400; ++i) {
      if (accepts()) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) +
                             " (see " + dir_ + "/log)");
  }

 private:
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }
  [[nodiscard]] bool accepts() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  std::vector<std::string> args_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sluice::test
