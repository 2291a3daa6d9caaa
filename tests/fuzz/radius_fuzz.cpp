// libFuzzer target for the RADIUS decoder and everything that reads untrusted packets:
// attribute accessors, authenticator checks, password unhiding and CHAP.
#include <cstddef>
#include <cstdint>

#include "codec/radius/radius.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::radius;
  std::span<const std::uint8_t> raw(data, size);
  (void)check_request_message_authenticator(raw, "fuzz-secret");
  (void)verify_accounting_request(raw, "fuzz-secret");
  auto p = decode(raw);
  if (!p) return 0;
  (void)p->text(attr::user_name);
  (void)p->integer(attr::acct_status_type);
  (void)p->ipv4(attr::framed_ip_address);
  (void)p->ipv6_prefix();
  (void)p->vendor_text(kVendor3gpp, k3gppImsi);
  if (const auto* pw = p->find(attr::user_password))
    (void)unhide_password(pw->value, p->authenticator, "fuzz-secret");
  (void)verify_chap(*p, "password");
  // Re-encoding a decoded packet must give a packet that decodes the same way.
  auto again = decode(encode(*p));
  if (!again || again->attributes.size() > p->attributes.size()) __builtin_trap();
  return 0;
}
