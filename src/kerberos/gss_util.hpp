#pragma once
// GSS-API helpers shared by the HTTP Negotiate (kerberos.cpp) and call keying (call_keying.cpp)
// sides; private to src/kerberos.
#include <string>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>

#include "kerberos/kerberos.hpp"
#include "kerberos/key_table.hpp"

namespace mobix::krb::detail {

/// A krb5 context for the calling thread's work (krb5 contexts are not shared between threads).
class Context {
 public:
  Context() {
    if (auto rc = krb5_init_context(&ctx_))
      throw KerberosError(KerberosError::Kind::other, "krb5_init_context failed: " + std::to_string(rc));
  }
  ~Context() { krb5_free_context(ctx_); }
  krb5_context get() const { return ctx_; }
  std::string message(krb5_error_code rc) const {
    const char* m = krb5_get_error_message(ctx_, rc);
    std::string s = m ? m : "unknown Kerberos error";
    krb5_free_error_message(ctx_, m);
    return s;
  }

 private:
  krb5_context ctx_ = nullptr;
};

/// This thread's in-memory keytab holding one principal's keys while in scope, for the library calls
/// that read keys from a keytab (the AS exchange, the GSS acceptor). MIT never frees a MEMORY keytab,
/// so each thread reuses one of its own. Throws KerberosError (no_key).
class ThreadKeytab {
 public:
  ThreadKeytab(Context& ctx, const std::string& principal, const PrincipalKeys& keys);
  ~ThreadKeytab();
  ThreadKeytab(const ThreadKeytab&) = delete;
  ThreadKeytab& operator=(const ThreadKeytab&) = delete;
  krb5_keytab get() const { return kt_; }
  const std::string& name() const { return name_; }  ///< "MEMORY:..."

 private:
  void clear();    ///< removes every entry (the key bytes are wiped as they are freed)
  void release();  ///< clear() and close
  Context& ctx_;
  std::string name_;
  krb5_keytab kt_ = nullptr;
  krb5_principal principal_ = nullptr;
};

std::string gss_message(OM_uint32 major, OM_uint32 minor);
/// True when `message` (from gss_message) carries the com_err text of `code`.
bool minor_is(const std::string& message, krb5_error_code code);
KerberosError::Kind kind_of_message(const std::string& message);
std::string to_string(const gss_buffer_desc& b);
AcceptRefusal classify_refusal(OM_uint32 major, const std::string& message);
/// An initiator credential for `principal` from its credentials cache. Throws KerberosError.
gss_cred_id_t initiator_cred(const std::string& ccache, const std::string& principal);
/// An acceptor credential for every key in `keytab` ("FILE:..." or "MEMORY:..."). Throws KerberosError.
gss_cred_id_t acceptor_cred(const std::string& keytab);

}  // namespace mobix::krb::detail
