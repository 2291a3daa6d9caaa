#include "net/tls_context.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/ssl/context.hpp>

namespace mobix::net {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_tls_context(const TlsOptions& opts) {
  const bool server = opts.side == TlsOptions::Side::server;
  auto ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (!opts.cert_pem.empty()) {
    ctx->use_certificate_chain(boost::asio::buffer(opts.cert_pem), ec);
    if (!ec) ctx->use_private_key_file(opts.key_file, ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("cannot load the TLS certificate or its key " + opts.key_file + ": " +
                               ec.message());
  } else if (!opts.cert_file.empty()) {
    ctx->use_certificate_chain_file(opts.cert_file, ec);
    if (!ec) ctx->use_private_key_file(opts.key_file, ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("cannot load the TLS certificate " + opts.cert_file + " or its key " +
                               opts.key_file + ": " + ec.message());
  } else if (server) {
    throw std::runtime_error("a TLS server needs a certificate and a key");
  }
  if (!server || opts.verify_peer) {
    if (!opts.ca_file.empty())
      ctx->load_verify_file(opts.ca_file, ec);
    else if (!server)
      ctx->set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the CA certificates " + opts.ca_file + ": " + ec.message());
  }
  if (!opts.crl_file.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx->native_handle());
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (!lookup || X509_load_crl_file(lookup, opts.crl_file.c_str(), X509_FILETYPE_PEM) <= 0)
      throw std::runtime_error("cannot load the CRL " + opts.crl_file);
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  }
  if (server && opts.session_resumption) {
    // Server-side cache keyed by this context; the id context must be set when clients present
    // certificates (OpenSSL refuses to resume otherwise).
    static const unsigned char kIdContext[] = "mobix";
    SSL_CTX_set_session_id_context(ctx->native_handle(), kIdContext, sizeof kIdContext - 1);
    SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_SERVER);
  }
  if (server && opts.verify_peer)
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  else if (!server)
    ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file) {
  return make_tls_context({TlsOptions::Side::client, {}, {}, ca_file, true, {}, false, {}});
}

std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file) {
  return make_tls_context({TlsOptions::Side::server, cert_file, key_file, {}, false, {}, false, {}});
}

std::string certificate_sha256(x509_st* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1) return {};
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

bool matches_pin(x509_st* cert, const TlsPin& pin) {
  if (!cert) return false;
  if (!pin.sha256.empty()) {
    auto got = certificate_sha256(cert);
    if (got.size() != pin.sha256.size() || CRYPTO_memcmp(got.data(), pin.sha256.data(), got.size()) != 0)
      return false;
  }
  if (!pin.name.empty() &&
      X509_check_host(cert, pin.name.data(), pin.name.size(), X509_CHECK_FLAG_NO_WILDCARDS, nullptr) != 1)
    return false;
  return true;
}

}  // namespace mobix::net
