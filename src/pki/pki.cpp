#include "pki/pki.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace mobix::pki {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

[[noreturn]] void fail(const std::string& what) {
  char buf[256] = "no OpenSSL detail";
  if (auto e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  throw std::runtime_error("pki: " + what + ": " + buf);
}

void write_file(const fs::path& p, const std::string& data, bool secret) {
  auto tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("pki: cannot write " + tmp.string());
    if (secret) ::chmod(tmp.c_str(), 0600);
    out << data;
    if (!out.flush()) throw std::runtime_error("pki: cannot write " + tmp.string());
  }
  fs::rename(tmp, p);  // atomic: a crash leaves the old file or the new one
}

std::string pem_of(X509* c) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), c);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string pem_of_key(EVP_PKEY* k) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

X509Ptr load_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!c) fail("not a PEM certificate");
  return c;
}

KeyPtr load_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!k) fail("not a PEM private key");
  return k;
}

KeyPtr new_key() {
  KeyPtr k(EVP_EC_gen("P-256"));
  if (!k) fail("key generation failed");
  return k;
}

std::string random_serial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) fail("RAND_bytes");
  bytes[0] &= 0x7f;  // positive (RFC 5280 4.1.2.2)
  bytes[0] |= 0x10;
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert));
  char* hex = BN_bn2hex(bn.get());
  std::string s(hex);
  OPENSSL_free(hex);
  return s;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509Ptr make_cert(const std::string& cn, EVP_PKEY* key, int days) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("mobix"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  return cert;
}

json load_index(const std::string& dir) {
  std::ifstream in(dir + "/index.json");
  if (!in) return json{{"certificates", json::array()}};
  return json::parse(in);
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool CertificateAuthority::exists(const std::string& dir) {
  return fs::exists(dir + "/ca.crt") && fs::exists(dir + "/ca.key");
}

CertificateAuthority CertificateAuthority::create(const std::string& dir, const std::string& cn, int days) {
  if (exists(dir)) throw std::runtime_error("pki: a CA already exists in " + dir);
  fs::create_directories(dir);
  auto key = new_key();
  auto cert = make_cert(cn, key.get(), days);
  random_serial(cert.get());
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) fail("signing the CA certificate");
  write_file(fs::path(dir) / "ca.key", pem_of_key(key.get()), true);
  write_file(fs::path(dir) / "ca.crt", pem_of(cert.get()), false);
  write_file(fs::path(dir) / "index.json", json{{"certificates", json::array()}}.dump(2), false);
  CertificateAuthority ca(dir);
  ca.write_crl();
  return ca;
}

CertificateAuthority CertificateAuthority::open(const std::string& dir) {
  if (!exists(dir)) throw std::runtime_error("pki: no CA in " + dir + " (run `mobix pki init`)");
  return CertificateAuthority(dir);
}

