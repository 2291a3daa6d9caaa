// `mobix smpp`: the lab's SMSC stand-in and an SMPP client for operators and tests
// (seed 001 step D: the access request signal travels as a binary SMS).
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>
#include <boost/algorithm/hex.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "commands.hpp"
#include "core/runtime.hpp"
#include "lab/lab_smsc.hpp"
#include "smpp/esme.hpp"

namespace mobix::cli {

namespace {
struct SmppOptions {
  std::string listen = "127.0.0.1:2775", smsc = "127.0.0.1:2775", system_id, password, password_file, to,
              from = "mobix", hex, text, range, port_file;
  std::vector<std::string> accounts;  // id:password
  std::size_t count = 1;
};

Endpoint endpoint_of(const std::string& s) {
  auto ep = parse_endpoint(s, true);
  if (!ep) throw std::invalid_argument("not host:port: " + s);
  return *ep;
}

std::string password_of(const SmppOptions& o) {
  if (o.password_file.empty()) return o.password;
  std::ifstream in(o.password_file);
  std::string pw;
  if (!in || !std::getline(in, pw)) throw std::runtime_error("cannot read " + o.password_file);
  return pw;
}

// Runs one client coroutine to completion, rethrowing its exception.
void run_client(std::function<boost::asio::awaitable<void>(boost::asio::io_context&)> body) {
  boost::asio::io_context io;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, body(io), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}
}  // namespace

void add_smpp(CLI::App& app, int& exit_code) {
  auto* smpp = app.add_subcommand("smpp", "SMPP 3.4: the lab SMSC stand-in, submit and receive");
  smpp->require_subcommand(1);
  auto o = std::make_shared<SmppOptions>();
  auto wrap = [&exit_code](std::function<void()> f) { return guarded("smpp", exit_code, std::move(f)); };

  auto* smsc = smpp->add_subcommand("smsc", "Run the lab's SMSC stand-in until SIGTERM");
  smsc->add_option("--listen", o->listen, "host:port (port 0: any; see --port-file)");
  smsc->add_option("--account", o->accounts, "system_id:password allowed to bind (repeatable)")->required();
  smsc->add_option("--port-file", o->port_file, "write the bound port here once listening");
  smsc->callback(wrap([o] {
    smpp::SmscConfig cfg;
    cfg.listen = endpoint_of(o->listen);
    for (const auto& a : o->accounts) {
      auto colon = a.find(':');
      if (colon == std::string::npos) throw std::invalid_argument("--account wants system_id:password");
      cfg.accounts[a.substr(0, colon)] = a.substr(colon + 1);
    }
    boost::asio::io_context io{1};
    Runtime runtime(io);
    smpp::LabSmsc server(io, cfg);
    server.start();
    runtime.on_stop([&] { server.stop(); });
    runtime.add_drain_check("smsc", [&] { return server.drained(); });
    spdlog::info("lab smsc (a stand-in for the operator's SMSC) on {}", server.local_endpoint().str());
    if (!o->port_file.empty()) std::ofstream(o->port_file) << server.local_endpoint().port << "\n";
    runtime.run();
  }));

  auto common = [&](CLI::App* c) {
    c->add_option("--smsc", o->smsc, "host:port of the SMSC");
    c->add_option("--system-id", o->system_id, "ESME system_id")->required();
    c->add_option("--password", o->password, "bind password (prefer --password-file)");
    c->add_option("--password-file", o->password_file, "file whose first line is the bind password");
  };
  auto* submit = smpp->add_subcommand("submit", "Bind as a transmitter and submit one short message");
  common(submit);
  submit->add_option("--to", o->to, "destination address (MSISDN)")->required();
  submit->add_option("--from", o->from, "source address");
  submit->add_option("--hex", o->hex, "binary payload in hex (data_coding 0x04)");
  submit->add_option("--text", o->text, "text payload (data_coding 0x00)");
  submit->callback(wrap([o] {
    smpp::ShortMessage m;
    m.source_addr = o->from;
    m.dest_addr_ton = 1;  // international
    m.dest_addr_npi = 1;  // E.164
    m.destination_addr = o->to;
    if (!o->hex.empty()) {
      std::string raw;
      boost::algorithm::unhex(o->hex, std::back_inserter(raw));
      m.data_coding = 0x04;
      m.short_message.assign(raw.begin(), raw.end());
    } else {
      m.short_message.assign(o->text.begin(), o->text.end());
    }
    smpp::EsmeConfig cfg{
        endpoint_of(o->smsc), o->system_id, password_of(*o), "", smpp::BindMode::transmitter, ""};
    run_client([cfg, m](boost::asio::io_context& io) -> boost::asio::awaitable<void> {
      smpp::Esme esme(io.get_executor(), cfg);
      auto bound = co_await esme.bind();
      if (!bound) throw std::runtime_error(bound.error);
      auto sent = co_await esme.submit(m);
      if (!sent) throw std::runtime_error(sent.error);
      std::cout << "submitted message_id=" << sent.message_id << std::endl;
      co_await esme.unbind();
    });
  }));

  auto* receive =
      smpp->add_subcommand("receive", "Bind as a receiver and print each deliver_sm payload in hex");
  common(receive);
  receive->add_option("--address-range", o->range, "destination prefix routed to this receiver");
  receive->add_option("--count", o->count, "exit after this many messages (0: never)");
  receive->callback(wrap([o] {
    smpp::EsmeConfig cfg{endpoint_of(o->smsc),     o->system_id, password_of(*o), "",
                         smpp::BindMode::receiver, o->range};
    auto count = o->count;
    run_client([cfg, count](boost::asio::io_context& io) -> boost::asio::awaitable<void> {
      smpp::Esme esme(io.get_executor(), cfg);
      auto bound = co_await esme.bind();
      if (!bound) throw std::runtime_error(bound.error);
      std::cout << "bound" << std::endl;
      co_await esme.receive(
          [](const smpp::ShortMessage& m) {
            auto payload = m.payload();
            std::string hex;
            boost::algorithm::hex_lower(payload.begin(), payload.end(), std::back_inserter(hex));
            std::cout << "deliver_sm from=" << m.source_addr << " to=" << m.destination_addr
                      << " dcs=" << int(m.data_coding) << " hex=" << hex << std::endl;
          },
          count);
    });
  }));
}

}  // namespace mobix::cli
