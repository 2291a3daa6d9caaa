// `mobix signal`: seal and open access request signals (seed 001 step D) by hand — for operators
// checking keys, and for tests that carry a signal over SMPP or e-mail.
#include <ctime>
#include <fstream>
#include <iostream>

#include <openssl/rand.h>
#include <boost/algorithm/hex.hpp>
#include <nlohmann/json.hpp>

#include "codec/signal/signal.hpp"
#include "commands.hpp"

namespace mobix::cli {

namespace {
struct SignalOptions {
  std::string key_file, relay_ip, msisdn, protocol = "tcp", hex;
  int key_id = 1, ttl = 60, callback_port = 0, target_port = 0;
  std::uint64_t tunnel_id = 0;
};

// A key file holds 64 hex digits (32 octets); generate one with `openssl rand -hex 32`.
signal::Key read_key(const std::string& path) {
  std::ifstream in(path);
  std::string hex;
  if (!in || !(in >> hex)) throw std::runtime_error("cannot read the key file " + path);
  auto key = signal::key_from_hex(hex);
  if (!key) throw std::runtime_error(path + ": want 64 hex digits (32 octets)");
  return *key;
}
}  // namespace

void add_signal(CLI::App& app, int& exit_code) {
  auto* sig = app.add_subcommand("signal", "Seal or open an access request signal (relay -> gateway)");
  sig->require_subcommand(1);
  auto o = std::make_shared<SignalOptions>();
  auto wrap = [&exit_code](std::function<void()> f) { return guarded("signal", exit_code, std::move(f)); };

  auto* seal = sig->add_subcommand("seal", "Print a sealed signal in hex");
  seal->add_option("--key-file", o->key_file, "file with the 32-octet key in hex")->required();
  seal->add_option("--key-id", o->key_id, "key id (0-255)")->check(CLI::Range(0, 255));
  seal->add_option("--relay-ip", o->relay_ip, "the relay's callback address")->required();
  seal->add_option("--callback-port", o->callback_port, "the relay's callback port")->required();
  seal->add_option("--msisdn", o->msisdn, "the mobile server terminal")->required();
  seal->add_option("--target-port", o->target_port, "the service port on the terminal")->required();
  seal->add_option("--protocol", o->protocol, "tcp, http, tls or tls-passthrough")
      ->check(CLI::IsMember({"tcp", "http", "tls", "tls-passthrough"}));
  seal->add_option("--ttl", o->ttl, "seconds until it expires")->check(CLI::Range(1, 3600));
  seal->add_option("--tunnel-id", o->tunnel_id, "default: random");
  seal->callback(wrap([o] {
    signal::AccessRequest r;
    r.tunnel_id = o->tunnel_id;
    if (r.tunnel_id == 0) RAND_bytes(reinterpret_cast<unsigned char*>(&r.tunnel_id), sizeof r.tunnel_id);
    r.expires = static_cast<std::uint32_t>(std::time(nullptr) + o->ttl);
    r.relay_ip = o->relay_ip;
    r.callback_port = static_cast<std::uint16_t>(o->callback_port);
    r.target_port = static_cast<std::uint16_t>(o->target_port);
    r.protocol = o->protocol == "http"              ? signal::Protocol::http
                 : o->protocol == "tls"             ? signal::Protocol::tls
                 : o->protocol == "tls-passthrough" ? signal::Protocol::tls_passthrough
                                                    : signal::Protocol::tcp;
    RAND_bytes(r.one_time_key.data(), static_cast<int>(r.one_time_key.size()));
    r.msisdn = o->msisdn;
    auto sealed = signal::seal(r, static_cast<std::uint8_t>(o->key_id), read_key(o->key_file));
    if (auto* e = std::get_if<signal::Error>(&sealed)) throw std::invalid_argument(signal::to_string(*e));
    const auto& bytes = std::get<std::vector<std::uint8_t>>(sealed);
    std::string hex;
    boost::algorithm::hex_lower(bytes.begin(), bytes.end(), std::back_inserter(hex));
    std::cout << hex << "\n";
  }));

  auto* open = sig->add_subcommand("open", "Verify and decrypt a signal given in hex; print it as JSON");
  open->add_option("--key-file", o->key_file, "file with the 32-octet key in hex")->required();
  open->add_option("--key-id", o->key_id, "key id (0-255)")->check(CLI::Range(0, 255));
  open->add_option("hex", o->hex, "the sealed signal")->required();
  open->callback(wrap([o] {
    std::string raw;
    try {
      boost::algorithm::unhex(o->hex, std::back_inserter(raw));
    } catch (const std::exception&) {
      throw std::invalid_argument("not hex");
    }
    std::vector<std::uint8_t> bytes(raw.begin(), raw.end());
    auto opened = signal::open(bytes, {{static_cast<std::uint8_t>(o->key_id), read_key(o->key_file)}});
    if (auto* e = std::get_if<signal::Error>(&opened)) throw std::runtime_error(signal::to_string(*e));
    const auto& r = std::get<signal::AccessRequest>(opened);
    signal::ReplayGuard guard;
    auto verdict = guard.check(r, static_cast<std::uint32_t>(std::time(nullptr)));
    nlohmann::json j{{"tunnel_id", r.tunnel_id},
                     {"expires", r.expires},
                     {"relay_ip", r.relay_ip},
                     {"callback_port", r.callback_port},
                     {"target_port", r.target_port},
                     {"protocol", r.protocol == signal::Protocol::http              ? "http"
                                  : r.protocol == signal::Protocol::tls             ? "tls"
                                  : r.protocol == signal::Protocol::tls_passthrough ? "tls-passthrough"
                                                                                    : "tcp"},
                     {"msisdn", r.msisdn},
                     {"time", signal::to_string(verdict)}};
    std::cout << j.dump() << "\n";
  }));
}

}  // namespace mobix::cli
