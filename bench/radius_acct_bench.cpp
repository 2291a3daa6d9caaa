// Accounting load generator: sends Accounting-Requests (Start, Interim-Update, Stop cycles
// over N sessions) with a window of requests in flight, and counts answered requests per
// second. With --inprocess it also hosts the mobix access role itself and measures
// SessionTable::find_by_ip latency from another thread while the load runs.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "access/session_table.hpp"
#include "codec/radius/radius.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "node/config_sections.hpp"
#include "node/node.hpp"

using namespace mobix;
using Clock = std::chrono::steady_clock;

namespace {

std::string ip_of(std::uint32_t i) {
  std::uint32_t v = (10u << 24) | (1u << 16) | i;  // 10.1.0.0/16 + i
  in_addr a{htonl(v)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

/// The load's shape (issue 12 item 9):
///   cycle       all Start, then all Interim-Update, then all Stop over the sessions, repeat
///   takeover    a NAS restarting without Accounting-On: every request a Start with a new
///               Acct-Session-Id for an address that is in use, which takes it over
///   one_msisdn  every request a Start with a new Acct-Session-Id and the same Calling-Station-Id:
///               tens of thousands of sessions for one MSISDN, then takeovers among them
enum class Pattern { cycle, takeover, one_msisdn };

struct Slice {
  std::uint32_t first = 0;  ///< this client's first session (clients never share an address)
  std::uint32_t count = 1;
  unsigned client = 0;
};

std::vector<std::uint8_t> request(Pattern pattern, std::uint64_t j, const Slice& slice, std::uint8_t id,
                                  const std::string& secret) {
  std::uint32_t s = slice.first + static_cast<std::uint32_t>(j % slice.count);
  auto phase = pattern == Pattern::cycle ? (j / slice.count) % 3 : 0;
  radius::Packet p;
  p.code = radius::Code::accounting_request;
  p.identifier = id;
  static const radius::AcctStatus kind[] = {radius::AcctStatus::start, radius::AcctStatus::interim_update,
                                            radius::AcctStatus::stop};
  p.add_integer(radius::attr::acct_status_type, static_cast<std::uint32_t>(kind[phase]));
  auto sid = pattern == Pattern::cycle
                 ? "b" + std::to_string(s) + "-" + std::to_string(j / (3ull * slice.count))
                 : "t" + std::to_string(slice.client) + "-" + std::to_string(j);
  p.add_text(radius::attr::acct_session_id, sid);
  p.add_ipv4(radius::attr::framed_ip_address, ip_of(s));
  p.add_text(radius::attr::calling_station_id,
             pattern == Pattern::one_msisdn ? "31699999999" : std::to_string(31600000000ull + s));
  p.add_text(radius::attr::called_station_id, "internet");
  p.add_text(radius::attr::nas_identifier, "bench-nas");
  return radius::encode_accounting_request(p, secret);
}

struct LoadResult {
  std::uint64_t answered = 0;
  double seconds = 0;
};

// One UDP socket, `window` requests in flight keyed by Identifier (at most 256).
LoadResult run_load(const Endpoint& target, const std::string& secret, Pattern pattern, const Slice& slice,
                    unsigned window, double seconds) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(target.port);
  inet_pton(AF_INET, target.host.c_str(), &sa.sin_addr);
  ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  window = std::min(window, 256u);
  std::vector<Clock::time_point> sent_at(256);
  std::vector<std::vector<std::uint8_t>> pending(256);
  std::vector<std::uint8_t> free_ids;
  for (unsigned i = 0; i < window; ++i) free_ids.push_back(static_cast<std::uint8_t>(i));
  std::uint64_t j = 0, answered = 0;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  std::uint8_t in[4096];
  while (Clock::now() < end) {
    while (!free_ids.empty()) {
      auto id = free_ids.back();
      free_ids.pop_back();
      pending[id] = request(pattern, j++, slice, id, secret);
      sent_at[id] = Clock::now();
      ::send(fd, pending[id].data(), pending[id].size(), 0);
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) {
      // Retransmit anything outstanding for more than a second (UDP may drop under load).
      auto now = Clock::now();
      for (unsigned id = 0; id < window; ++id)
        if (!pending[id].empty() && now - sent_at[id] > std::chrono::seconds(1)) {
          sent_at[id] = now;
          ::send(fd, pending[id].data(), pending[id].size(), 0);
        }
      continue;
    }
    while (true) {
      auto n = ::recv(fd, in, sizeof in, MSG_DONTWAIT);
      if (n < 20) break;
      auto id = in[1];
      if (pending[id].empty()) continue;
      pending[id].clear();
      free_ids.push_back(id);
      ++answered;
    }
  }
  ::close(fd);
  return {answered, std::chrono::duration<double>(Clock::now() - start).count()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RADIUS accounting load generator"};
  std::string target, secret = "bench-secret-123", store_dir;
  std::uint32_t sessions = 20000;
  unsigned window = 128, clients = 2;
  double seconds = 10;
  bool inprocess = false;
  std::string pattern_name = "cycle";
  std::uint32_t max_pending = 50000;
  std::uint32_t first = 0;
  app.add_option("--target", target, "host:port of an accounting server to load (not with --inprocess)");
  app.add_option("--secret", secret);
  app.add_option("--sessions", sessions);
  app.add_option("--window", window, "requests in flight per client socket (<= 256)");
  app.add_option("--clients", clients, "client sockets (threads)");
  app.add_option("--seconds", seconds);
  app.add_flag("--inprocess", inprocess, "host the mobix access role in this process and measure lookups");
  app.add_option("--store-dir", store_dir, "where the in-process store lives (default: a temp dir)");
  app.add_option("--pattern", pattern_name, "cycle, takeover or one_msisdn")
      ->check(CLI::IsMember({"cycle", "takeover", "one_msisdn"}));
  app.add_option("--first", first,
                 "number of the first session (another generator's range starts elsewhere)");
  app.add_option("--max-pending-writes", max_pending,
                 "access.radius.max_pending_writes of the in-process node");
  CLI11_PARSE(app, argc, argv);
  init_logging(LogFormat::text, "warn");

  std::unique_ptr<Node> node;
  std::thread node_thread;
  Endpoint ep;
  if (inprocess) {
    if (store_dir.empty()) {
      char tmpl[] = "/tmp/mobix-bench-XXXXXX";
      store_dir = mkdtemp(tmpl);
    }
    auto cfg = parse_config(std::string(R"(store: {path: bench.db}
admin: {listen: "127.0.0.1:0", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:0
    acct_listen: 127.0.0.1:0
    max_pending_writes: )") + std::to_string(max_pending) +
                                "\n    clients: [{name: bench, address: 127.0.0.0/8, secret: " + secret +
                                "}]\n",
                            store_dir + "/mobix.yaml");
    node = std::make_unique<Node>(std::move(cfg));
    node->start();
    ep = node->listeners().at("access.radius_acct").endpoint;
    node_thread = std::thread([&] { node->run(); });
  } else {
    auto p = parse_endpoint(target);
    if (!p) {
      std::fprintf(stderr, "give --target host:port or --inprocess\n");
      return 2;
    }
    ep = *p;
  }

  std::atomic<bool> done{false};
  std::vector<double> lookup_us;
  std::thread lookups;
  if (node) {
    lookups = std::thread([&] {
      std::mt19937 rng(42);
      auto* table = node->sessions();
      while (!done.load()) {
        auto ip = ip_of(rng() % sessions);
        auto t0 = Clock::now();
        auto s = table->find_by_ip(ip);
        auto t1 = Clock::now();
        (void)s;
        lookup_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
  }

  const auto pattern = pattern_name == "takeover"     ? Pattern::takeover
                       : pattern_name == "one_msisdn" ? Pattern::one_msisdn
                                                      : Pattern::cycle;
  std::vector<LoadResult> results(clients);
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      // Each client works on its own slice of sessions so they never take over each other's IPs.
      Slice slice{first + c * (sessions / clients), std::max(1u, sessions / clients), c};
      results[c] = run_load(ep, secret, pattern, slice, window, seconds);
    });
  for (auto& t : threads) t.join();
  done = true;
  if (lookups.joinable()) lookups.join();

  std::uint64_t answered = 0;
  double secs = 0;
  for (auto& r : results) {
    answered += r.answered;
    secs = std::max(secs, r.seconds);
  }
  std::printf("accounting_requests_per_second %.0f\n", answered / secs);
  if (node) {
    auto& m = metrics();
    std::printf(
        "dropped_overloaded %llu\nsessions_at_end %zu\n",
        static_cast<unsigned long long>(
            m.counter("mobix_radius_dropped_total", "", "listener=\"acct\",reason=\"overloaded\"").value()),
        node->sessions()->size());
  }
  if (!lookup_us.empty()) {
    std::sort(lookup_us.begin(), lookup_us.end());
    auto pct = [&](double q) { return lookup_us[static_cast<std::size_t>(q * (lookup_us.size() - 1))]; };
    std::printf("lookup_samples %zu\nlookup_p50_us %.2f\nlookup_p99_us %.2f\nlookup_max_us %.2f\n",
                lookup_us.size(), pct(0.5), pct(0.99), lookup_us.back());
  }
  if (node) {
    node->request_stop();
    node_thread.join();
    std::filesystem::remove_all(store_dir);
  }
  return 0;
}
