#pragma once
// A small certificate authority on OpenSSL 3, shared by every role that needs X.509:
// create a CA, issue server/client certificates with SANs and key usages, revoke (CRL),
// verify chains. Keys are ECDSA P-256; private keys are written with mode 0600.
#include <string>
#include <vector>

namespace mobix::pki {

struct CertRequest {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool server = true;   ///< extendedKeyUsage serverAuth
  bool client = false;  ///< extendedKeyUsage clientAuth
  int days = 397;
};

struct IssuedCert {
  std::string serial;  ///< upper-case hex
  std::string cert_path;
  std::string key_path;
};

struct VerifyResult {
  bool ok = false;
  std::string error;  ///< OpenSSL's reason when !ok
};

class CertificateAuthority {
 public:
  /// Creates a CA in `dir` (ca.crt, ca.key, index.json, crl.pem). Throws if one exists.
  static CertificateAuthority create(const std::string& dir, const std::string& common_name, int days = 3650);
  /// Opens an existing CA; throws std::runtime_error if there is none.
  static CertificateAuthority open(const std::string& dir);
  static bool exists(const std::string& dir);

  /// Issues a certificate and key, written to `out_prefix`.crt / .key.
  IssuedCert issue(const CertRequest& req, const std::string& out_prefix);
  /// Marks the serial revoked and rewrites crl.pem; throws if the serial is unknown.
  void revoke(const std::string& serial);
  void write_crl();

  std::string cert_path() const { return dir_ + "/ca.crt"; }
  std::string crl_path() const { return dir_ + "/crl.pem"; }

 private:
  explicit CertificateAuthority(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

/// Verifies `cert_pem` against the CA (and the CRL when given) for the purpose
/// "server", "client" or "" (any).
VerifyResult verify(const std::string& cert_pem, const std::string& ca_pem, const std::string& crl_pem,
                    const std::string& purpose = "");

/// Human-readable summary: subject, issuer, serial, validity, SANs.
std::string describe(const std::string& cert_pem);

std::string read_file(const std::string& path);

}  // namespace mobix::pki
