// Seed 002 latency driver: for each roaming terminal, Access-Request + Accounting-Start at the
// visited network (as its NAS would), then polls both DNS servers until the home network answers
// the host name with the visited address and the visited network answers the reverse name; then
// Accounting-Stop and polls until both are gone. Prints p50/p99 of attach -> resolvable at both
// and stop -> gone at both, in milliseconds.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <CLI/CLI.hpp>

#include "codec/radius/radius.hpp"
#include "core/net.hpp"
#include "sim/radius_client.hpp"

using namespace mobix;
using Clock = std::chrono::steady_clock;

namespace {

// A minimal DNS client for the driver (the server under test uses ldns): one question, RD off.
class DnsProbe {
 public:
  explicit DnsProbe(const Endpoint& server) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(server.port);
    inet_pton(AF_INET, server.host.c_str(), &sa.sin_addr);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  ~DnsProbe() { ::close(fd_); }
  /// RCODE and ANCOUNT of the answer, or {-1, 0} on timeout.
  std::pair<int, int> ask(const std::string& name, std::uint16_t type) {
    std::vector<std::uint8_t> q{
        static_cast<std::uint8_t>(id_ >> 8), static_cast<std::uint8_t>(id_), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    std::size_t start = 0;
    while (start < name.size()) {
      auto dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      q.push_back(static_cast<std::uint8_t>(dot - start));
      q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
      start = dot + 1;
    }
    q.insert(q.end(), {0, static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1});
    ::send(fd_, q.data(), q.size(), 0);
    std::uint8_t buf[1500];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) return {-1, 0};
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n >= 12 && buf[0] == q[0] && buf[1] == q[1]) {
        ++id_;
        return {buf[3] & 0x0f, (buf[6] << 8) | buf[7]};
      }
    }
  }

 private:
  int fd_;
  std::uint16_t id_ = 1;
};

std::string reverse(const std::string& ip) {
  unsigned a, b, c, d;
  std::sscanf(ip.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d);
  return std::to_string(d) + "." + std::to_string(c) + "." + std::to_string(b) + "." + std::to_string(a) +
         ".in-addr.arpa";
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0
                   : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"roaming attach -> DNS latency driver"};
  std::string auth, acct, home_dns, visited_dns, secret, user_fmt = "u{}@home.test",
                                                         host_fmt = "u{}.home.test", password = "pw";
  int count = 200;
  app.add_option("--auth", auth)->required();
  app.add_option("--acct", acct)->required();
  app.add_option("--home-dns", home_dns)->required();
  app.add_option("--visited-dns", visited_dns)->required();
  app.add_option("--secret", secret)->required();
  app.add_option("--count", count);
  app.add_option("--user", user_fmt, "User-Name pattern, {} = index");
  app.add_option("--host", host_fmt, "host name pattern, {} = index");
  app.add_option("--password", password);
  CLI11_PARSE(app, argc, argv);
  auto fmt_i = [](std::string f, int i) { return f.replace(f.find("{}"), 2, std::to_string(i)); };

  sim::RadiusClient a(*parse_endpoint(auth), secret, 2000, 1), c(*parse_endpoint(acct), secret, 2000, 1);
  DnsProbe home(*parse_endpoint(home_dns)), visited(*parse_endpoint(visited_dns));
  std::vector<double> attach_ms, visible_ms, gone_ms;
  for (int i = 0; i < count; ++i) {
    auto user = fmt_i(user_fmt, i), host = fmt_i(host_fmt, i);
    radius::Packet req;
    req.add_text(radius::attr::user_name, user);
    req.add_text(radius::attr::calling_station_id, std::to_string(31650000000ll + i));
    auto t0 = Clock::now();
    auto accept = a.access(req, password);
    if (!accept || accept->code != radius::Code::access_accept)
      throw std::runtime_error("attach refused: " + user);
    auto ip = accept->ipv4(radius::attr::framed_ip_address).value_or("");
    radius::Packet start;
    start.code = radius::Code::accounting_request;
    start.add_integer(radius::attr::acct_status_type, 1);
    start.add_text(radius::attr::acct_session_id, "R" + std::to_string(i));
    start.add_text(radius::attr::user_name, user);
    start.add_ipv4(radius::attr::framed_ip_address, ip);
    if (auto cls = accept->text(radius::attr::class_)) start.add_text(radius::attr::class_, *cls);
    if (!c.accounting(start)) throw std::runtime_error("no Accounting-Response");
    auto t1 = Clock::now();
    while (home.ask(host, 1).second == 0 || visited.ask(reverse(ip), 12).second == 0) {
      if (Clock::now() - t0 > std::chrono::seconds(5)) throw std::runtime_error("never resolvable: " + host);
    }
    auto t2 = Clock::now();
    attach_ms.push_back(ms(t1 - t0));
    visible_ms.push_back(ms(t2 - t0));
    radius::Packet stop = start;
    stop.attributes[0].value = {0, 0, 0, 2};
    auto t3 = Clock::now();
    if (!c.accounting(stop)) throw std::runtime_error("no Accounting-Response to Stop");
    while (home.ask(host, 1).first != 3 || visited.ask(reverse(ip), 12).first != 3) {
      if (Clock::now() - t3 > std::chrono::seconds(5)) throw std::runtime_error("never removed: " + host);
    }
    gone_ms.push_back(ms(Clock::now() - t3));
  }
  std::printf(
      "attach(RADIUS) p50 %.2f p99 %.2f ms; attach->resolvable at both p50 %.2f p99 %.2f ms; "
      "stop->gone at both p50 %.2f p99 %.2f ms (n=%d)\n",
      pct(attach_ms, 0.5), pct(attach_ms, 0.99), pct(visible_ms, 0.5), pct(visible_ms, 0.99),
      pct(gone_ms, 0.5), pct(gone_ms, 0.99), count);
}
