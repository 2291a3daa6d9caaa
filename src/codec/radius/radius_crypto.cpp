// Authenticators and attribute hiding for RADIUS, on OpenSSL 3's MD5 and HMAC-MD5.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "codec/radius/radius.hpp"

namespace mobix::radius {
namespace {

using Bytes = std::vector<std::uint8_t>;

// MD5 over the concatenation of parts.
Authenticator md5(std::initializer_list<std::span<const std::uint8_t>> parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Authenticator out{};
  unsigned int n = 0;
  if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("MD5 unavailable");
  }
  for (auto p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  EVP_DigestFinal_ex(ctx, out.data(), &n);
  EVP_MD_CTX_free(ctx);
  return out;
}

Authenticator hmac_md5(std::string_view key, std::span<const std::uint8_t> data) {
  Authenticator out{};
  unsigned int n = 0;
  HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &n);
  return out;
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Offset of the Message-Authenticator value inside a well-formed packet, or 0.
std::size_t message_authenticator_offset(std::span<const std::uint8_t> raw) {
  if (raw.size() < kHeaderSize) return 0;
  std::size_t length = std::min<std::size_t>(raw.size(), (std::size_t{raw[2]} << 8) | raw[3]);
  std::size_t pos = kHeaderSize;
  while (pos + 2 <= length) {
    std::size_t alen = raw[pos + 1];
    if (alen < 2 || pos + alen > length) return 0;
    if (raw[pos] == attr::message_authenticator) return alen == 18 ? pos + 2 : 0;
    pos += alen;
  }
  return 0;
}

// HMAC-MD5 over `raw` with the authenticator field replaced by `auth` and the
// Message-Authenticator value zeroed (RFC 3579 section 3.2).
Authenticator compute_message_authenticator(std::span<const std::uint8_t> raw, std::size_t ma_off,
                                            const Authenticator& auth, std::string_view secret) {
  Bytes copy(raw.begin(), raw.end());
  std::copy(auth.begin(), auth.end(), copy.begin() + 4);
  std::fill_n(copy.begin() + static_cast<std::ptrdiff_t>(ma_off), 16, 0);
  return hmac_md5(secret, copy);
}

void fill_message_authenticator(Bytes& raw, const Authenticator& auth, std::string_view secret) {
  auto off = message_authenticator_offset(raw);
  if (!off) return;
  auto mac = compute_message_authenticator(raw, off, auth, secret);
  std::copy(mac.begin(), mac.end(), raw.begin() + static_cast<std::ptrdiff_t>(off));
}

Authenticator response_authenticator(std::span<const std::uint8_t> raw, const Authenticator& request_auth,
                                     std::string_view secret) {
  return md5({raw.subspan(0, 4), request_auth, raw.subspan(kHeaderSize), as_bytes(secret)});
}

}  // namespace

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

MessageAuthenticatorCheck check_request_message_authenticator(std::span<const std::uint8_t> raw,
                                                              std::string_view secret) {
  auto off = message_authenticator_offset(raw);
  if (!off) {
    // Present but with a wrong length counts as invalid, not absent.
    for (std::size_t pos = kHeaderSize; pos + 2 <= raw.size() && raw[pos + 1] >= 2; pos += raw[pos + 1])
      if (raw[pos] == attr::message_authenticator) return MessageAuthenticatorCheck::invalid;
    return MessageAuthenticatorCheck::absent;
  }
  Authenticator auth;
  std::copy_n(raw.begin() + 4, 16, auth.begin());
  auto mac = compute_message_authenticator(raw, off, auth, secret);
  return constant_time_equal(mac, raw.subspan(off, 16)) ? MessageAuthenticatorCheck::valid
                                                        : MessageAuthenticatorCheck::invalid;
}

bool verify_accounting_request(std::span<const std::uint8_t> raw, std::string_view secret) {
  if (raw.size() < kHeaderSize) return false;
  static const Authenticator zero{};
  auto expect = md5({raw.subspan(0, 4), zero, raw.subspan(kHeaderSize), as_bytes(secret)});
  return constant_time_equal(expect, raw.subspan(4, 16));
}

bool verify_response(std::span<const std::uint8_t> raw, const Authenticator& request_auth,
                     std::string_view secret) {
  if (raw.size() < kHeaderSize) return false;
  if (!constant_time_equal(response_authenticator(raw, request_auth, secret), raw.subspan(4, 16)))
    return false;
  if (auto off = message_authenticator_offset(raw)) {
    auto mac = compute_message_authenticator(raw, off, request_auth, secret);
    if (!constant_time_equal(mac, raw.subspan(off, 16))) return false;
  }
  return true;
}

std::vector<std::uint8_t> encode_response(Packet p, const Authenticator& request_auth,
                                          std::string_view secret) {
  p.authenticator = request_auth;
  auto raw = encode(p);
  fill_message_authenticator(raw, request_auth, secret);
  auto ra = response_authenticator(raw, request_auth, secret);
  std::copy(ra.begin(), ra.end(), raw.begin() + 4);
  return raw;
}

Authenticator random_authenticator() {
  Authenticator a{};
  if (RAND_bytes(a.data(), static_cast<int>(a.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return a;
}

std::vector<std::uint8_t> encode_access_request(Packet p, std::string_view secret) {
  static const Authenticator zero{};
  if (p.authenticator == zero) p.authenticator = random_authenticator();
  auto raw = encode(p);
  fill_message_authenticator(raw, p.authenticator, secret);
  return raw;
}

std::vector<std::uint8_t> encode_accounting_request(Packet p, std::string_view secret) {
  p.authenticator = {};
  auto raw = encode(p);
  static const Authenticator zero{};
  fill_message_authenticator(raw, zero, secret);
  auto ra = md5({std::span<const std::uint8_t>(raw).subspan(0, 4), zero,
                 std::span<const std::uint8_t>(raw).subspan(kHeaderSize), as_bytes(secret)});
  std::copy(ra.begin(), ra.end(), raw.begin() + 4);
  return raw;
}

std::vector<std::uint8_t> hide_password(std::string_view password, const Authenticator& request_auth,
                                        std::string_view secret) {
  std::size_t n = std::max<std::size_t>(16, (std::min<std::size_t>(password.size(), 128) + 15) / 16 * 16);
  Bytes plain(n, 0);
  std::copy_n(password.begin(), std::min(password.size(), n), plain.begin());
  Bytes out(n);
  std::span<const std::uint8_t> prev = request_auth;
  for (std::size_t i = 0; i < n; i += 16) {
    auto b = md5({as_bytes(secret), prev});
    for (std::size_t j = 0; j < 16; ++j) out[i + j] = plain[i + j] ^ b[j];
    prev = std::span<const std::uint8_t>(out).subspan(i, 16);
  }
  return out;
}

std::optional<std::string> unhide_password(std::span<const std::uint8_t> hidden,
                                           const Authenticator& request_auth, std::string_view secret) {
  if (hidden.empty() || hidden.size() % 16 != 0 || hidden.size() > 128) return std::nullopt;
  std::string out(hidden.size(), '\0');
  std::span<const std::uint8_t> prev = request_auth;
  for (std::size_t i = 0; i < hidden.size(); i += 16) {
    auto b = md5({as_bytes(secret), prev});
    for (std::size_t j = 0; j < 16; ++j) out[i + j] = static_cast<char>(hidden[i + j] ^ b[j]);
    prev = hidden.subspan(i, 16);
  }
  auto end = out.find('\0');
  if (end != std::string::npos) out.resize(end);
  return out;
}

bool verify_chap(const Packet& request, std::string_view password) {
  auto* cp = request.find(attr::chap_password);
  if (!cp || cp->value.size() != 17) return false;
  std::span<const std::uint8_t> challenge = request.authenticator;
  if (auto* ch = request.find(attr::chap_challenge)) challenge = ch->value;
  std::uint8_t ident = cp->value[0];
  auto expect = md5({std::span<const std::uint8_t>(&ident, 1), as_bytes(password), challenge});
  return constant_time_equal(expect, std::span<const std::uint8_t>(cp->value).subspan(1, 16));
}

}  // namespace mobix::radius
