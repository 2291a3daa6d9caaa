#pragma once
// HTTP Negotiate (SPNEGO, RFC 4559) in front of a seed 003 service (the initiating database, the
// billing service): the challenge, the refusals (each replied, counted under the service's metric
// and logged) and the mutual-authentication token on the answer.
#include <string>
#include <variant>

#include "core/log.hpp"
#include "kerberos/kerberos.hpp"
#include "net/http.hpp"

namespace mobix::telephony {

class NegotiateGate {
 public:
  /// `service` names the log lines; `metric{outcome}` counts (help: `help`). Throws KerberosError
  /// when the keytab cannot be used.
  NegotiateGate(std::string service, const std::string& keytab, std::string metric, std::string help);

  struct Caller {
    std::string principal;    ///< "name@REALM"
    std::string reply_token;  ///< for "WWW-Authenticate: Negotiate"
  };
  /// The authenticated caller, or the answer to send (a 401 challenge or refusal).
  std::variant<Caller, HttpResponse> authenticate(const HttpRequest& req);
  /// A refusal: JSON {"error": outcome, "detail"}, counted and logged (rate-limited).
  HttpResponse refuse(int status, const std::string& outcome, const std::string& peer,
                      const std::string& detail);
  void count(const std::string& outcome);
  /// The answer to an authenticated caller: its mutual-authentication token, never cached.
  static HttpResponse answer(int status, std::string json_body, const Caller& caller);

 private:
  std::string service_, metric_, help_;
  krb::SpnegoAcceptor acceptor_;
  LogRateLimiter log_limit_{5};
};

}  // namespace mobix::telephony