IssuedCert CertificateAuthority::issue(const CertRequest& req, const std::string& out_prefix) {
  if (req.common_name.empty()) throw std::invalid_argument("pki: a certificate needs a common name");
  auto ca_key = load_key(read_file(dir_ + "/ca.key"));
  auto ca_cert = load_cert(read_file(dir_ + "/ca.crt"));
  auto key = new_key();
  auto cert = make_cert(req.common_name, key.get(), req.days);
  auto serial = random_serial(cert.get());
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  add_ext(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  std::string eku;
  if (req.server) eku += "serverAuth";
  if (req.client) eku += std::string(eku.empty() ? "" : ",") + "clientAuth";
  if (!eku.empty()) add_ext(cert.get(), ca_cert.get(), NID_ext_key_usage, eku);
  std::string san;
  for (const auto& d : req.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& i : req.ip_addresses) san += (san.empty() ? "IP:" : ",IP:") + i;
  if (!san.empty()) add_ext(cert.get(), ca_cert.get(), NID_subject_alt_name, san);
  add_ext(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
  if (!X509_sign(cert.get(), ca_key.get(), EVP_sha256())) fail("signing the certificate");
  fs::path prefix(out_prefix);
  if (prefix.has_parent_path()) fs::create_directories(prefix.parent_path());
  IssuedCert out{serial, out_prefix + ".crt", out_prefix + ".key"};
  write_file(out.key_path, pem_of_key(key.get()), true);
  write_file(out.cert_path, pem_of(cert.get()), false);
  auto index = load_index(dir_);
  index["certificates"].push_back(
      json{{"serial", serial}, {"cn", req.common_name}, {"path", out.cert_path}, {"revoked", false}});
  write_file(fs::path(dir_) / "index.json", index.dump(2), false);
  return out;
}

void CertificateAuthority::revoke(const std::string& serial) {
  auto index = load_index(dir_);
  bool found = false;
  for (auto& c : index["certificates"])
    if (c["serial"].get<std::string>() == serial) {
      c["revoked"] = true;
      c["revoked_at"] = static_cast<std::int64_t>(std::time(nullptr));
      found = true;
    }
  if (!found)
    throw std::invalid_argument("pki: no certificate with serial " + serial + " was issued by this CA");
  write_file(fs::path(dir_) / "index.json", index.dump(2), false);
  write_crl();
}

void CertificateAuthority::write_crl() {
  auto ca_key = load_key(read_file(dir_ + "/ca.key"));
  auto ca_cert = load_cert(read_file(dir_ + "/ca.crt"));
  CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert.get()));
  std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>> now(ASN1_TIME_new()), next(ASN1_TIME_new());
  X509_gmtime_adj(now.get(), 0);
  X509_gmtime_adj(next.get(), 7L * 86400);
  X509_CRL_set1_lastUpdate(crl.get(), now.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  auto index = load_index(dir_);
  for (auto& c : index["certificates"]) {
    if (!c.value("revoked", false)) continue;
    BIGNUM* bn = nullptr;
    BN_hex2bn(&bn, c["serial"].get<std::string>().c_str());
    X509_REVOKED* r = X509_REVOKED_new();
    ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, nullptr);
    X509_REVOKED_set_serialNumber(r, serial);
    std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>> when(ASN1_TIME_new());
    ASN1_TIME_set(when.get(), static_cast<time_t>(c.value("revoked_at", std::int64_t{0})));
    X509_REVOKED_set_revocationDate(r, when.get());
    X509_CRL_add0_revoked(crl.get(), r);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
  }
  X509_CRL_sort(crl.get());
  if (!X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256())) fail("signing the CRL");
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_CRL(bio.get(), crl.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  write_file(fs::path(dir_) / "crl.pem", std::string(data, static_cast<std::size_t>(n)), false);
}

void CertificateAuthority::record(const std::vector<Recorded>& certs) {
  auto index = load_index(dir_);
  for (const auto& c : certs)
    index["certificates"].push_back(
        json{{"serial", c.serial}, {"cn", c.common_name}, {"path", c.path}, {"revoked", false}});
  write_file(fs::path(dir_) / "index.json", index.dump(2), false);
}

namespace {
std::string subject_entry(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::string serial_hex(X509* cert) {
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(
      ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr));
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());
  std::string s(hex);
  OPENSSL_free(hex);
  return s;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}
}  // namespace

CertIdentity identity_of(X509* cert) {
  CertIdentity id;
  if (!cert) return id;
  id.common_name = subject_entry(cert, NID_commonName);
  id.unit = subject_entry(cert, NID_organizationalUnitName);
  id.serial = serial_hex(cert);
  struct tm t = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &t) == 1) id.not_after = timegm(&t);
  return id;
}

CertIdentity identity_of(const std::string& cert_pem) {
  auto cert = load_cert(cert_pem);
  return identity_of(cert.get());
}

std::string public_key_of(const std::string& cert_pem) {
  auto cert = load_cert(cert_pem);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), X509_get0_pubkey(cert.get())) != 1) fail("writing a public key");
  return bio_string(bio.get());
}

