#pragma once
// One LDAP entry as a subscriber: the attribute map applied, then the same rules as a subscriber
// provisioned through the admin API. The operator's directory is trusted for who a subscriber is,
// not for the shape of its values: an MSISDN the signal codec cannot carry or a CR LF in a mail
// password must not reach a protocol line. Pure (no libldap), so fuzz_ldap_entry can reach it.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/records.hpp"

namespace mobix {

/// mobix field -> LDAP attribute, in the order the fields are read.
using LdapAttributeMap = std::vector<std::pair<std::string, std::string>>;

/// inetOrgPerson (RFC 2798) where it has the field; the rest from examples/ldap/mobix.schema.
LdapAttributeMap default_ldap_attributes();

/// The first value of an attribute of the entry, or nullopt when it has none.
using LdapFirstValue = std::function<std::optional<std::string>(const std::string& attribute)>;

/// A stable positive id for an entry, from its DN (sessions and sticky leases refer to it and survive
/// restarts, so it must not depend on the process). FNV-1a 64, top bits cleared.
std::int64_t id_from_dn(std::string_view dn);

/// Throws std::invalid_argument naming the LDAP attribute and what is wrong with its value.
Subscriber subscriber_from_entry(std::string_view dn, const LdapAttributeMap& map,
                                 const LdapFirstValue& value);

/// The DN an entry sits under ("mobixIdentityCode=X,uid=alice,ou=s,dc=t" -> "uid=alice,ou=s,dc=t"),
/// RFC 4514 escapes ("\\,") respected; empty for a DN of one RDN.
std::string parent_dn(std::string_view dn);

/// Seed 003's devices live in LDAP as mobixDevice entries under their subscriber's entry
/// (examples/ldap/mobix.schema): the subscriber is the parent entry, so its id is id_from_dn(parent).
/// Throws std::invalid_argument naming the attribute; the key is never quoted.
Device device_from_entry(std::string_view dn, const LdapFirstValue& value);

}  // namespace mobix
