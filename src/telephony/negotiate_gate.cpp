#include "telephony/negotiate_gate.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/metrics.hpp"

namespace mobix::telephony {

using json = nlohmann::json;

NegotiateGate::NegotiateGate(std::string service, const std::string& keytab, std::string metric,
                             std::string help)
    : service_(std::move(service)), metric_(std::move(metric)), help_(std::move(help)), acceptor_(keytab) {}

void NegotiateGate::count(const std::string& outcome) {
  metrics().counter(metric_, help_, "outcome=\"" + outcome + "\"").inc();
}

HttpResponse NegotiateGate::refuse(int status, const std::string& outcome, const std::string& peer,
                                   const std::string& detail) {
  count(outcome);
  if (log_limit_.allow(outcome) >= 0)
    spdlog::warn("{}: refused a request from {}: {} ({})", service_, peer, outcome, detail);
  HttpResponse r{status, "application/json", json{{"error", outcome}, {"detail", detail}}.dump() + "\n"};
  if (status == 401) r.headers.push_back({"WWW-Authenticate", "Negotiate"});
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

std::variant<NegotiateGate::Caller, HttpResponse> NegotiateGate::authenticate(const HttpRequest& req) {
  // RFC 4559 section 4: the first request comes without credentials and is challenged.
  if (req.authorization.rfind("Negotiate ", 0) != 0) {
    count("challenged");
    HttpResponse r{401, "application/json", json{{"error", "authenticate with Negotiate"}}.dump() + "\n"};
    r.headers.push_back({"WWW-Authenticate", "Negotiate"});
    return r;
  }
  auto accepted = acceptor_.accept(req.authorization.substr(10));
  if (auto* no = std::get_if<krb::SpnegoAcceptor::Refused>(&accepted))
    return refuse(401, krb::to_string(no->why), req.peer, no->detail);
  auto& who = std::get<krb::SpnegoAcceptor::Accepted>(accepted);
  return Caller{who.principal, who.reply_token};
}

HttpResponse NegotiateGate::answer(int status, std::string json_body, const Caller& caller) {
  HttpResponse r{status, "application/json", std::move(json_body)};
  r.headers.push_back({"Cache-Control", "no-store"});
  if (!caller.reply_token.empty())
    r.headers.push_back({"WWW-Authenticate", "Negotiate " + caller.reply_token});
  return r;
}

}  // namespace mobix::telephony
