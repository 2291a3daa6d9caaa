#pragma once
// The HTTPS listener of a seed 003 service that callers reach with Kerberos (the initiating database,
// billing): every request passes a per-source rate limit, the service's routes and SPNEGO (RFC 4559)
// before the service sees it, with the principal Kerberos authenticated.
#include <cstdint>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/net.hpp"
#include "net/http_server.hpp"
#include "net/token_buckets.hpp"
#include "telephony/negotiate_gate.hpp"

namespace mobix::telephony {

struct NegotiateServerOptions {
  std::string service;  ///< "billing": the log lines' and the HTTP server's name
  Endpoint listen;
  std::string cert_file, key_file;  ///< the listener's TLS certificate (the operator's PKI)
  std::string keytab;               ///< HTTP/<host>@REALM's key
  std::string metric, help;         ///< the requests counter, by outcome
  std::uint32_t per_source_per_minute = 600;
  std::uint32_t per_source_burst = 60;
};

class NegotiateServer {
 public:
  /// Whether the service has this method and path; others are refused 404 before authentication.
  using Routes = std::function<bool(const HttpRequest&)>;
  using Handler = std::function<void(const HttpRequest&, const NegotiateGate::Caller&, HttpReply)>;

  /// Throws KerberosError when the keytab cannot be used, or when the TLS files cannot.
  NegotiateServer(boost::asio::io_context& io, const NegotiateServerOptions& options, Routes routes,
                  Handler handler);

  void start() { server_.start(); }
  void stop() { server_.stop(); }
  bool drained() const { return server_.drained(); }
  Endpoint local_endpoint() const { return server_.local_endpoint(); }
  /// For the service's own refusals and counts, under the same metric.
  NegotiateGate& gate() { return gate_; }

 private:
  void handle(const HttpRequest& req, HttpReply reply);

  NegotiateGate gate_;
  net::TokenBuckets per_source_;
  Routes routes_;
  Handler handler_;
  HttpServer server_;
};

}  // namespace mobix::telephony
