#include "lab/lab_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace mobix::lab {

pid_t spawn_serve(const std::string& config, const std::string& log, const Endpoint& admin,
                  const std::string& what) {
  char self[4096];
  auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw std::runtime_error("cannot find the mobix binary");
  self[n] = 0;
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // it ends with the lab, even on kill -9
    if (auto* out = std::fopen(log.c_str(), "a")) {
      ::dup2(fileno(out), 1);
      ::dup2(fileno(out), 2);
    }
    ::execl(self, self, "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready when the admin listener accepts (it starts after every other listener). Up to 30 s: a
  // sanitized build on a loaded machine took more than 10 s to start one node.
  boost::asio::io_context io;
  for (int i = 0; i < 1200; ++i) {
    boost::asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address(admin.host), admin.port}, ec);
    if (!ec) return pid;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) throw std::runtime_error(what + " exited; see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::kill(pid, SIGKILL);
  throw std::runtime_error(what + " did not start; see " + log);
}

pid_t spawn_program(const std::vector<std::string>& argv, const std::string& log,
                    const std::vector<std::string>& env) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the lab, even after kill -9
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

void stop_serve(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  pid = -1;
}

}  // namespace mobix::lab
