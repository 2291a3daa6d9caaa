#include "codec/signal/signal.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/hex.hpp"

namespace mobix::signal {

namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeader = 14;  // version, key id, nonce
constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;

using Ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
void put64(std::vector<std::uint8_t>& b, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

// Reads the body with bounds checks; nullopt on any inconsistency.
struct Reader {
  std::span<const std::uint8_t> b;
  std::size_t at = 0;
  bool has(std::size_t n) const { return b.size() - at >= n; }
  std::uint64_t get(std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | b[at++];
    return v;
  }
};

}  // namespace

std::optional<AccessRequest> decode_body(std::span<const std::uint8_t> body) {
  Reader r{body};
  AccessRequest a;
  if (!r.has(8 + 4 + 1)) return std::nullopt;
  a.tunnel_id = r.get(8);
  a.expires = static_cast<std::uint32_t>(r.get(4));
  auto family = r.get(1);
  char text[INET6_ADDRSTRLEN] = {};
  if (family == 4) {
    if (!r.has(4)) return std::nullopt;
    inet_ntop(AF_INET, body.data() + r.at, text, sizeof text);
    r.at += 4;
  } else if (family == 6) {
    if (!r.has(16)) return std::nullopt;
    inet_ntop(AF_INET6, body.data() + r.at, text, sizeof text);
    r.at += 16;
  } else {
    return std::nullopt;
  }
  a.relay_ip = text;
  if (!r.has(2 + 2 + 1 + kOneTimeKeySize + 1)) return std::nullopt;
  a.callback_port = static_cast<std::uint16_t>(r.get(2));
  a.target_port = static_cast<std::uint16_t>(r.get(2));
  auto proto = r.get(1);
  if (proto > 3) return std::nullopt;
  a.protocol = static_cast<Protocol>(proto);
  std::copy_n(body.data() + r.at, kOneTimeKeySize, a.one_time_key.begin());
  r.at += kOneTimeKeySize;
  auto len = r.get(1);
  if (len < 1 || len > 15 || !r.has(len)) return std::nullopt;
  a.msisdn.assign(reinterpret_cast<const char*>(body.data() + r.at), len);
  r.at += len;
  if (r.at != body.size()) return std::nullopt;  // no trailing octets
  if (!std::all_of(a.msisdn.begin(), a.msisdn.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  if (a.callback_port == 0 || a.target_port == 0) return std::nullopt;
  return a;
}

std::optional<Key> key_from_hex(std::string_view hex) {
  auto octets = decode_hex(hex);
  if (!octets || octets->size() != kKeySize) return std::nullopt;
  Key k;
  std::copy(octets->begin(), octets->end(), k.begin());
  return k;
}

const char* to_string(Error e) {
  switch (e) {
    case Error::too_short:
      return "too short";
    case Error::bad_version:
      return "unknown version";
    case Error::unknown_key:
      return "unknown key id";
    case Error::forged:
      return "authentication failed (wrong key, tampered or truncated)";
    case Error::malformed_body:
      return "malformed body";
    case Error::bad_field:
      return "a field cannot be encoded";
  }
  return "?";
}

std::optional<std::vector<std::uint8_t>> encode_body(const AccessRequest& r) {
  if (r.msisdn.empty() || r.msisdn.size() > 15 ||
      !std::all_of(r.msisdn.begin(), r.msisdn.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      r.callback_port == 0 || r.target_port == 0)
    return std::nullopt;
  std::vector<std::uint8_t> body;
  put64(body, r.tunnel_id);
  put32(body, r.expires);
  std::uint8_t addr[16];
  if (inet_pton(AF_INET, r.relay_ip.c_str(), addr) == 1) {
    body.push_back(4);
    body.insert(body.end(), addr, addr + 4);
  } else if (inet_pton(AF_INET6, r.relay_ip.c_str(), addr) == 1) {
    body.push_back(6);
    body.insert(body.end(), addr, addr + 16);
  } else {
    return std::nullopt;
  }
  put16(body, r.callback_port);
  put16(body, r.target_port);
  body.push_back(static_cast<std::uint8_t>(r.protocol));
  body.insert(body.end(), r.one_time_key.begin(), r.one_time_key.end());
  body.push_back(static_cast<std::uint8_t>(r.msisdn.size()));
  body.insert(body.end(), r.msisdn.begin(), r.msisdn.end());

  return body;
}

std::variant<std::vector<std::uint8_t>, Error> seal(const AccessRequest& r, std::uint8_t key_id,
                                                    const Key& key) {
  auto encoded = encode_body(r);
  if (!encoded) return Error::bad_field;
  const auto& body = *encoded;
  std::vector<std::uint8_t> out(kHeader + body.size() + kTag);
  out[0] = kVersion;
  out[1] = key_id;
  if (RAND_bytes(out.data() + 2, kNonce) != 1) throw std::runtime_error("RAND_bytes failed");
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int n = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, key.data(), out.data() + 2) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &n, out.data(), kHeader) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kHeader, &n, body.data(), static_cast<int>(body.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kHeader + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTag, out.data() + kHeader + body.size()) != 1)
    throw std::runtime_error("ChaCha20-Poly1305 encryption failed");
  return out;
}

std::variant<AccessRequest, Error> open(std::span<const std::uint8_t> sealed, const Keyring& keys) {
  if (sealed.size() < kHeader + kTag + 1) return Error::too_short;
  if (sealed[0] != kVersion) return Error::bad_version;
  auto k = keys.find(sealed[1]);
  if (k == keys.end()) return Error::unknown_key;
  const std::size_t body_len = sealed.size() - kHeader - kTag;
  std::vector<std::uint8_t> body(body_len);
  std::uint8_t tag[kTag];
  std::memcpy(tag, sealed.data() + kHeader + body_len, kTag);
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int n = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, k->second.data(), sealed.data() + 2) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &n, sealed.data(), kHeader) != 1 ||
      EVP_DecryptUpdate(ctx.get(), body.data(), &n, sealed.data() + kHeader, static_cast<int>(body_len)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTag, tag) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), body.data() + n, &n) != 1)
    return Error::forged;  // the tag is checked by OpenSSL in constant time
  auto r = decode_body(body);
  if (!r) return Error::malformed_body;
  return *r;
}

ReplayGuard::Verdict ReplayGuard::check(const AccessRequest& r, std::uint32_t now) {
  std::erase_if(seen_, [now](const auto& kv) { return kv.second < now; });
  if (r.expires < now) return Verdict::expired;
  if (r.expires - now > max_lifetime_) return Verdict::too_far_ahead;
  if (!seen_.emplace(r.tunnel_id, r.expires).second) return Verdict::replayed;
  return Verdict::accept;
}

const char* to_string(ReplayGuard::Verdict v) {
  switch (v) {
    case ReplayGuard::Verdict::accept:
      return "accepted";
    case ReplayGuard::Verdict::expired:
      return "expired";
    case ReplayGuard::Verdict::too_far_ahead:
      return "expiry too far ahead";
    case ReplayGuard::Verdict::replayed:
      return "replayed";
  }
  return "?";
}

}  // namespace mobix::signal
