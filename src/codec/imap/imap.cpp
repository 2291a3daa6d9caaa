#include "codec/imap/imap.hpp"

#include <cctype>

namespace mobix::imap {

std::optional<Command> parse_command(std::string_view line) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp1 > 64) return std::nullopt;
  Command c;
  c.tag = std::string(line.substr(0, sp1));
  for (char ch : c.tag) {
    auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u >= 0x7f || std::string_view("(){%*\"\\]+").find(ch) != std::string_view::npos)
      return std::nullopt;
  }
  auto rest = line.substr(sp1 + 1);
  auto sp2 = rest.find(' ');
  auto name = rest.substr(0, sp2);
  if (name.empty() || name.size() > 32) return std::nullopt;
  for (char ch : name) {
    if (!std::isalpha(static_cast<unsigned char>(ch))) return std::nullopt;
    c.name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  if (sp2 != std::string_view::npos) c.args = std::string(rest.substr(sp2 + 1));
  return c;
}

std::optional<Literal> literal_at_end(std::string_view line) {
  if (line.size() < 3 || line.back() != '}') return std::nullopt;
  auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  auto inner = line.substr(open + 1, line.size() - open - 2);
  bool non_sync = !inner.empty() && inner.back() == '+';
  if (non_sync) inner.remove_suffix(1);
  if (inner.empty() || inner.size() > 9) return std::nullopt;
  std::size_t n = 0;
  for (char ch : inner) {
    if (!std::isdigit(static_cast<unsigned char>(ch))) return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(ch - '0');
  }
  return Literal{n, non_sync};
}

std::optional<std::string> quoted(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return std::nullopt;
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  return q + "\"";
}

}  // namespace mobix::imap
