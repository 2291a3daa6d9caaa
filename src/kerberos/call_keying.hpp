#pragma once
// Seed 003's secure calls: "the receiver collects a session key from Kerberos and establishes a safe
// and authenticated channel". The caller's proxy gets a service ticket for the callee's device
// principal and sends an AP-REQ (RFC 4121, the raw krb5 GSS-API mechanism, mutual authentication);
// the callee's proxy accepts it with the device keys it holds and answers an AP-REP. Both ends then
// derive the call's keys from the context's session subkey with the GSS-API pseudo-random function
// (RFC 4401; for krb5, RFC 4402). Nothing key-like crosses the wire.
#include <memory>
#include <string>
#include <variant>

#include "kerberos/kerberos.hpp"

namespace mobix::krb {

/// An established call context: both ends derive the same bytes for the same label.
class CallContext {
 public:
  ~CallContext();
  CallContext(const CallContext&) = delete;
  CallContext& operator=(const CallContext&) = delete;
  /// `length` bytes of GSS_C_PRF_KEY_FULL output for `label`. Throws KerberosError.
  std::string derive(const std::string& label, std::size_t length) const;

 private:
  friend class CallInitiator;
  friend class CallAcceptor;
  struct Impl;
  explicit CallContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The caller's side of one call.
class CallInitiator {
 public:
  /// `callee` is a principal name ("<identity code>@REALM").
  CallInitiator(const Credentials& caller, const std::string& callee);
  ~CallInitiator();
  CallInitiator(const CallInitiator&) = delete;
  CallInitiator& operator=(const CallInitiator&) = delete;
  /// The AP-REQ, base64 (a TGS exchange with the KDC first: may block). Throws KerberosError.
  std::string first_token();
  /// Checks the callee's AP-REP (base64): the context when it proves the callee, else null.
  std::unique_ptr<CallContext> finish(const std::string& reply_token);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The callee's side: accepts an AP-REQ for the called device only, with that device's key from the
/// mobility manager's keys. Use one acceptor from one thread (it keeps a krb5 context).
class CallAcceptor {
 public:
  explicit CallAcceptor(std::shared_ptr<KeyTable> keys);
  ~CallAcceptor();
  CallAcceptor(const CallAcceptor&) = delete;
  CallAcceptor& operator=(const CallAcceptor&) = delete;

  struct Accepted {
    std::string caller;       ///< the authenticated initiator, "name@REALM"
    std::string callee;       ///< the principal whose key the ticket was for
    std::string reply_token;  ///< the AP-REP, base64
    std::unique_ptr<CallContext> context;
  };
  struct Refused {
    AcceptRefusal why;
    std::string detail;
  };
  /// A ticket for any other principal than `callee` ("name@REALM") is refused as wrong_service.
  std::variant<Accepted, Refused> accept(const std::string& token_base64, const std::string& callee);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix::krb
