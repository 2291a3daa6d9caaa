#include "codec/radius/radius.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace mobix::radius {

std::string_view to_string(DecodeError e) {
  switch (e) {
    case DecodeError::too_short:
      return "too_short";
    case DecodeError::too_long:
      return "too_long";
    case DecodeError::length_mismatch:
      return "length_mismatch";
    case DecodeError::bad_attribute:
      return "bad_attribute";
    case DecodeError::unknown_code:
      return "unknown_code";
  }
  return "unknown";
}

void throw_exception_from_error(DecodeError e, const boost::source_location&) {
  throw std::invalid_argument("RADIUS decode error: " + std::string(to_string(e)));
}

namespace {
bool known_code(std::uint8_t c) {
  switch (c) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 11:
    case 12:
    case 13:
      return true;
    default:
      return false;
  }
}
}  // namespace

boost::system::result<Packet, DecodeError> decode(std::span<const std::uint8_t> b) {
  if (b.size() < kHeaderSize) return DecodeError::too_short;
  if (b.size() > kMaxPacketSize) return DecodeError::too_long;
  std::size_t length = (std::size_t{b[2]} << 8) | b[3];
  // RFC 2865 section 3: octets past Length are padding and ignored; a short datagram is discarded.
  if (length < kHeaderSize || length > b.size()) return DecodeError::length_mismatch;
  if (!known_code(b[0])) return DecodeError::unknown_code;
  Packet p;
  p.code = static_cast<Code>(b[0]);
  p.identifier = b[1];
  std::copy_n(b.begin() + 4, 16, p.authenticator.begin());
  std::size_t pos = kHeaderSize;
  while (pos < length) {
    if (length - pos < 2) return DecodeError::bad_attribute;
    std::uint8_t type = b[pos];
    std::size_t alen = b[pos + 1];
    if (alen < 2 || pos + alen > length) return DecodeError::bad_attribute;
    Attribute a;
    a.type = type;
    a.value.assign(b.begin() + pos + 2, b.begin() + pos + alen);
    p.attributes.push_back(std::move(a));
    pos += alen;
  }
  return p;
}

std::vector<std::uint8_t> encode(const Packet& p) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + 64);
  out.push_back(static_cast<std::uint8_t>(p.code));
  out.push_back(p.identifier);
  out.push_back(0);
  out.push_back(0);
  out.insert(out.end(), p.authenticator.begin(), p.authenticator.end());
  for (const auto& a : p.attributes) {
    std::size_t n = std::min<std::size_t>(a.value.size(), 253);
    if (out.size() + 2 + n > kMaxPacketSize) break;
    out.push_back(a.type);
    out.push_back(static_cast<std::uint8_t>(n + 2));
    out.insert(out.end(), a.value.begin(), a.value.begin() + static_cast<std::ptrdiff_t>(n));
  }
  out[2] = static_cast<std::uint8_t>(out.size() >> 8);
  out[3] = static_cast<std::uint8_t>(out.size() & 0xff);
  return out;
}

const Attribute* Packet::find(std::uint8_t type) const {
  for (const auto& a : attributes)
    if (a.type == type) return &a;
  return nullptr;
}

std::optional<std::string> Packet::text(std::uint8_t type) const {
  auto* a = find(type);
  if (!a) return std::nullopt;
  return std::string(a->value.begin(), a->value.end());
}

std::optional<std::uint32_t> Packet::integer(std::uint8_t type) const {
  auto* a = find(type);
  if (!a || a->value.size() != 4) return std::nullopt;
  return (std::uint32_t{a->value[0]} << 24) | (std::uint32_t{a->value[1]} << 16) |
         (std::uint32_t{a->value[2]} << 8) | a->value[3];
}

std::optional<std::string> Packet::ipv4(std::uint8_t type) const {
  auto* a = find(type);
  if (!a || a->value.size() != 4) return std::nullopt;
  char buf[INET_ADDRSTRLEN];
  if (!inet_ntop(AF_INET, a->value.data(), buf, sizeof buf)) return std::nullopt;
  return std::string(buf);
}

std::optional<std::string> Packet::ipv6_prefix() const {
  // RFC 3162 section 2.3: Reserved(1) Prefix-Length(1) Prefix(0..16)
  auto* a = find(attr::framed_ipv6_prefix);
  if (!a || a->value.size() < 2 || a->value.size() > 18) return std::nullopt;
  unsigned len = a->value[1];
  if (len > 128 || (len + 7) / 8 > a->value.size() - 2) return std::nullopt;
  unsigned char addr[16] = {};
  std::copy(a->value.begin() + 2, a->value.end(), addr);
  // Clear bits past the prefix length so equal prefixes compare equal.
  for (unsigned i = 0; i < 16; ++i) {
    unsigned keep = len > i * 8 ? std::min(8u, len - i * 8) : 0;
    addr[i] &= static_cast<unsigned char>(keep == 8 ? 0xff : (0xff << (8 - keep)) & 0xff);
  }
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, addr, buf, sizeof buf)) return std::nullopt;
  return std::string(buf) + "/" + std::to_string(len);
}

std::optional<std::string> Packet::vendor_text(std::uint32_t vendor, std::uint8_t type) const {
  for (const auto& a : attributes) {
    if (a.type != attr::vendor_specific || a.value.size() < 6) continue;
    std::uint32_t v = (std::uint32_t{a.value[0]} << 24) | (std::uint32_t{a.value[1]} << 16) |
                      (std::uint32_t{a.value[2]} << 8) | a.value[3];
    if (v != vendor) continue;
    std::size_t pos = 4;
    while (pos + 2 <= a.value.size()) {
      std::uint8_t t = a.value[pos];
      std::size_t l = a.value[pos + 1];
      if (l < 2 || pos + l > a.value.size()) break;
      if (t == type) return std::string(a.value.begin() + pos + 2, a.value.begin() + pos + l);
      pos += l;
    }
  }
  return std::nullopt;
}

void Packet::add(std::uint8_t type, std::span<const std::uint8_t> value) {
  attributes.push_back(Attribute{type, std::vector<std::uint8_t>(value.begin(), value.end())});
}

void Packet::add_text(std::uint8_t type, std::string_view value) {
  add(type, std::span(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
}

void Packet::add_integer(std::uint8_t type, std::uint32_t v) {
  std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                       static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  add(type, b);
}

bool Packet::add_ipv4(std::uint8_t type, std::string_view dotted) {
  std::uint8_t b[4];
  if (inet_pton(AF_INET, std::string(dotted).c_str(), b) != 1) return false;
  add(type, b);
  return true;
}

void Packet::add_vendor_text(std::uint32_t vendor, std::uint8_t type, std::string_view value) {
  std::vector<std::uint8_t> v{static_cast<std::uint8_t>(vendor >> 24),
                              static_cast<std::uint8_t>(vendor >> 16),
                              static_cast<std::uint8_t>(vendor >> 8),
                              static_cast<std::uint8_t>(vendor),
                              type,
                              static_cast<std::uint8_t>(std::min<std::size_t>(value.size(), 245) + 2)};
  v.insert(v.end(), value.begin(),
           value.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(value.size(), 245)));
  attributes.push_back(Attribute{attr::vendor_specific, std::move(v)});
}

void Packet::add_message_authenticator() {
  attributes.push_back(Attribute{attr::message_authenticator, std::vector<std::uint8_t>(16, 0)});
}

}  // namespace mobix::radius
