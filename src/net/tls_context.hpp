#pragma once
// The one TLS context factory below every role (mail upstreams and STARTTLS, the relay's callback
// port and webhook client, the gateway, RadSec): TLS 1.2 or later always, peers verified against a
// CA file (or the system store), optional mutual TLS, and pinning of a verified peer by name or by
// certificate fingerprint. Kept out of the other net headers so most code compiles without OpenSSL.
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}
struct x509_st;

namespace mobix::net {

struct TlsOptions {
  enum class Side { client, server };
  Side side = Side::client;
  std::string cert_file;  ///< our certificate chain (PEM); required for a server, optional for a client
  std::string key_file;   ///< its private key (PEM)
  std::string ca_file;    ///< verify the peer against this CA; a client with none uses the system store
  /// Verify the peer's chain. A client always does; a server does only when it asks for a client
  /// certificate (mutual TLS: RadSec, RFC 6614 2.4).
  bool verify_peer = true;
  /// A CRL (PEM) checked for the peer's certificate; empty: none.
  std::string crl_file;
  /// A server: resume sessions from this context's cache and with tickets (seed 004 variants: a
  /// resumed session costs a much shorter handshake).
  bool session_resumption = false;
  /// Our certificate chain as PEM text instead of cert_file (a box keeps it inside its parameters).
  std::string cert_pem;
};

/// A context for `opts`; throws std::runtime_error naming the file that could not be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsOptions& opts);

/// A client context that verifies servers against `ca_file` (empty: the system trust store).
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file);
/// A server context with a certificate chain and key, not asking for client certificates.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const std::string& cert_file,
                                                                   const std::string& key_file);

/// What a verified peer certificate must also match: its SHA-256 fingerprint (lowercase hex, compared
/// in constant time) and/or a DNS name in it (RFC 6125, no wildcards). Empty fields are not checked.
struct TlsPin {
  std::string sha256;
  std::string name;
};
/// Lowercase hex SHA-256 of the DER certificate.
std::string certificate_sha256(x509_st* cert);
/// True when `cert` is present and matches every non-empty field of `pin`.
bool matches_pin(x509_st* cert, const TlsPin& pin);

}  // namespace mobix::net
