#include "provisioning/factory.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <ctime>
#include <stdexcept>

#include "cb/box_flash.hpp"
#include "pki/pki.hpp"

namespace mobix {

namespace {

std::string random_password() {
  static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  unsigned char r[20];
  if (RAND_bytes(r, sizeof r) != 1) throw std::runtime_error("no randomness for a password");
  std::string out;
  for (auto b : r) out += alphabet[b % (sizeof alphabet - 1)];
  return out;
}

}  // namespace

std::string password_sha256(std::string_view password) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(password.data(), password.size(), md, &n, EVP_sha256(), nullptr);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

bool valid_serial_number(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

MintedBox mint_box(BoxRepository& repo, const pki::Signer& signer, const MintRequest& req,
                   const std::string& serial, const std::string& dir) {
  if (!valid_serial_number(serial))
    throw std::invalid_argument("serial \"" + serial + "\": 1-64 letters, digits, '-', '_' or '.'");
  auto keys = pki::generate_key_pair();
  auto cert = signer.sign(keys.public_pem, pki::Signer::Subject{serial, "serial", true, true, req.days});
  cb::FactoryParams p;
  p.serial = serial;
  p.config_username = serial + "@" + req.config_realm;
  p.config_password = random_password();
  p.css_name = req.css_name;
  p.box_port = req.box_port;
  p.config_wait = req.config_wait;
  p.retry = req.retry;
  cb::BoxFlash::write_factory(dir, p, keys.private_pem, cert.pem, signer.ca_pem());
  // The flash first, then the database: a serial in the database always has a box.
  repo.put_valid_serial({serial, password_sha256(p.config_password), cert.serial,
                         static_cast<std::int64_t>(std::time(nullptr)), 0});
  return MintedBox{serial, dir, cert.serial};
}

}  // namespace mobix
