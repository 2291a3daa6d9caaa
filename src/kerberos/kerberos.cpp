#include "kerberos/kerberos.hpp"

#include "kerberos/gss_util.hpp"

#include <atomic>
#include <cstdlib>

#include <openssl/evp.h>

namespace mobix::krb {

namespace {

// SPNEGO's mechanism (RFC 4178 section 3: 1.3.6.1.5.5.2).
gss_OID_desc kSpnego{6, const_cast<char*>("\x2b\x06\x01\x05\x05\x02")};

using detail::Context;

KerberosError::Kind kind_of(krb5_error_code rc) {
  switch (rc) {
    case KRB5_KDC_UNREACH:
    case KRB5_REALM_CANT_RESOLVE:
      return KerberosError::Kind::kdc_unreachable;
    case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
    case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN:
      return KerberosError::Kind::unknown_principal;
    case KRB5_KT_NOTFOUND:
    case KRB5_KT_END:
    case ENOENT:
      return KerberosError::Kind::no_key;
    case KRB5KDC_ERR_PREAUTH_FAILED:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY:
      return KerberosError::Kind::wrong_key;
    default:
      return KerberosError::Kind::other;
  }
}

}  // namespace

namespace detail {

std::string gss_message(OM_uint32 major, OM_uint32 minor) {
  std::string out;
  for (auto [code, type] : {std::pair{major, GSS_C_GSS_CODE}, std::pair{minor, GSS_C_MECH_CODE}}) {
    OM_uint32 ctx = 0, m = 0;
    do {
      gss_buffer_desc b{};
      gss_display_status(&m, code, type, GSS_C_NO_OID, &ctx, &b);
      if (b.length) out += (out.empty() ? "" : ": ") + std::string(static_cast<char*>(b.value), b.length);
      gss_release_buffer(&m, &b);
    } while (ctx);
  }
  return out;
}

// The mechanism glue renumbers minor codes, so a Kerberos error is recognised by its com_err text
// (the same krb5_err table the library formats it from).
bool minor_is(const std::string& message, krb5_error_code code) {
  static thread_local Context ctx;  // no extended message is set on it: the table's text comes back
  auto text = ctx.message(code);
  return !text.empty() && message.find(text) != std::string::npos;
}

KerberosError::Kind kind_of_message(const std::string& message) {
  for (auto code : {KRB5_KDC_UNREACH, KRB5_REALM_CANT_RESOLVE, KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN,
                    KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN, KRB5_KT_NOTFOUND, KRB5KDC_ERR_PREAUTH_FAILED})
    if (minor_is(message, code)) return kind_of(code);
  return KerberosError::Kind::other;
}

std::string to_string(const gss_buffer_desc& b) {
  return std::string(static_cast<const char*>(b.value), b.length);
}

AcceptRefusal classify_refusal(OM_uint32 major, const std::string& message) {
  if (GSS_ROUTINE_ERROR(major) == GSS_S_DUPLICATE_TOKEN || minor_is(message, KRB5KRB_AP_ERR_REPEAT))
    return AcceptRefusal::replayed;
  if (GSS_ROUTINE_ERROR(major) == GSS_S_CREDENTIALS_EXPIRED || minor_is(message, KRB5KRB_AP_ERR_TKT_EXPIRED))
    return AcceptRefusal::expired;
  if (minor_is(message, KRB5KRB_AP_ERR_SKEW)) return AcceptRefusal::clock_skew;
  // MIT replaces the table text of a ticket for another server with its own ("Request ticket server
  // X not found in keytab", "Server principal X does not match request ticket server Y").
  if (minor_is(message, KRB5KRB_AP_WRONG_PRINC) || minor_is(message, KRB5_KT_NOTFOUND) ||
      minor_is(message, KRB5KRB_AP_ERR_NOKEY) || minor_is(message, KRB5KRB_AP_ERR_NOT_US) ||
      message.find("not found in keytab") != std::string::npos ||
      message.find("does not match request ticket server") != std::string::npos)
    return AcceptRefusal::wrong_service;
  if (GSS_ROUTINE_ERROR(major) == GSS_S_DEFECTIVE_TOKEN || major == GSS_S_CONTINUE_NEEDED)
    return AcceptRefusal::malformed;
  return AcceptRefusal::other;
}

gss_cred_id_t initiator_cred(const std::string& ccache, const std::string& principal) {
  OM_uint32 minor = 0, m2 = 0;
  gss_key_value_element_desc el{"ccache", ccache.c_str()};
  gss_key_value_set_desc store{1, &el};
  gss_name_t me = GSS_C_NO_NAME;
  gss_buffer_desc pn{principal.size(), const_cast<char*>(principal.data())};
  gss_import_name(&minor, &pn, GSS_KRB5_NT_PRINCIPAL_NAME, &me);
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
  auto major = gss_acquire_cred_from(&minor, me, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_INITIATE, &store,
                                     &cred, nullptr, nullptr);
  gss_release_name(&m2, &me);
  if (GSS_ERROR(major))
    throw KerberosError(KerberosError::Kind::other,
                        "credentials of " + principal + ": " + gss_message(major, minor));
  return cred;
}

gss_cred_id_t acceptor_cred(const std::string& keytab) {
  OM_uint32 minor = 0;
  gss_key_value_element_desc el{"keytab", keytab.c_str()};
  gss_key_value_set_desc store{1, &el};
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
  auto major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_ACCEPT,
                                     &store, &cred, nullptr, nullptr);
  if (GSS_ERROR(major))
    throw KerberosError(KerberosError::Kind::no_key,
                        "service keytab " + keytab + ": " + gss_message(major, minor));
  return cred;
}

}  // namespace detail

