// `mobix factory`: what the box factory does (seed 004, parameters 190): a key pair and a
// serial-number certificate per box from the root CA, the configuration log-in, and the
// valid-serial database (183) updated in the same step. Also the CSS's own certificate, and
// revocation of a serial (the valid-serial database and the CRL).
#include <ctime>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cb/box_flash.hpp"
#include "commands.hpp"
#include "node/config_sections.hpp"
#include "pki/pki.hpp"
#include "provisioning/factory.hpp"
#include "store/store.hpp"

namespace mobix::cli {
namespace {

namespace fs = std::filesystem;

struct FactoryOptions {
  std::string config, out, ca, cn, ip, prefix, css_name = "css";
  std::vector<std::string> serials;
  std::uint32_t count = 0, config_wait = 30, retry = 10, days = 3650;
};

void mint(const FactoryOptions& o) {
  auto cfg = load_config(o.config);
  if (!cfg.css)
    throw std::invalid_argument(o.config + " has no css section (the root CA and the configuration realm)");
  std::vector<std::string> serials = o.serials;
  for (std::uint32_t i = 1; i <= o.count; ++i) serials.push_back(fmt::format("{}{:06d}", o.prefix, i));
  if (serials.empty()) throw std::invalid_argument("give --serial or --count");
  for (const auto& s : serials)
    if (!valid_serial_number(s))
      throw std::invalid_argument("serial \"" + s + "\": 1-64 letters, digits, '-', '_' or '.'");
  bool batch = serials.size() > 1 || o.count > 0;
  auto store = Store::open(cfg.store, cfg.store.migrate == StoreMigrate::automatic);
  pki::Signer signer(cfg.css->ca_dir);
  auto ca = pki::CertificateAuthority::open(cfg.css->ca_dir);
  MintRequest req;
  req.config_realm = cfg.css->config_realm;
  req.box_port = static_cast<std::uint16_t>(cfg.css->box_port);
  req.css_name = o.css_name;
  req.config_wait = o.config_wait;
  req.retry = o.retry;
  req.days = static_cast<int>(o.days);
  std::vector<pki::CertificateAuthority::Recorded> recorded;
  for (const auto& serial : serials) {
    auto box = mint_box(*store, signer, req, serial, batch ? (fs::path(o.out) / serial).string() : o.out);
    recorded.push_back({box.cert_serial, serial, box.dir + "/serial.crt"});
    std::cout << "minted " << serial << " -> " << box.dir << " (certificate " << box.cert_serial << ")\n";
  }
  ca.record(recorded);
}

void revoke(const FactoryOptions& o) {
  auto cfg = load_config(o.config);
  if (!cfg.css) throw std::invalid_argument(o.config + " has no css section");
  auto store = Store::open(cfg.store, cfg.store.migrate == StoreMigrate::automatic);
  for (const auto& serial : o.serials) {
    auto valid = store->find_valid_serial(serial);
    if (!valid) throw std::invalid_argument("serial " + serial + " was never minted");
    store->revoke_serial(serial, static_cast<std::int64_t>(std::time(nullptr)));
    auto ca = pki::CertificateAuthority::open(cfg.css->ca_dir);
    try {
      ca.revoke(valid->cert_serial);
    } catch (const std::invalid_argument&) {
      // minted elsewhere: the database refusal stands; the CRL cannot list it
    }
    std::cout << "revoked " << serial << " (certificate " << valid->cert_serial << "); CRL: " << ca.crl_path()
              << "\n";
  }
}

void css_cert(const FactoryOptions& o) {
  pki::Signer signer(o.ca);
  auto keys = pki::generate_key_pair();
  auto cert = signer.sign(keys.public_pem, pki::Signer::Subject{o.cn, "css", true, true, 397});
  if (fs::path(o.out).has_parent_path()) fs::create_directories(fs::path(o.out).parent_path());
  cb::write_file_atomic(o.out + ".key", keys.private_pem, 0600);
  cb::write_file_atomic(o.out + ".crt", cert.pem);
  pki::CertificateAuthority::open(o.ca).record({{cert.serial, o.cn, o.out + ".crt"}});
  std::cout << "serial " << cert.serial << "\n" << o.out << ".crt\n" << o.out << ".key\n";
}

}  // namespace

void add_factory(CLI::App& app, int& exit_code) {
  auto* f = app.add_subcommand("factory", "Connectivity boxes at the factory (seed 004 parameters 190)");
  f->require_subcommand(1);
  auto o = std::make_shared<FactoryOptions>();
  auto wrap = [&exit_code](std::function<void()> fn) { return guarded("factory", exit_code, std::move(fn)); };
  auto* m = f->add_subcommand("mint", "Make boxes: keys, serial-number certificates, log-ins, valid serials");
  m->add_option("--config", o->config, "the CSS node's config (store, css.ca_dir, css.config_realm)")
      ->required();
  m->add_option("--serial", o->serials, "serial number(s) (comma-separated or repeated)")->delimiter(',');
  m->add_option("--count", o->count, "a production run: this many serials PREFIX000001...");
  m->add_option("--prefix", o->prefix, "with --count: the serials' prefix");
  m->add_option("--out", o->out, "the box's flash directory (a batch: one directory per serial in it)")
      ->required();
  m->add_option("--css-name", o->css_name, "the configuration manager's certificate name the boxes accept");
  m->add_option("--config-wait", o->config_wait, "seconds a box waits for its download once logged in");
  m->add_option("--retry", o->retry, "seconds between a box's configuration attempts");
  m->add_option("--days", o->days, "validity of the serial-number certificates");
  m->callback(wrap([o] { mint(*o); }));
  auto* r = f->add_subcommand("revoke", "Revoke serial numbers (valid-serial database and CRL)");
  r->add_option("--config", o->config)->required();
  r->add_option("--serial", o->serials)->required()->delimiter(',');
  r->callback(wrap([o] { revoke(*o); }));
  auto* c = f->add_subcommand("css-cert", "Issue the CSS's certificate (OU css) from the root CA");
  c->add_option("--ca", o->ca, "the root CA directory")->required();
  c->add_option("--cn", o->cn, "its name (boxes check it: parameters 190 css_name)")->required();
  c->add_option("--out", o->out, "output prefix: PREFIX.crt and PREFIX.key")->required();
  c->callback(wrap([o] { css_cert(*o); }));
}

}  // namespace mobix::cli
