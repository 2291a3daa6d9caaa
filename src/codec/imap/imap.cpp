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

namespace {
// RFC 9051 9: status words are atoms, matched without regard to case.
bool word_is(std::string_view s, std::string_view word) {
  if (s.size() != word.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(s[i])) != word[i]) return false;
  return true;
}
}  // namespace

std::optional<TaggedResponse> parse_tagged(std::string_view line, std::string_view tag) {
  if (tag.empty() || line.size() <= tag.size() || line.substr(0, tag.size()) != tag ||
      line[tag.size()] != ' ')
    return std::nullopt;
  auto rest = line.substr(tag.size() + 1);
  auto sp = rest.find(' ');
  auto word = rest.substr(0, sp);
  TaggedResponse r;
  if (word_is(word, "OK"))
    r.status = Status::ok;
  else if (word_is(word, "NO"))
    r.status = Status::no;
  else if (word_is(word, "BAD"))
    r.status = Status::bad;
  if (sp != std::string_view::npos) r.text = std::string(rest.substr(sp + 1));
  return r;
}

bool is_ok_greeting(std::string_view line) {
  return line.size() >= 4 && line.substr(0, 2) == "* " && word_is(line.substr(2, 2), "OK") &&
         (line.size() == 4 || line[4] == ' ');
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
