#include "lab/lab_relay.hpp"

#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "directory/directory.hpp"
#include "lab/lab_smsc.hpp"
#include "net/http_server.hpp"

namespace mobix {

struct LabRelay::Runner {
  boost::asio::io_context io{1};
  std::unique_ptr<smpp::LabSmsc> smsc;
  std::unique_ptr<HttpServer> web;
  std::thread thread;
  ~Runner() {
    if (smsc) smsc->stop();
    if (web) web->stop();
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

LabRelay start_lab_relay(const Config& cfg, Directory& dir,
                         const std::map<std::string, std::string>& extra_accounts) {
  LabRelay lab;
  lab.runner = std::make_shared<LabRelay::Runner>();
  auto& r = *lab.runner;
  smpp::SmscConfig sc;
  sc.listen = cfg.relay->smpp.smsc;
  sc.accounts[cfg.relay->smpp.system_id] = cfg.relay->smpp.password;
  if (cfg.gateway && cfg.gateway->smpp)
    sc.accounts[cfg.gateway->smpp->system_id] = cfg.gateway->smpp->password;
  if (cfg.css) sc.accounts[cfg.css->wakeup_smsc.system_id] = cfg.css->wakeup_smsc.password;
  for (const auto& [id, password] : extra_accounts) sc.accounts[id] = password;
  r.smsc = std::make_unique<smpp::LabSmsc>(r.io, sc);
  r.smsc->start();
  lab.smsc = r.smsc->local_endpoint();

  // The demo mobile server: what a camera or a phone running a web server would answer.
  r.web =
      std::make_unique<HttpServer>(r.io, Endpoint{kLabCamIp, 0}, [](const HttpRequest& req, HttpReply reply) {
        reply(HttpResponse{200, "text/plain",
                           "hello from the mobile server " + std::string(kLabCamHostname) +
                               " (you asked for " + req.path + ")\n"});
      });
  r.web->start();
  lab.mobile_server = r.web->local_endpoint();
  lab.hostname = kLabCamHostname;
  lab.msisdn = kLabCamMsisdn;

  auto cam = dir.find(IdentityKind::msisdn, kLabCamMsisdn);
  Subscriber s = cam.value_or(Subscriber{});
  if (!cam) {
    s.msisdn = kLabCamMsisdn;
    s.username = "cam";
    s.password = "cam-lab-password";
    s.framed_ip = kLabCamIp;  // the demo service listens there before the device attaches
  }
  s.hostname = kLabCamHostname;
  s.attrs["relay.http_port"] = std::to_string(lab.mobile_server.port);
  if (cam)
    dir.update(s);
  else
    dir.add(s);
  r.thread = std::thread([&io = r.io] {
    auto guard = boost::asio::make_work_guard(io);
    io.run();
  });
  spdlog::info("lab: SMSC stand-in on {}, demo mobile server {} on {}", lab.smsc.str(), kLabCamHostname,
               lab.mobile_server.str());
  return lab;
}

}  // namespace mobix