using namespace detail;

namespace {
std::atomic<unsigned> g_ccache_seq{0};
}  // namespace

const char* to_string(KerberosError::Kind k) {
  switch (k) {
    case KerberosError::Kind::kdc_unreachable:
      return "kdc_unreachable";
    case KerberosError::Kind::unknown_principal:
      return "unknown_principal";
    case KerberosError::Kind::no_key:
      return "no_key";
    case KerberosError::Kind::wrong_key:
      return "wrong_key";
    case KerberosError::Kind::other:
      return "kerberos_error";
  }
  return "kerberos_error";
}

const char* to_string(AcceptRefusal r) {
  switch (r) {
    case AcceptRefusal::malformed:
      return "malformed";
    case AcceptRefusal::replayed:
      return "replayed";
    case AcceptRefusal::expired:
      return "expired";
    case AcceptRefusal::clock_skew:
      return "clock_skew";
    case AcceptRefusal::wrong_service:
      return "wrong_service";
    case AcceptRefusal::other:
      return "refused";
  }
  return "refused";
}

void configure_process(const std::string& krb5_conf, const std::string& rcache_dir) {
  if (!krb5_conf.empty()) setenv("KRB5_CONFIG", krb5_conf.c_str(), 1);
  if (!rcache_dir.empty()) setenv("KRB5RCACHEDIR", rcache_dir.c_str(), 1);
}

std::string base64_encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64_decode(const std::string& text) {
  if (text.empty() || text.size() % 4 || text.size() > (64 << 10)) return {};
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return {};
  std::size_t pad = text.ends_with("==") ? 2 : (text.ends_with('=') ? 1 : 0);
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// ---- Credentials ----

std::unique_ptr<Credentials> Credentials::from_keytab(const std::string& principal, KeyTable& keytab) {
  auto keys = keytab.keys_of(principal);
  if (!keys)
    throw KerberosError(KerberosError::Kind::no_key,
                        "keytab " + keytab.path() + " has no key for " + principal);
  Context ctx;
  auto c = ctx.get();
  detail::ThreadKeytab kt(ctx, principal, *keys);
  krb5_principal p = nullptr;
  krb5_get_init_creds_opt* opt = nullptr;
  krb5_creds creds{};
  krb5_ccache cc = nullptr;
  auto fail = [&](krb5_error_code rc, const std::string& step) {
    auto msg = step + " for " + principal + ": " + ctx.message(rc);
    if (cc) krb5_cc_destroy(c, cc);
    krb5_free_cred_contents(c, &creds);
    if (opt) krb5_get_init_creds_opt_free(c, opt);
    if (p) krb5_free_principal(c, p);
    throw KerberosError(kind_of(rc), msg);
  };
  if (auto rc = krb5_parse_name(c, principal.c_str(), &p)) fail(rc, "bad principal name");
  if (auto rc = krb5_get_init_creds_opt_alloc(c, &opt)) fail(rc, "options");
  if (auto rc = krb5_get_init_creds_keytab(c, &creds, p, kt.get(), 0, nullptr, opt))
    fail(rc, "initial tickets");
  auto name = "MEMORY:mobix-" + std::to_string(++g_ccache_seq);
  if (auto rc = krb5_cc_resolve(c, name.c_str(), &cc)) fail(rc, "credentials cache");
  if (auto rc = krb5_cc_initialize(c, cc, p)) fail(rc, "credentials cache");
  if (auto rc = krb5_cc_store_cred(c, cc, &creds)) fail(rc, "credentials cache");
  std::int64_t expires = creds.times.endtime;
  krb5_cc_close(c, cc);  // a MEMORY cache lives on until destroyed (~Credentials)
  krb5_free_cred_contents(c, &creds);
  krb5_get_init_creds_opt_free(c, opt);
  krb5_free_principal(c, p);
  return std::unique_ptr<Credentials>(new Credentials(principal, name, expires));
}

Credentials::~Credentials() {
  try {
    Context ctx;
    krb5_ccache cc = nullptr;
    if (krb5_cc_resolve(ctx.get(), ccache_.c_str(), &cc) == 0) krb5_cc_destroy(ctx.get(), cc);
  } catch (...) {
  }
}

// ---- SpnegoInitiator ----

struct SpnegoInitiator::Impl {
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
  gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
  gss_name_t target = GSS_C_NO_NAME;
  std::string ccache, principal;
  ~Impl() {
    OM_uint32 m = 0;
    if (ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&m, &ctx, GSS_C_NO_BUFFER);
    if (cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&m, &cred);
    if (target != GSS_C_NO_NAME) gss_release_name(&m, &target);
  }
  OM_uint32 step(const gss_buffer_t in, std::string& out, OM_uint32& minor) {
    gss_buffer_desc tok{};
    OM_uint32 m2 = 0;
    auto major = gss_init_sec_context(&minor, cred, &ctx, target, &kSpnego,
                                      GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG, 0,
                                      GSS_C_NO_CHANNEL_BINDINGS, in, nullptr, &tok, nullptr, nullptr);
    out = to_string(tok);
    gss_release_buffer(&m2, &tok);
    return major;
  }
};

SpnegoInitiator::SpnegoInitiator(const Credentials& creds, const std::string& host) : impl_(new Impl) {
  impl_->ccache = creds.ccache();
  impl_->principal = creds.principal();
  OM_uint32 minor = 0;
  std::string service = "HTTP@" + host;
  gss_buffer_desc name{service.size(), service.data()};
  gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &impl_->target);
}

