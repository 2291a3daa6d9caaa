// `mobix sim mip`: a device's Mobile IP mobile node (RFC 5944 3.6) towards the Home Agent, as the
// per-device proxy of seed 003 registers it: register, keep the binding alive, move to a new care-of
// address (claim 5), deregister. Prints one JSON line per exchange. Exit 0 when every exchange was
// accepted, 3 when the Home Agent refused one, 1 when it did not answer.
#include <chrono>
#include <fstream>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/hex.hpp"
#include "core/net.hpp"
#include "mobile_node/mobile_node.hpp"

namespace mobix::cli {

namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;

struct MipOptions {
  std::string ha = "127.0.0.1:434", ha_address, home, care_of, move_to, key_file;
  std::uint32_t spi = 256;
  std::uint16_t lifetime = 1800;
  unsigned keep = 0, move_after = 0, timeout_ms = 1000, attempts = 4;
  std::int64_t clock_skew = 0;
  bool deregister_at_end = false;
};

std::uint32_t address(const std::string& what, const std::string& v) {
  auto a = mip::ipv4_from_string(v);
  if (!a) throw std::runtime_error(what + " must be an IPv4 address, not \"" + v + "\"");
  return *a;
}

std::vector<std::uint8_t> read_key(const std::string& file) {
  std::ifstream in(file);
  std::string hex;
  if (!in || !std::getline(in, hex)) throw std::runtime_error("cannot read the Mobile IP key from " + file);
  auto key = decode_hex(hex);
  if (!key) throw std::runtime_error("the Mobile IP key in " + file + " is not hex");
  return *key;
}

struct Report {
  int worst = 0;  // 0 accepted, 3 refused, 1 no answer
  void print(const char* event, const mip::Exchange& e, const mip::MobileNode& node) {
    nlohmann::json j{{"event", event},
                     {"result", mip::to_string(e.result)},
                     {"attempts", e.attempts},
                     {"clock_offset", node.clock_offset()}};
    if (e.result != mip::Exchange::Result::timed_out) {
      j["code"] = static_cast<int>(e.reply.code);
      j["reason"] = mip::to_string(e.reply.code);
      j["lifetime"] = e.reply.lifetime;
    }
    std::cout << j.dump() << std::endl;
    int rc = e.result != mip::Exchange::Result::replied ? 1 : (mip::accepted(e.reply.code) ? 0 : 3);
    if (rc == 1 || worst == 0) worst = std::max(worst, rc);
  }
};

asio::awaitable<void> sleep_for(std::chrono::seconds s) {
  asio::steady_timer t(co_await asio::this_coro::executor, s);
  co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<void> run(const MipOptions& o, mip::RegistrationClient& client, Report& report) {
  auto ep = parse_endpoint(o.ha);
  if (!ep) throw std::runtime_error("--ha must be host:port");
  mip::MobileNode::Settings s;
  s.home_agent_endpoint = udp::endpoint(asio::ip::make_address(ep->host), ep->port);
  s.home_agent = address("--ha-address", o.ha_address.empty() ? ep->host : o.ha_address);
  s.home_address = address("--home", o.home);
  s.sa = {o.spi, read_key(o.key_file)};
  s.lifetime = o.lifetime;
  s.retransmit = {std::chrono::milliseconds(o.timeout_ms), o.attempts};
  auto skew = o.clock_skew;
  mip::MobileNode node(client, s, [skew] { return static_cast<std::int64_t>(std::time(nullptr)) + skew; });
  auto care_of = address("--care-of", o.care_of);
  auto e = co_await node.register_from(care_of, o.lifetime);
  report.print(o.lifetime == 0 ? "deregistered" : "registered", e, node);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
  };
  bool moved = o.move_to.empty();
  while (report.worst == 0 && elapsed().count() < o.keep) {
    auto next = mip::MobileNode::renew_after(e.reply.lifetime);
    if (!moved) next = std::min(next, std::chrono::seconds(o.move_after) - elapsed());
    next = std::min(next, std::chrono::seconds(o.keep) - elapsed());
    if (next.count() > 0) co_await sleep_for(next);
    if (elapsed().count() >= o.keep) break;
    const char* event = "renewed";
    if (!moved && elapsed().count() >= o.move_after) {
      care_of = address("--move-to", o.move_to), moved = true, event = "moved";
    }
    e = co_await node.register_from(care_of, o.lifetime);
    report.print(event, e, node);
  }
  if (o.deregister_at_end && report.worst == 0)
    report.print("deregistered", co_await node.deregister(), node);
  client.close();
}

}  // namespace

void add_sim_mip(CLI::App* sim, int& exit_code) {
  auto o = std::make_shared<MipOptions>();
  auto* m =
      sim->add_subcommand("mip", "Play a device's Mobile IP mobile node towards the Home Agent (RFC 5944)");
  m->add_option("--ha", o->ha, "the Home Agent's host:port (UDP)");
  m->add_option("--ha-address", o->ha_address,
                "the Home Agent address to put in requests (default: --ha's host)");
  m->add_option("--home", o->home, "the device's home address")->required();
  m->add_option("--care-of", o->care_of, "the care-of address (the home address itself deregisters)")
      ->required();
  m->add_option("--spi", o->spi, "the security association's SPI (256 or more)");
  m->add_option("--key-file", o->key_file, "file whose first line is the Mobile IP key in hex")->required();
  m->add_option("--lifetime", o->lifetime, "seconds asked for (0 deregisters)");
  m->add_option("--keep", o->keep, "seconds to keep the binding alive, re-registering before it expires");
  m->add_option("--move-to", o->move_to, "with --keep: a new care-of address (the device moved)");
  m->add_option("--move-after", o->move_after, "seconds after the first registration to move");
  m->add_flag("--deregister", o->deregister_at_end, "deregister at the end");
  m->add_option("--clock-skew", o->clock_skew, "seconds added to this clock (to show resynchronisation)");
  m->add_option("--timeout-ms", o->timeout_ms, "first retransmission timeout (doubles each time)");
  m->add_option("--attempts", o->attempts, "transmissions per request");
  m->callback(guarded("sim mip", exit_code, [o, &exit_code] {
    asio::io_context io;
    mip::RegistrationClient client(io);
    Report report;
    asio::co_spawn(io, run(*o, client, report), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io.run();
    exit_code = report.worst;
  }));
}

}  // namespace mobix::cli
