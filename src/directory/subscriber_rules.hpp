#pragma once
// What makes a subscriber record valid, wherever it comes from (the admin API, the embedded store,
// the operator's LDAP). Pure: no store, no network, so the fuzzers can reach it.
#include <string>
#include <string_view>

#include "store/records.hpp"

namespace mobix {

/// "+31 6-1234 5678" -> "31612345678". Returns empty when it is not a phone number (E.164: 3 to 15
/// digits).
std::string normalize_msisdn(std::string_view s);

/// The subscriber's own field named `name` ("msisdn", "imsi", "username", "serial", "password",
/// "framed_ip", "hostname"), or null for anything else (a profile attribute such as mail.address).
std::string* subscriber_field(Subscriber& s, std::string_view name);

/// Normalises the MSISDN and host name in place; throws std::invalid_argument naming the first bad
/// field. Attribute values reach protocol lines (SMTP envelopes, POP3/IMAP logins), so no control
/// characters anywhere.
void validate_subscriber(Subscriber& s);

/// Seed 003's device record: a globally unique identity code (an IPUI, an IMEI, a serial: 4 to 64 of
/// A-Z a-z 0-9 . _ : -), an IPv4 home address (normalised in place), an SPI of 256 or more (RFC 5944
/// 1.6) and a Mobile IP key of 16 to 64 bytes in hex. Throws std::invalid_argument naming the field,
/// never quoting the key.
void validate_device(Device& d);

}  // namespace mobix