SpnegoInitiator::~SpnegoInitiator() = default;

std::string SpnegoInitiator::first_token() {
  impl_->cred = initiator_cred(impl_->ccache, impl_->principal);
  OM_uint32 minor = 0;
  std::string out;
  auto major = impl_->step(GSS_C_NO_BUFFER, out, minor);
  if (GSS_ERROR(major)) {
    auto message = gss_message(major, minor);
    throw KerberosError(kind_of_message(message), "service ticket for " + impl_->principal + ": " + message);
  }
  return base64_encode(out);
}

bool SpnegoInitiator::verify_server(const std::string& token) {
  auto raw = base64_decode(token);
  if (raw.empty() || impl_->ctx == GSS_C_NO_CONTEXT) return false;
  gss_buffer_desc in{raw.size(), raw.data()};
  std::string out;
  OM_uint32 minor = 0;
  return impl_->step(&in, out, minor) == GSS_S_COMPLETE;
}

// ---- SpnegoAcceptor ----

struct SpnegoAcceptor::Impl {
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
  ~Impl() {
    OM_uint32 m = 0;
    if (cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&m, &cred);
  }
};

SpnegoAcceptor::SpnegoAcceptor(const std::string& keytab) : impl_(new Impl) {
  impl_->cred = acceptor_cred("FILE:" + keytab);
}

SpnegoAcceptor::~SpnegoAcceptor() = default;

std::variant<SpnegoAcceptor::Accepted, SpnegoAcceptor::Refused> SpnegoAcceptor::accept(
    const std::string& token) {
  auto raw = base64_decode(token);
  if (raw.empty()) return Refused{Refusal::malformed, "not base64"};
  gss_buffer_desc in{raw.size(), raw.data()};
  gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
  gss_name_t client = GSS_C_NO_NAME;
  gss_buffer_desc out{};
  OM_uint32 minor = 0, m2 = 0;
  auto major = gss_accept_sec_context(&minor, &ctx, impl_->cred, &in, GSS_C_NO_CHANNEL_BINDINGS, &client,
                                      nullptr, &out, nullptr, nullptr, nullptr);
  std::variant<Accepted, Refused> result;
  if (major == GSS_S_COMPLETE) {
    gss_buffer_desc name{};
    gss_display_name(&m2, client, &name, nullptr);
    result = Accepted{to_string(name), out.length ? base64_encode(to_string(out)) : std::string()};
    gss_release_buffer(&m2, &name);
  } else {
    // A single round trip is all HTTP Negotiate allows here: anything else is a refusal.
    auto message = gss_message(major, minor);
    auto why = classify_refusal(major, message);
    result = Refused{why, message};
  }
  gss_release_buffer(&m2, &out);
  if (client != GSS_C_NO_NAME) gss_release_name(&m2, &client);
  if (ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&m2, &ctx, GSS_C_NO_BUFFER);
  return result;
}

}  // namespace mobix::krb
