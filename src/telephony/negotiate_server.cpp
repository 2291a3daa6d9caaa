#include "telephony/negotiate_server.hpp"

#include <chrono>

#include "net/tls_context.hpp"

namespace mobix::telephony {

namespace {

HttpServerOptions http_options(const NegotiateServerOptions& o) {
  HttpServerOptions h;
  h.name = o.service;
  h.body_limit = 4 << 10;  // a charge or nothing: small JSON bodies only
  h.read_timeout = std::chrono::seconds(10);
  h.tls = net::make_server_tls_context(o.cert_file, o.key_file);
  return h;
}

}  // namespace

NegotiateServer::NegotiateServer(boost::asio::io_context& io, const NegotiateServerOptions& options,
                                 Routes routes, Handler handler)
    : gate_(options.service, options.keytab, options.metric, options.help),
      per_source_(options.per_source_per_minute, options.per_source_burst),
      routes_(std::move(routes)),
      handler_(std::move(handler)),
      server_(
          io, options.listen, [this](const HttpRequest& r, HttpReply reply) { handle(r, std::move(reply)); },
          http_options(options)) {}

void NegotiateServer::handle(const HttpRequest& req, HttpReply reply) {
  if (!per_source_.take(req.peer))
    return reply(gate_.refuse(429, "rate_limited", req.peer, "too many requests"));
  if (!routes_(req))
    return reply(gate_.refuse(404, "no_such_endpoint", req.peer, req.method + " " + req.path));
  auto authenticated = gate_.authenticate(req);
  if (auto* answer = std::get_if<HttpResponse>(&authenticated)) return reply(std::move(*answer));
  handler_(req, std::get<NegotiateGate::Caller>(authenticated), std::move(reply));
}

}  // namespace mobix::telephony
