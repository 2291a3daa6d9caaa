#include "codec/peek/peek.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>
#include <vector>

namespace mobix::peek {

namespace {

// A DNS host name as SNI allows it (RFC 6066 3: no trailing dot, ASCII); lower-cased.
std::optional<std::string> host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return std::nullopt;
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '.')) return std::nullopt;
    out.push_back(static_cast<char>(std::tolower(u)));
  }
  if (out.front() == '.' || out.back() == '.' || out.find("..") != std::string::npos) return std::nullopt;
  return out;
}

struct Cursor {
  std::span<const std::uint8_t> b;
  std::size_t at = 0;
  bool has(std::size_t n) const { return b.size() - at >= n; }
  std::size_t get(std::size_t n) {
    std::size_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v << 8 | b[at++];
    return v;
  }
};

}  // namespace

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::need_more:
      return "need more data";
    case Outcome::not_this:
      return "not this protocol";
    case Outcome::no_name:
      return "no name";
    case Outcome::malformed:
      return "malformed";
  }
  return "?";
}

Result tls_sni(std::span<const std::uint8_t> prefix) {
  // Reassemble the handshake layer from consecutive handshake records (RFC 8446 5.1).
  std::vector<std::uint8_t> hs;
  std::size_t at = 0;
  for (;;) {
    if (prefix.size() - at < 5) {
      if (at == 0 && !prefix.empty() && prefix[0] != 0x16) return Outcome::not_this;
      return Outcome::need_more;
    }
    if (prefix[at] != 0x16 || prefix[at + 1] != 0x03) return at == 0 ? Outcome::not_this : Outcome::malformed;
    std::size_t len = static_cast<std::size_t>(prefix[at + 3]) << 8 | prefix[at + 4];
    if (len == 0 || len > 16384) return Outcome::malformed;
    if (prefix.size() - at - 5 < len) {
      // Use what is there: the ClientHello may already be complete in the partial record.
      hs.insert(hs.end(), prefix.begin() + static_cast<long>(at + 5), prefix.end());
      at = prefix.size();
    } else {
      hs.insert(hs.end(), prefix.begin() + static_cast<long>(at + 5),
                prefix.begin() + static_cast<long>(at + 5 + len));
      at += 5 + len;
    }
    if (hs.size() >= 4) {
      if (hs[0] != 0x01) return Outcome::malformed;  // not a ClientHello
      std::size_t body = static_cast<std::size_t>(hs[1]) << 16 | static_cast<std::size_t>(hs[2]) << 8 | hs[3];
      if (body > 65536) return Outcome::malformed;
      if (hs.size() >= 4 + body) break;
    }
    if (at >= prefix.size()) return Outcome::need_more;
  }
  Cursor c{std::span<const std::uint8_t>(hs).subspan(4)};
  // legacy_version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2> compression<1..2^8-1>
  if (!c.has(34)) return Outcome::malformed;
  c.at += 34;
  if (!c.has(1)) return Outcome::malformed;
  auto sid = c.get(1);
  if (sid > 32 || !c.has(sid)) return Outcome::malformed;
  c.at += sid;
  if (!c.has(2)) return Outcome::malformed;
  auto suites = c.get(2);
  if (!c.has(suites)) return Outcome::malformed;
  c.at += suites;
  if (!c.has(1)) return Outcome::malformed;
  auto comp = c.get(1);
  if (!c.has(comp)) return Outcome::malformed;
  c.at += comp;
  if (!c.has(2)) return Outcome::no_name;  // no extensions at all
  auto ext_len = c.get(2);
  if (!c.has(ext_len)) return Outcome::malformed;
  const std::size_t ext_end = c.at + ext_len;
  while (c.at + 4 <= ext_end) {
    auto type = c.get(2);
    auto len = c.get(2);
    if (c.at + len > ext_end) return Outcome::malformed;
    if (type != 0) {  // server_name is type 0
      c.at += len;
      continue;
    }
    // ServerNameList: length(2), then entries name_type(1) length(2) name.
    Cursor s{c.b.subspan(c.at, len)};
    if (!s.has(2) || s.get(2) != len - 2) return Outcome::malformed;
    while (s.has(3)) {
      auto name_type = s.get(1);
      auto n = s.get(2);
      if (!s.has(n)) return Outcome::malformed;
      if (name_type == 0) {
        auto name = host_name(std::string_view(reinterpret_cast<const char*>(s.b.data() + s.at), n));
        if (!name) return Outcome::malformed;
        return *name;
      }
      s.at += n;
    }
    return Outcome::no_name;
  }
  return Outcome::no_name;
}

Result http_host(std::span<const std::uint8_t> prefix) {
  std::string_view s(reinterpret_cast<const char*>(prefix.data()), prefix.size());
  // A request line starts with a method token (RFC 9110 9.1): upper-case letters.
  std::size_t i = 0;
  while (i < s.size() && i < 20 && s[i] >= 'A' && s[i] <= 'Z') ++i;
  if (i == s.size() && i < 20) return Outcome::need_more;  // the method is still arriving
  if (i == 0 || i == 20 || s[i] != ' ') return Outcome::not_this;
  auto head_end = s.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return Outcome::need_more;
  auto line_end = s.find("\r\n");
  auto request_line = s.substr(0, line_end);
  if (request_line.find(" HTTP/1.") == std::string_view::npos) return Outcome::malformed;
  std::optional<std::string> host;
  std::size_t pos = line_end + 2;
  while (pos < head_end + 2) {
    auto eol = s.find("\r\n", pos);
    auto line = s.substr(pos, eol - pos);
    pos = eol + 2;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return Outcome::malformed;
    auto name = line.substr(0, colon);
    if (name.size() != 4 || !std::equal(name.begin(), name.end(), "host", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        }))
      continue;
    if (host) return Outcome::malformed;  // RFC 9112 3.2: more than one Host is a 400
    auto v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (!v.empty() && v.front() == '[') return Outcome::malformed;  // IP literals name no mobile server
    auto port = v.rfind(':');
    if (port != std::string_view::npos) {
      auto digits = v.substr(port + 1);
      if (digits.empty() || digits.size() > 5 ||
          !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return Outcome::malformed;
      v = v.substr(0, port);
    }
    if (!v.empty() && v.back() == '.') v.remove_suffix(1);  // absolute form "example.org."
    host = host_name(v);
    if (!host) return Outcome::malformed;
  }
  if (!host) return Outcome::no_name;
  return *host;
}

}  // namespace mobix::peek

namespace mobix::peek {
std::optional<std::string> http_header(std::span<const std::uint8_t> prefix, std::string_view name) {
  std::string_view s(reinterpret_cast<const char*>(prefix.data()), prefix.size());
  auto head_end = s.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return std::nullopt;
  std::size_t pos = s.find("\r\n") + 2;
  while (pos < head_end + 2) {
    auto eol = s.find("\r\n", pos);
    auto line = s.substr(pos, eol - pos);
    pos = eol + 2;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < colon; ++i)
      if (std::tolower(static_cast<unsigned char>(line[i])) !=
          std::tolower(static_cast<unsigned char>(name[i])))
        same = false;
    if (!same) continue;
    auto v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return std::string(v);
  }
  return std::nullopt;
}
}  // namespace mobix::peek