KeyPair generate_key_pair() {
  auto key = new_key();
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) fail("writing a public key");
  return {pem_of_key(key.get()), bio_string(bio.get())};
}

struct Signer::Impl {
  X509Ptr ca_cert;
  KeyPtr ca_key;
};

Signer::Signer(const std::string& ca_dir) : impl_(std::make_unique<Impl>()) {
  ca_pem_ = read_file(ca_dir + "/ca.crt");
  impl_->ca_cert = load_cert(ca_pem_);
  impl_->ca_key = load_key(read_file(ca_dir + "/ca.key"));
}
Signer::~Signer() = default;

Signer::Signed Signer::sign(const std::string& public_key_pem, const Subject& subject) const {
  BioPtr bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  KeyPtr pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pub) fail("not a PEM public key");
  return sign_key(pub.get(), subject);
}

Signer::Signed Signer::sign_for_key_of(X509* cert, const Subject& subject) const {
  EVP_PKEY* key = cert ? X509_get0_pubkey(cert) : nullptr;
  if (!key) fail("no public key in the certificate");
  return sign_key(key, subject);
}

Signer::Signed Signer::sign_key(EVP_PKEY* key, const Subject& subject) const {
  if (subject.common_name.empty()) throw std::invalid_argument("pki: a certificate needs a common name");
  auto cert = make_cert(subject.common_name, key, subject.days);
  if (!subject.unit.empty())
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "OU", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(subject.unit.c_str()), -1, -1, 0);
  X509* ca = impl_->ca_cert.get();
  Signed out;
  out.serial = random_serial(cert.get());
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca));
  add_ext(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  std::string eku;
  if (subject.server) eku += "serverAuth";
  if (subject.client) eku += std::string(eku.empty() ? "" : ",") + "clientAuth";
  if (!eku.empty()) add_ext(cert.get(), ca, NID_ext_key_usage, eku);
  add_ext(cert.get(), ca, NID_authority_key_identifier, "keyid:always");
  if (!X509_sign(cert.get(), impl_->ca_key.get(), EVP_sha256())) fail("signing the certificate");
  out.pem = pem_of(cert.get());
  return out;
}

VerifyResult verify(const std::string& cert_pem, const std::string& ca_pem, const std::string& crl_pem,
                    const std::string& purpose) {
  auto cert = load_cert(cert_pem);
  auto ca = load_cert(ca_pem);
  StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  if (!crl_pem.empty()) {
    BioPtr bio(BIO_new_mem_buf(crl_pem.data(), static_cast<int>(crl_pem.size())));
    CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) return {false, "CRL is not valid PEM"};
    X509_STORE_add_crl(store.get(), crl.get());
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  if (purpose == "server") X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (purpose == "client") X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) == 1) return {true, {}};
  return {false, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))};
}

std::string describe(const std::string& cert_pem) {
  auto cert = load_cert(cert_pem);
  BioPtr bio(BIO_new(BIO_s_mem()));
  BIO_puts(bio.get(), "subject: ");
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_ONELINE);
  BIO_puts(bio.get(), "\nissuer: ");
  X509_NAME_print_ex(bio.get(), X509_get_issuer_name(cert.get()), 0, XN_FLAG_ONELINE);
  BIO_puts(bio.get(), "\nserial: ");
  i2a_ASN1_INTEGER(bio.get(), X509_get_serialNumber(cert.get()));
  BIO_puts(bio.get(), "\nnot before: ");
  ASN1_TIME_print(bio.get(), X509_get0_notBefore(cert.get()));
  BIO_puts(bio.get(), "\nnot after: ");
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert.get()));
  int idx = X509_get_ext_by_NID(cert.get(), NID_subject_alt_name, -1);
  if (idx >= 0) {
    BIO_puts(bio.get(), "\nsubject alt names: ");
    X509V3_EXT_print(bio.get(), X509_get_ext(cert.get(), idx), 0, 0);
  }
  BIO_puts(bio.get(), "\n");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace mobix::pki
