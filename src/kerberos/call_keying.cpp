#include "kerberos/call_keying.hpp"

#include "kerberos/gss_util.hpp"

namespace mobix::krb {

using namespace detail;

namespace {

constexpr OM_uint32 kFlags =
    GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG;

std::string display(gss_name_t name) {
  OM_uint32 m = 0;
  gss_buffer_desc b{};
  if (GSS_ERROR(gss_display_name(&m, name, &b, nullptr))) return {};
  auto s = to_string(b);
  gss_release_buffer(&m, &b);
  return s;
}

}  // namespace

// ---- CallContext ----

struct CallContext::Impl {
  gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
  ~Impl() {
    OM_uint32 m = 0;
    if (ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&m, &ctx, GSS_C_NO_BUFFER);
  }
};

CallContext::CallContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CallContext::~CallContext() = default;

std::string CallContext::derive(const std::string& label, std::size_t length) const {
  OM_uint32 minor = 0, m2 = 0;
  gss_buffer_desc in{label.size(), const_cast<char*>(label.data())};
  gss_buffer_desc out{};
  auto major =
      gss_pseudo_random(&minor, impl_->ctx, GSS_C_PRF_KEY_FULL, &in, static_cast<ssize_t>(length), &out);
  if (GSS_ERROR(major) || out.length != length) {
    gss_release_buffer(&m2, &out);
    throw KerberosError(KerberosError::Kind::other, "key derivation: " + gss_message(major, minor));
  }
  auto key = to_string(out);
  gss_release_buffer(&m2, &out);
  return key;
}

// ---- CallInitiator ----

struct CallInitiator::Impl {
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
  gss_name_t target = GSS_C_NO_NAME;
  std::unique_ptr<CallContext::Impl> context = std::make_unique<CallContext::Impl>();
  std::string ccache, principal, callee;
  ~Impl() {
    OM_uint32 m = 0;
    if (cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&m, &cred);
    if (target != GSS_C_NO_NAME) gss_release_name(&m, &target);
  }
  OM_uint32 step(const gss_buffer_t in, std::string& out, OM_uint32& minor) {
    gss_buffer_desc tok{};
    OM_uint32 m2 = 0;
    auto major = gss_init_sec_context(&minor, cred, &context->ctx, target, gss_mech_krb5, kFlags, 0,
                                      GSS_C_NO_CHANNEL_BINDINGS, in, nullptr, &tok, nullptr, nullptr);
    out = to_string(tok);
    gss_release_buffer(&m2, &tok);
    return major;
  }
};

CallInitiator::CallInitiator(const Credentials& caller, const std::string& callee) : impl_(new Impl) {
  impl_->ccache = caller.ccache();
  impl_->principal = caller.principal();
  impl_->callee = callee;
  OM_uint32 minor = 0;
  gss_buffer_desc name{callee.size(), const_cast<char*>(callee.data())};
  if (GSS_ERROR(gss_import_name(&minor, &name, GSS_KRB5_NT_PRINCIPAL_NAME, &impl_->target)))
    throw KerberosError(KerberosError::Kind::other, "bad principal name " + callee);
}

CallInitiator::~CallInitiator() = default;

std::string CallInitiator::first_token() {
  impl_->cred = initiator_cred(impl_->ccache, impl_->principal);
  OM_uint32 minor = 0;
  std::string out;
  auto major = impl_->step(GSS_C_NO_BUFFER, out, minor);
  if (major != GSS_S_CONTINUE_NEEDED) {  // mutual authentication always needs the AP-REP
    auto message = gss_message(major, minor);
    throw KerberosError(kind_of_message(message), "service ticket for " + impl_->callee + ": " + message);
  }
  return base64_encode(out);
}

std::unique_ptr<CallContext> CallInitiator::finish(const std::string& reply_token) {
  auto raw = base64_decode(reply_token);
  if (raw.empty() || impl_->context->ctx == GSS_C_NO_CONTEXT) return nullptr;
  gss_buffer_desc in{raw.size(), raw.data()};
  std::string out;
  OM_uint32 minor = 0;
  if (impl_->step(&in, out, minor) != GSS_S_COMPLETE) return nullptr;
  return std::unique_ptr<CallContext>(new CallContext(std::move(impl_->context)));
}

// ---- CallAcceptor ----

struct CallAcceptor::Impl {
  std::shared_ptr<KeyTable> keys;
  Context ctx;  ///< one acceptor is used from one thread (the node's io thread)
};

/// An acceptor credential that holds only one principal's keys, for one accept on this thread.
class CalleeCredential {
 public:
  CalleeCredential(Context& ctx, const std::string& callee, const PrincipalKeys& keys)
      : keytab_(ctx, callee, keys), cred_(acceptor_cred(keytab_.name())) {}
  ~CalleeCredential() {
    OM_uint32 m = 0;
    gss_release_cred(&m, &cred_);  // before the keytab it reads from is emptied
  }
  CalleeCredential(const CalleeCredential&) = delete;
  CalleeCredential& operator=(const CalleeCredential&) = delete;
  gss_cred_id_t get() const { return cred_; }

