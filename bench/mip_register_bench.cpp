// Load generator for the Home Agent (seed 003, RFC 5944): DEVICES mobile nodes (home addresses
// 10.64.0.1 upwards, one SPI and key for all) registering again and again for SECONDS, at most WINDOW
// requests outstanding. Every request carries a fresh timestamp identification; a reply counts when
// it authenticates and accepts. Prints one line: accepted/s, refused, lost, p50/p99 latency in ms.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

#include "codec/mip/mip.hpp"
#include "core/hex.hpp"

using namespace mobix::mip;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"Mobile IP registration load against a Home Agent"};
  std::string ha = "127.0.0.1", key_file;
  int port = 434;
  unsigned devices = 1000, window = 64, seconds = 10, spi = 300;
  app.add_option("--ha", ha);
  app.add_option("--port", port);
  app.add_option("--devices", devices);
  app.add_option("--window", window);
  app.add_option("--seconds", seconds);
  app.add_option("--spi", spi);
  app.add_option("--key-file", key_file)->required();
  CLI11_PARSE(app, argc, argv);
  std::ifstream kf(key_file);
  std::string hex;
  std::getline(kf, hex);
  auto key = mobix::decode_hex(hex);
  if (!key) {
    std::fprintf(stderr, "%s: not a hex key\n", key_file.c_str());
    return 2;
  }
  SecurityAssociation sa{spi, std::move(*key)};
  const auto ha_addr = *ipv4_from_string(ha);
  const auto base = *ipv4_from_string("10.64.0.1");
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(ha_addr);
  connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);

  std::vector<std::uint32_t> counter(devices, 0);
  std::unordered_map<std::uint64_t, Clock::time_point> outstanding;  // (home << 32 | low id) -> sent
  std::vector<double> latencies;
  unsigned next = 0;
  std::uint64_t accepted = 0, refused = 0, lost = 0;
  auto send_one = [&] {
    unsigned d = next++ % devices;
    Request r{0,
              600,
              base + d,
              ha_addr,
              *ipv4_from_string("198.51.100.9"),
              timestamp_identification(std::time(nullptr), ++counter[d])};
    auto bytes = encode_request(r, sa);
    send(fd, bytes.data(), bytes.size(), 0);
    outstanding[static_cast<std::uint64_t>(r.home_address) << 32 |
                static_cast<std::uint32_t>(r.identification)] = Clock::now();
  };
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  for (unsigned i = 0; i < window; ++i) send_one();
  std::uint8_t in[2048];
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) {  // a lost datagram: refill the window
      lost += outstanding.size();
      outstanding.clear();
      for (unsigned i = 0; i < window; ++i) send_one();
      continue;
    }
    auto n = recv(fd, in, sizeof in, 0);
    if (n <= 0) continue;
    auto d = decode_reply(std::span<const std::uint8_t>(in, static_cast<std::size_t>(n)));
    auto* rep = std::get_if<Decoded<Reply>>(&d);
    if (!rep) continue;
    auto it = outstanding.find(static_cast<std::uint64_t>(rep->message.home_address) << 32 |
                               static_cast<std::uint32_t>(rep->message.identification));
    if (it == outstanding.end()) continue;
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
    outstanding.erase(it);
    bool ok =
        rep->mobile_home &&
        verify(std::span<const std::uint8_t>(in, static_cast<std::size_t>(n)), *rep->mobile_home, sa.key) &&
        mobix::mip::accepted(rep->message.code);
    (ok ? accepted : refused)++;
    send_one();
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    return latencies.empty() ? 0.0 : latencies[static_cast<std::size_t>(q * (latencies.size() - 1))];
  };
  std::printf("accepted_per_s=%.0f refused=%llu lost=%llu p50_ms=%.3f p99_ms=%.3f\n", accepted / secs,
              static_cast<unsigned long long>(refused), static_cast<unsigned long long>(lost), pct(0.5),
              pct(0.99));
  return accepted ? 0 : 1;
}
