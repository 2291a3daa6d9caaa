#pragma once
// MIT Kerberos for seed 003 (claims 1-4): a device's ticket-granting ticket obtained with its key
// from a keytab (the identity code is the principal's name), and SPNEGO (RFC 4178) over HTTP
// (RFC 4559 "Negotiate") on both sides: the mobility manager initiates, the initiating database and
// the billing service accept. Calls may block on the KDC: run them off the io threads.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>

namespace mobix::krb {

class KerberosError : public std::runtime_error {
 public:
  enum class Kind {
    kdc_unreachable,    ///< no KDC answered: retry later
    unknown_principal,  ///< the KDC does not know the device
    no_key,             ///< the keytab has no key for it
    wrong_key,          ///< the KDC refused the key (pre-authentication failed)
    other,
  };
  KerberosError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
  Kind kind;
};
const char* to_string(KerberosError::Kind k);

/// Points this process's Kerberos library at `krb5_conf` (the realm and its KDCs) and, when set, its
/// replay cache at `rcache_dir`. Call once at start, before any thread uses Kerberos.
void configure_process(const std::string& krb5_conf, const std::string& rcache_dir);

class KeyTable;

/// A principal's initial tickets (its TGT) in a private in-memory credentials cache.
class Credentials {
 public:
  /// AS exchange with the principal's key from `keytab` (claim 1: the identity code as user
  /// identity). Throws KerberosError.
  static std::unique_ptr<Credentials> from_keytab(const std::string& principal, KeyTable& keytab);
  ~Credentials();
  Credentials(const Credentials&) = delete;
  Credentials& operator=(const Credentials&) = delete;

  const std::string& principal() const { return principal_; }
  const std::string& ccache() const { return ccache_; }  ///< "MEMORY:..."
  std::int64_t expires() const { return expires_; }      ///< the TGT's end time, unix seconds

 private:
  Credentials(std::string principal, std::string ccache, std::int64_t expires)
      : principal_(std::move(principal)), ccache_(std::move(ccache)), expires_(expires) {}
  std::string principal_, ccache_;
  std::int64_t expires_;
};

/// The client side of HTTP Negotiate for one request: the first token (which gets a service ticket
/// for HTTP@`host` from the KDC: may block) and the check of the server's mutual-authentication
/// token (RFC 4559 section 5).
class SpnegoInitiator {
 public:
  SpnegoInitiator(const Credentials& creds, const std::string& host);
  ~SpnegoInitiator();
  SpnegoInitiator(const SpnegoInitiator&) = delete;
  SpnegoInitiator& operator=(const SpnegoInitiator&) = delete;
  /// Base64, for "Authorization: Negotiate <token>". Throws KerberosError.
  std::string first_token();
  /// True when `token` (from "WWW-Authenticate: Negotiate <token>") proves the server's identity.
  bool verify_server(const std::string& token);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Why an acceptor refused a client's token.
enum class AcceptRefusal { malformed, replayed, expired, clock_skew, wrong_service, other };
const char* to_string(AcceptRefusal r);

/// The server side: accepts one Negotiate token with the service's key from a keytab.
class SpnegoAcceptor {
 public:
  /// Throws KerberosError when the keytab cannot be used.
  explicit SpnegoAcceptor(const std::string& keytab);
  ~SpnegoAcceptor();
  SpnegoAcceptor(const SpnegoAcceptor&) = delete;
  SpnegoAcceptor& operator=(const SpnegoAcceptor&) = delete;

  struct Accepted {
    std::string principal;    ///< the client, "name@REALM"
    std::string reply_token;  ///< base64 for "WWW-Authenticate: Negotiate"; may be empty
  };
  using Refusal = AcceptRefusal;
  struct Refused {
    Refusal why;
    std::string detail;
  };
  std::variant<Accepted, Refused> accept(const std::string& token_base64);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string base64_encode(const std::string& bytes);
/// Empty on malformed input.
std::string base64_decode(const std::string& text);

}  // namespace mobix::krb
