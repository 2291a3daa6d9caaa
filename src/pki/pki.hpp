#pragma once
// A small certificate authority on OpenSSL 3, shared by every role that needs X.509:
// create a CA, issue server/client certificates with SANs and key usages, revoke (CRL),
// verify chains. Keys are ECDSA P-256; private keys are written with mode 0600.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct x509_st;
struct evp_pkey_st;

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
  /// Adds a certificate signed elsewhere with this CA's key (a Signer) to the index, so that
  /// revoke() can put it on the CRL.
  struct Recorded {
    std::string serial, common_name, path;
  };
  void record(const std::vector<Recorded>& certs);

  std::string cert_path() const { return dir_ + "/ca.crt"; }
  std::string crl_path() const { return dir_ + "/crl.pem"; }

 private:
  explicit CertificateAuthority(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

/// What identifies a certificate's holder: subject CN and OU, the serial (upper-case hex) and the
/// end of its validity (seed 004: OU says which identity, serial number or CB ID, the CN carries).
struct CertIdentity {
  std::string common_name;
  std::string unit;
  std::string serial;
  std::int64_t not_after = 0;  ///< unix seconds
};
/// Throws std::runtime_error when `cert_pem` is not a certificate.
CertIdentity identity_of(const std::string& cert_pem);
/// The same from a parsed certificate (a TLS peer's, no PEM round trip).
CertIdentity identity_of(x509_st* cert);
/// The subject public key of `cert_pem`, as a PEM SubjectPublicKeyInfo.
std::string public_key_of(const std::string& cert_pem);

/// A new ECDSA P-256 key pair: the private key (PKCS#8 PEM) and its public key (PEM).
struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};
KeyPair generate_key_pair();

/// Signs certificates with a CA loaded once, for a public key the holder keeps the private half of
/// (seed 004: the CB certificate binds the box's existing key to its CB ID, so the private key never
/// leaves the box). Thread-safe; keeps no index (the caller records the serial).
class Signer {
 public:
  /// Loads ca.crt and ca.key from `ca_dir`; throws std::runtime_error.
  explicit Signer(const std::string& ca_dir);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  struct Subject {
    std::string common_name;
    std::string unit;  ///< OU; empty: none
    bool server = true;
    bool client = true;
    int days = 397;
  };
  struct Signed {
    std::string serial;  ///< upper-case hex
    std::string pem;
  };
  /// Throws std::runtime_error for a key that is not a PEM public key.
  Signed sign(const std::string& public_key_pem, const Subject& subject) const;
  /// For the public key of an already parsed certificate (a TLS peer's: no PEM round trip).
  Signed sign_for_key_of(x509_st* cert, const Subject& subject) const;
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  struct Impl;
  Signed sign_key(evp_pkey_st* key, const Subject& subject) const;
  std::unique_ptr<Impl> impl_;
  std::string ca_pem_;
};

/// Verifies `cert_pem` against the CA (and the CRL when given) for the purpose
/// "server", "client" or "" (any).
VerifyResult verify(const std::string& cert_pem, const std::string& ca_pem, const std::string& crl_pem,
                    const std::string& purpose = "");

/// Human-readable summary: subject, issuer, serial, validity, SANs.
std::string describe(const std::string& cert_pem);

std::string read_file(const std::string& path);

}  // namespace mobix::pki
