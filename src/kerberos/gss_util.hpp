#pragma once
// GSS-API helpers shared by the HTTP Negotiate (kerberos.cpp) and call keying (call_keying.cpp)
// sides; private to src/kerberos.
#include <string>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>

#include "kerberos/kerberos.hpp"

namespace mobix::krb::detail {

std::string gss_message(OM_uint32 major, OM_uint32 minor);
/// True when `message` (from gss_message) carries the com_err text of `code`.
bool minor_is(const std::string& message, krb5_error_code code);
KerberosError::Kind kind_of_message(const std::string& message);
std::string to_string(const gss_buffer_desc& b);
AcceptRefusal classify_refusal(OM_uint32 major, const std::string& message);
/// An initiator credential for `principal` from its credentials cache. Throws KerberosError.
gss_cred_id_t initiator_cred(const std::string& ccache, const std::string& principal);
/// An acceptor credential for every key in `keytab`. Throws KerberosError.
gss_cred_id_t acceptor_cred(const std::string& keytab);

}  // namespace mobix::krb::detail
