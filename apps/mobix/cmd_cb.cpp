// `mobix cb run`: connectivity boxes (seed 004), each with its own flash directory. One process can
// run many boxes (a fleet for tests and benchmarks); each box behaves as it would alone.
#include <csignal>
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include "cb/box_agent.hpp"
#include "cb/line_radio.hpp"
#include "commands.hpp"
#include "lab_file.hpp"

namespace mobix::cli {
namespace {

struct CbOptions {
  std::vector<std::string> states, lines;
  std::string lab_dir, nas = "127.0.0.1:1812", nas_acct = "127.0.0.1:1813", nas_secret_file,
                       smsc = "127.0.0.1:2775", smsc_account;
};

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string s;
  std::getline(in, s);
  return s;
}

/// The NAS the boxes log in through, and the SMSC their lines' wake-ups come from.
struct Surroundings {
  cb::BoxWorld world;
  Endpoint smsc;
  std::string smsc_system_id, smsc_password;
};

Surroundings world_of(const CbOptions& o) {
  Surroundings s;
  auto& w = s.world;
  if (!o.lab_dir.empty()) {
    auto lab = read_lab(o.lab_dir);
    w.nas_auth = lab_endpoint(lab, "access.radius_auth");
    w.nas_acct = lab_endpoint(lab, "access.radius_acct");
    w.nas_secret = lab.at("radius_secret").get<std::string>();
    s.smsc = lab_endpoint(lab, "lab.smsc");
    s.smsc_system_id = lab.at("boxes_smsc_account").at("system_id").get<std::string>();
    s.smsc_password = lab.at("boxes_smsc_account").at("password").get<std::string>();
    return s;
  }
  auto parse = [](const std::string& s, const char* what) {
    auto ep = parse_endpoint(s);
    if (!ep) throw std::invalid_argument(std::string(what) + " must be host:port");
    return *ep;
  };
  w.nas_auth = parse(o.nas, "--nas");
  w.nas_acct = parse(o.nas_acct, "--nas-acct");
  if (o.nas_secret_file.empty()) throw std::invalid_argument("give --lab or --nas-secret-file");
  w.nas_secret = first_line(o.nas_secret_file);
  s.smsc = parse(o.smsc, "--smsc");
  auto colon = o.smsc_account.find(':');
  if (colon == std::string::npos) throw std::invalid_argument("--smsc-account takes SYSTEM_ID:PASSWORD");
  s.smsc_system_id = o.smsc_account.substr(0, colon);
  s.smsc_password = o.smsc_account.substr(colon + 1);
  return s;
}

void run(const CbOptions& o) {
  if (!o.lines.empty() && o.lines.size() != o.states.size())
    throw std::invalid_argument("give one --line per --state, or none (each DIR/line is read)");
  auto surroundings = world_of(o);
  const auto& world = surroundings.world;
  boost::asio::io_context io;
  boost::asio::thread_pool blocking(4);
  cb::LineRadio radio(io, surroundings.smsc, surroundings.smsc_system_id, surroundings.smsc_password);
  std::vector<std::unique_ptr<cb::BoxAgent>> boxes;
  for (std::size_t i = 0; i < o.states.size(); ++i) {
    auto w = world;
    if (!o.lines.empty()) {
      w.line = o.lines[i];
      std::ofstream(o.states[i] + "/line") << w.line << "\n";  // the line it is plugged into
    } else {
      w.line = cb::BoxFlash(o.states[i]).line();
    }
    boxes.push_back(std::make_unique<cb::BoxAgent>(io, blocking, radio, o.states[i], w));
  }
  for (auto& b : boxes) boost::asio::co_spawn(io, b->run(), boost::asio::detached);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    for (auto& b : boxes) b->stop();
    radio.stop();
    io.stop();
  });
  io.run();
  blocking.join();
}

}  // namespace

void add_cb(CLI::App& app, int& exit_code) {
  auto* cb = app.add_subcommand("cb", "Connectivity boxes (seed 004), the device side");
  cb->require_subcommand(1);
  auto o = std::make_shared<CbOptions>();
  auto* r =
      cb->add_subcommand("run", "Power up boxes: configure (Phase II) when needed, then answer wake-ups");
  r->add_option("--state", o->states, "a box's flash directory (`mobix factory mint`); repeatable")
      ->required();
  r->add_option("--line", o->lines, "the phone line each box is plugged into (default: DIR/line)");
  r->add_option("--lab", o->lab_dir, "a lab directory: its NAS, secret and SMSC (lab.json)");
  r->add_option("--nas", o->nas, "the NAS's RADIUS authentication server (host:port)");
  r->add_option("--nas-acct", o->nas_acct, "the NAS's RADIUS accounting server (host:port)");
  r->add_option("--nas-secret-file", o->nas_secret_file, "the NAS's RADIUS shared secret");
  r->add_option("--smsc", o->smsc, "where the line's wake-up SMS arrive (SMPP, host:port)");
  r->add_option("--smsc-account", o->smsc_account, "SYSTEM_ID:PASSWORD of the receiver bind");
  r->callback(guarded("cb", exit_code, [o] { run(*o); }));
}

}  // namespace mobix::cli
