// `mobix pki`: the operator's certificate authority (init, issue, revoke, show, verify).
#include <iostream>

#include "commands.hpp"
#include "pki/pki.hpp"

namespace mobix::cli {

namespace {
struct PkiOptions {
  std::string dir = "pki", cn, out, serial, file, ca, crl, purpose;
  std::vector<std::string> dns, ips;
  bool client = false, server = false;
  int days = 397;
};
std::vector<std::string> split(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    std::size_t pos = 0;
    while (pos <= s.size()) {
      auto c = s.find(',', pos);
      auto part = s.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
      if (!part.empty()) out.push_back(part);
      if (c == std::string::npos) break;
      pos = c + 1;
    }
  }
  return out;
}
}  // namespace

void add_pki(CLI::App& app, int& exit_code) {
  auto* pki = app.add_subcommand("pki", "Certificate authority: init, issue, revoke, show, verify");
  pki->require_subcommand(1);
  auto o = std::make_shared<PkiOptions>();
  auto wrap = [&exit_code](std::function<void()> f) { return guarded("pki", exit_code, std::move(f)); };
  auto* init = pki->add_subcommand("init", "Create a CA");
  init->add_option("--dir", o->dir, "CA directory");
  init->add_option("--cn", o->cn, "CA common name")->required();
  init->add_option("--days", o->days);
  init->callback(wrap([o] {
    auto ca = pki::CertificateAuthority::create(o->dir, o->cn, o->days == 397 ? 3650 : o->days);
    std::cout << "CA created: " << ca.cert_path() << "\n";
  }));
  auto* issue = pki->add_subcommand("issue", "Issue a certificate and key");
  issue->add_option("--dir", o->dir, "CA directory");
  issue->add_option("--cn", o->cn, "common name")->required();
  issue->add_option("--dns", o->dns, "DNS subject alt names (comma-separated or repeated)");
  issue->add_option("--ip", o->ips, "IP subject alt names");
  issue->add_flag("--client", o->client, "clientAuth usage");
  issue->add_flag("--server", o->server, "serverAuth usage (the default when neither is given)");
  issue->add_option("--days", o->days);
  issue->add_option("--out", o->out, "output prefix: writes PREFIX.crt and PREFIX.key")->required();
  issue->callback(wrap([o] {
    auto ca = pki::CertificateAuthority::open(o->dir);
    pki::CertRequest req;
    req.common_name = o->cn;
    req.dns_names = split(o->dns);
    req.ip_addresses = split(o->ips);
    req.client = o->client;
    req.server = o->server || !o->client;
    req.days = o->days;
    auto issued = ca.issue(req, o->out);
    std::cout << "serial " << issued.serial << "\n" << issued.cert_path << "\n" << issued.key_path << "\n";
  }));
  auto* revoke = pki->add_subcommand("revoke", "Revoke a certificate by serial and rewrite the CRL");
  revoke->add_option("--dir", o->dir, "CA directory");
  revoke->add_option("--serial", o->serial)->required();
  revoke->callback(wrap([o] {
    auto ca = pki::CertificateAuthority::open(o->dir);
    ca.revoke(o->serial);
    std::cout << "revoked " << o->serial << "; CRL: " << ca.crl_path() << "\n";
  }));
  auto* show = pki->add_subcommand("show", "Describe a certificate");
  show->add_option("file", o->file)->required();
  show->callback(wrap([o] { std::cout << pki::describe(pki::read_file(o->file)); }));
  auto* verify = pki->add_subcommand("verify", "Verify a certificate against a CA (and CRL)");
  verify->add_option("file", o->file)->required();
  verify->add_option("--ca", o->ca, "CA certificate")->required();
  verify->add_option("--crl", o->crl, "CRL to check revocation against");
  verify->add_option("--purpose", o->purpose, "server or client");
  verify->callback([o, &exit_code] {
    try {
      auto r = pki::verify(pki::read_file(o->file), pki::read_file(o->ca),
                           o->crl.empty() ? "" : pki::read_file(o->crl), o->purpose);
      std::cout << o->file << ": " << (r.ok ? "OK" : "FAILED: " + r.error) << "\n";
      if (!r.ok) exit_code = kExitFailure;
    } catch (const std::exception& e) {
      std::cerr << "pki: " << e.what() << "\n";
      exit_code = kExitFailure;
    }
  });
}

}  // namespace mobix::cli
