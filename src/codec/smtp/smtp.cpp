#include "codec/smtp/smtp.hpp"

#include <cctype>

namespace mobix::smtp {

std::optional<Command> parse_command(std::string_view line) {
  if (line.size() + 2 > kMaxCommandLine || line.empty()) return std::nullopt;
  auto sp = line.find(' ');
  auto verb = line.substr(0, sp);
  if (verb.size() < 4 || verb.size() > 8) return std::nullopt;
  Command c;
  for (char ch : verb) {
    if (!std::isalpha(static_cast<unsigned char>(ch))) return std::nullopt;
    c.verb.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  if (sp != std::string_view::npos) c.argument = std::string(line.substr(sp + 1));
  for (char ch : c.argument)
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') return std::nullopt;
  return c;
}

std::optional<MailFrom> parse_mail_from(std::string_view arg) {
  // "FROM:<addr>" with optional space after the colon (tolerated, as most servers do).
  if (arg.size() < 6) return std::nullopt;
  std::string head;
  for (char ch : arg.substr(0, 5))
    head.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  if (head != "FROM:") return std::nullopt;
  arg.remove_prefix(5);
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  if (arg.empty() || arg.front() != '<') return std::nullopt;
  auto close = arg.find('>');
  if (close == std::string_view::npos) return std::nullopt;
  MailFrom m;
  m.address = std::string(arg.substr(1, close - 1));
  m.parameters = std::string(arg.substr(close + 1));
  if (!m.parameters.empty() && m.parameters.front() != ' ') return std::nullopt;
  return m;
}

std::optional<ReplyLine> parse_reply_line(std::string_view line) {
  if (line.size() < 3) return std::nullopt;
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return std::nullopt;
    code = code * 10 + (line[i] - '0');
  }
  if (code < 200 || code > 599) return std::nullopt;
  bool more = line.size() > 3 && line[3] == '-';
  if (line.size() > 3 && line[3] != '-' && line[3] != ' ') return std::nullopt;
  return ReplyLine{code, more};
}

std::string base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

std::string display_name(std::string_view name) {
  bool ascii = true;
  for (char ch : name)
    if (static_cast<unsigned char>(ch) >= 0x80 || static_cast<unsigned char>(ch) < 0x20) ascii = false;
  if (ascii) {
    std::string q = "\"";
    for (char ch : name) {
      if (ch == '"' || ch == '\\') q.push_back('\\');
      q.push_back(ch);
    }
    return q + "\"";
  }
  // RFC 2047 section 2: an encoded-word is at most 75 characters; split on UTF-8 boundaries.
  std::string out;
  std::size_t pos = 0;
  while (pos < name.size()) {
    std::size_t len = std::min<std::size_t>(45, name.size() - pos);  // 45 octets -> 60 base64 chars
    std::size_t cut = len;
    while (cut > 0 && pos + cut < name.size() && (static_cast<unsigned char>(name[pos + cut]) & 0xC0) == 0x80)
      --cut;
    if (cut > 0) len = cut;  // invalid UTF-8 (all continuation octets): split anywhere, never loop
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(name.substr(pos, len)) + "?=";
    pos += len;
  }
  return out;
}

std::string rewrite_from(std::string_view msg, std::string_view address, std::string_view full_name) {
  std::string from = "From: ";
  if (!full_name.empty()) from += display_name(full_name) + " ";
  from += "<" + std::string(address) + ">\r\n";
  std::size_t pos = 0;
  while (pos < msg.size()) {
    auto eol = msg.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    auto line = msg.substr(pos, eol - pos);
    if (line.empty()) break;  // end of the header section
    bool is_from = line.size() >= 5 && (line[0] == 'F' || line[0] == 'f') &&
                   (line[1] == 'r' || line[1] == 'R') && (line[2] == 'o' || line[2] == 'O') &&
                   (line[3] == 'm' || line[3] == 'M') &&
                   (line[4] == ':' || line[4] == ' ' || line[4] == '\t');
    if (is_from && line.substr(0, 4).size() == 4 && line.find(':') != std::string_view::npos &&
        line.substr(4, line.find(':') - 4).find_first_not_of(" \t") == std::string_view::npos) {
      // Skip folded continuation lines (RFC 5322 2.2.3).
      auto end = eol + 2;
      while (end < msg.size() && (msg[end] == ' ' || msg[end] == '\t')) {
        auto next = msg.find("\r\n", end);
        if (next == std::string_view::npos) {
          end = msg.size();
          break;
        }
        end = next + 2;
      }
      return std::string(msg.substr(0, pos)) + from + std::string(msg.substr(end));
    }
    pos = eol + 2;
  }
  return from + std::string(msg);
}

}  // namespace mobix::smtp
