#include "lab/lab_boxes.hpp"

#include <ctime>
#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "cb/box_agent.hpp"
#include "cb/line_radio.hpp"
#include "pki/pki.hpp"
#include "provisioning/factory.hpp"
#include "provisioning/registry.hpp"

namespace mobix {

namespace fs = std::filesystem;

struct LabBoxes::Runner {
  boost::asio::io_context io;
  boost::asio::thread_pool blocking{2};
  std::unique_ptr<cb::LineRadio> radio;
  std::vector<std::unique_ptr<cb::BoxAgent>> agents;
  std::thread thread;
  ~Runner() {
    for (auto& a : agents) boost::asio::post(io, [p = a.get()] { p->stop(); });
    boost::asio::post(io, [p = radio.get()] { p->stop(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let them log out
    io.stop();
    if (thread.joinable()) thread.join();
    blocking.join();
  }
};

namespace {

struct DemoBox {
  const char* serial;
  const char* cb_name;
  const char* name;
  const char* line;
  const char* contact_name;
  const char* contact_friendly;
};
const DemoBox kDemoBoxes[] = {
    {"LAB-CB-0001", "dana00000001", "Dana Demo", "31699100001", "eli00000002", "Eli"},
    {"LAB-CB-0002", "eli00000002", "Eli Example", "31699100002", "dana00000001", "Dana"},
};

/// Phase I for the demo boxes, once: the factory, then the call center.
void mint_and_register(const std::string& boxes_dir, const CssConfig& css, Store& store) {
  pki::Signer signer(css.ca_dir);
  auto ca = pki::CertificateAuthority::open(css.ca_dir);
  MintRequest req;
  req.config_realm = css.config_realm;
  req.box_port = static_cast<std::uint16_t>(css.box_port);
  req.css_name = "css.lab.mobix.test";
  req.config_wait = 10;
  req.retry = 3;
  BoxRegistry registry(store);
  std::vector<pki::CertificateAuthority::Recorded> recorded;
  for (const auto& d : kDemoBoxes) {
    auto box = mint_box(store, signer, req, d.serial, boxes_dir + "/" + d.serial);
    recorded.push_back({box.cert_serial, d.serial, box.dir + "/serial.crt"});
    Registration r{d.serial, d.cb_name,      "",         d.line,
                   d.name,   "1 Lab Street", "lab-demo", {{d.contact_name, d.contact_friendly}}};
    registry.register_box(r, static_cast<std::int64_t>(std::time(nullptr)));
  }
  ca.record(recorded);
  spdlog::info("lab: minted and registered {} demo boxes", std::size(kDemoBoxes));
}

}  // namespace

LabBoxes start_lab_boxes(const std::string& dir, const Config& cfg, Store& store, const Endpoint& auth,
                         const Endpoint& acct, const std::string& secret, const Endpoint& smsc,
                         const std::string& smsc_password) {
  LabBoxes lab;
  auto boxes_dir = dir + "/boxes";
  if (!fs::exists(boxes_dir + "/" + kDemoBoxes[0].serial)) mint_and_register(boxes_dir, *cfg.css, store);
  lab.runner = std::make_shared<LabBoxes::Runner>();
  auto& r = *lab.runner;
  BoxRegistry registry(store);
  r.radio = std::make_unique<cb::LineRadio>(r.io, smsc, kLabBoxesSmscAccount, smsc_password);
  for (const auto& d : kDemoBoxes) {
    cb::BoxWorld world;
    world.nas_auth = auth;
    world.nas_acct = acct;
    world.nas_secret = secret;
    world.line = d.line;
    auto state_dir = boxes_dir + "/" + d.serial;
    r.agents.push_back(std::make_unique<cb::BoxAgent>(r.io, r.blocking, *r.radio, state_dir, world));
    auto rec = registry.find(d.serial);
    lab.boxes.push_back(LabBox{d.serial, rec ? rec->cb_id : "", d.cb_name, state_dir, d.line});
  }
  for (auto& a : r.agents) boost::asio::co_spawn(r.io, a->run(), boost::asio::detached);
  r.thread = std::thread([&io = r.io] {
    auto guard = boost::asio::make_work_guard(io);
    io.run();
  });
  return lab;
}

}  // namespace mobix