 private:
  ThreadKeytab keytab_;
  gss_cred_id_t cred_;
};

CallAcceptor::CallAcceptor(std::shared_ptr<KeyTable> keys) : impl_(new Impl{std::move(keys), {}}) {}
CallAcceptor::~CallAcceptor() = default;

std::variant<CallAcceptor::Accepted, CallAcceptor::Refused> CallAcceptor::accept(const std::string& token,
                                                                                 const std::string& callee) {
  auto raw = base64_decode(token);
  if (raw.empty()) return Refused{AcceptRefusal::malformed, "not base64"};
  // A callee is represented, so its keys were read when it bootstrapped (on the pool): no disk here.
  auto keys = impl_->keys->cached_keys_of(callee);
  if (!keys) return Refused{AcceptRefusal::wrong_service, "no key for " + callee};
  std::unique_ptr<CalleeCredential> cred;
  try {
    cred = std::make_unique<CalleeCredential>(impl_->ctx, callee, *keys);
  } catch (const KerberosError& e) {
    return Refused{AcceptRefusal::other, e.what()};
  }
  gss_buffer_desc in{raw.size(), raw.data()};
  auto context = std::make_unique<CallContext::Impl>();
  gss_name_t client = GSS_C_NO_NAME;
  gss_buffer_desc out{};
  OM_uint32 minor = 0, m2 = 0, flags = 0;
  auto major = gss_accept_sec_context(&minor, &context->ctx, cred->get(), &in, GSS_C_NO_CHANNEL_BINDINGS,
                                      &client, nullptr, &out, &flags, nullptr, nullptr);
  std::variant<Accepted, Refused> result;
  if (major == GSS_S_COMPLETE && (flags & GSS_C_MUTUAL_FLAG)) {
    gss_name_t target = GSS_C_NO_NAME;
    gss_inquire_context(&m2, context->ctx, nullptr, &target, nullptr, nullptr, nullptr, nullptr, nullptr);
    Accepted a{display(client), display(target), base64_encode(to_string(out)), nullptr};
    a.context.reset(new CallContext(std::move(context)));
    if (target != GSS_C_NO_NAME) gss_release_name(&m2, &target);
    result = std::move(a);
  } else if (major == GSS_S_COMPLETE) {
    result = Refused{AcceptRefusal::malformed, "the caller did not ask for mutual authentication"};
  } else {
    auto message = gss_message(major, minor);
    result = Refused{classify_refusal(major, message), message};
  }
  gss_release_buffer(&m2, &out);
  if (client != GSS_C_NO_NAME) gss_release_name(&m2, &client);
  return result;
}

}  // namespace mobix::krb
