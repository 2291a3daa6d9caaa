#include "codec/signal/signal_mail.hpp"

#include <cctype>

#include <openssl/evp.h>

namespace mobix::signal {

namespace {

bool iequals_prefix(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string lower_trimmed(std::string_view v) {
  std::string out;
  for (char c : v)
    if (c != ' ' && c != '\t' && c != '\r')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string compose_mail(std::string_view from, std::string_view to, std::span<const std::uint8_t> sealed,
                         std::string_view date, std::string_view message_id) {
  std::string b64(4 * ((sealed.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), sealed.data(),
                          static_cast<int>(sealed.size()));
  b64.resize(static_cast<std::size_t>(n));
  std::string body;
  for (std::size_t i = 0; i < b64.size(); i += 76) body += b64.substr(i, 76) + "\r\n";  // RFC 2045 6.8
  std::string m;
  m.append("From: <").append(from).append(">\r\nTo: <").append(to).append(">\r\nDate: ").append(date);
  m.append("\r\nMessage-ID: <").append(message_id).append(">\r\nSubject: mobix access request\r\n");
  m.append("MIME-Version: 1.0\r\nContent-Type: ").append(kMailContentType);
  m.append("\r\nContent-Transfer-Encoding: base64\r\n\r\n").append(body);
  return m;
}

std::optional<std::vector<std::uint8_t>> extract_from_mail(std::string_view message, std::size_t max_size) {
  // Header section: unfold (RFC 5322 2.2.3) just enough to read two fields.
  std::string content_type, encoding;
  std::string* current = nullptr;
  std::size_t pos = 0;
  bool body_found = false;
  while (pos < message.size()) {
    auto end = message.find('\n', pos);
    if (end == std::string_view::npos) return std::nullopt;  // no body
    auto line = message.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      body_found = true;
      break;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (current) current->append(line);
      continue;
    }
    current = nullptr;
    if (iequals_prefix(line, "content-type:")) {
      content_type.assign(line.substr(13));
      current = &content_type;
    } else if (iequals_prefix(line, "content-transfer-encoding:")) {
      encoding.assign(line.substr(26));
      current = &encoding;
    }
  }
  if (!body_found) return std::nullopt;
  auto type = lower_trimmed(content_type);
  if (type.substr(0, type.find(';')) != kMailContentType || lower_trimmed(encoding) != "base64")
    return std::nullopt;
  // Body: base64 with line breaks (and whatever whitespace an MTA left) ignored.
  std::string b64;
  for (std::size_t i = pos; i < message.size(); ++i) {
    char c = message[i];
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=') {
      b64 += c;
      if (b64.size() > 4 * (max_size / 3 + 2)) return std::nullopt;
    } else if (c != '\r' && c != '\n' && c != ' ' && c != '\t') {
      return std::nullopt;
    }
  }
  if (b64.empty() || b64.size() % 4 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(b64.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero octets: take them off again.
  std::size_t pad = (b64.end()[-1] == '=') + (b64.end()[-2] == '=');
  out.resize(static_cast<std::size_t>(n) - pad);
  if (out.empty() || out.size() > max_size) return std::nullopt;
  return out;
}

}  // namespace mobix::signal
