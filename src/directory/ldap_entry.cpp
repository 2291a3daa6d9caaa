#include "directory/ldap_entry.hpp"

#include <stdexcept>

#include "directory/subscriber_rules.hpp"

namespace mobix {

std::int64_t id_from_dn(std::string_view dn) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : dn) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<std::int64_t>((h >> 3) | (1ull << 60));
}

LdapAttributeMap default_ldap_attributes() {
  // inetOrgPerson (RFC 2798) where it has the field; the rest from examples/ldap/mobix.schema.
  return {{"msisdn", "mobile"},
          {"username", "uid"},
          {"imsi", "mobixImsi"},
          {"serial", "mobixSerial"},
          {"password", "mobixAccessPassword"},
          {"framed_ip", "mobixFramedIp"},
          {"hostname", "mobixHostname"},
          {"mail.address", "mail"},
          {"mail.name", "displayName"},
          {"mail.pop3", "mobixMailPop3"},
          {"mail.imap", "mobixMailImap"},
          {"mail.smtp", "mobixMailSmtp"},
          {"mail.pop3_tls", "mobixMailPop3Tls"},
          {"mail.imap_tls", "mobixMailImapTls"},
          {"mail.smtp_tls", "mobixMailSmtpTls"},
          {"mail.user", "mobixMailUser"},
          {"mail.password", "mobixMailPassword"},
          {"mail.smtp_user", "mobixMailSmtpUser"},
          {"mail.smtp_password", "mobixMailSmtpPassword"}};
}

namespace {

// Sets one mobix field from its attribute's value; unknown fields are profile attributes (mail.*).
void assign(Subscriber& s, const std::string& field, std::string v) {
  if (auto* own = subscriber_field(s, field))
    *own = std::move(v);
  else
    s.attrs[field] = std::move(v);
}

// The attribute a validation message's field came from ("msisdn: ..." -> "mobile").
std::string attribute_of(const std::string& message, const LdapAttributeMap& map) {
  auto colon = message.find(':');
  auto field = message.substr(0, colon);
  for (const auto& [f, a] : map)
    if (f == field) return a;
  return "";
}

}  // namespace

Subscriber subscriber_from_entry(std::string_view dn, const LdapAttributeMap& map,
                                 const LdapFirstValue& value) {
  Subscriber s;
  s.id = id_from_dn(dn);
  for (const auto& [field, attr] : map)
    if (auto v = value(attr)) assign(s, field, std::move(*v));
  try {
    validate_subscriber(s);
  } catch (const std::invalid_argument& e) {
    auto attr = attribute_of(e.what(), map);
    throw std::invalid_argument(attr.empty() ? std::string(e.what())
                                             : "attribute " + attr + ": " + std::string(e.what()));
  }
  return s;
}

std::string parent_dn(std::string_view dn) {
  for (std::size_t i = 0; i < dn.size(); ++i) {
    if (dn[i] == '\\')
      ++i;  // an escaped character, whatever it is
    else if (dn[i] == ',')
      return std::string(dn.substr(i + 1));
  }
  return "";
}

Device device_from_entry(std::string_view dn, const LdapFirstValue& value) {
  Device d;
  auto parent = parent_dn(dn);
  if (parent.empty()) throw std::invalid_argument("a device entry must sit under its subscriber's entry");
  d.subscriber_id = id_from_dn(parent);
  d.identity_code = value("mobixIdentityCode").value_or("");
  d.home_address = value("mobixHomeAddress").value_or("");
  d.mip_key_hex = value("mobixMipKey").value_or("");
  auto spi = value("mobixMipSpi").value_or("256");
  std::uint64_t n = 0;
  for (char c : spi) {
    if (c < '0' || c > '9' || n > 0xffffffffu)
      throw std::invalid_argument("attribute mobixMipSpi: not a number");
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (spi.empty() || n > 0xffffffffu) throw std::invalid_argument("attribute mobixMipSpi: not a number");
  d.mip_spi = static_cast<std::uint32_t>(n);
  try {
    validate_device(d);
  } catch (const std::invalid_argument& e) {
    static const std::pair<const char*, const char*> attrs[] = {{"identity_code", "mobixIdentityCode"},
                                                                {"home_address", "mobixHomeAddress"},
                                                                {"mip_spi", "mobixMipSpi"},
                                                                {"mip_key", "mobixMipKey"}};
    std::string what = e.what();
    for (const auto& [field, attr] : attrs)
      if (what.rfind(field, 0) == 0)
        throw std::invalid_argument("attribute " + std::string(attr) + ": " + what);
    throw;
  }
  return d;
}

}  // namespace mobix
