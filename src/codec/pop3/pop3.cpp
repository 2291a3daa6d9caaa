#include "codec/pop3/pop3.hpp"

#include <cctype>

namespace mobix::pop3 {

Parsed parse_command(std::string_view line) {
  Parsed p;
  if (line.size() + 2 > kMaxCommandLine) {
    p.error = ParseError::too_long;
    return p;
  }
  if (line.empty()) return p;
  auto sp = line.find(' ');
  auto kw = line.substr(0, sp);
  if (kw.size() < 3 || kw.size() > 4) {
    p.error = ParseError::bad_keyword;
    return p;
  }
  Command c;
  for (char ch : kw) {
    if (!std::isalpha(static_cast<unsigned char>(ch))) {
      p.error = ParseError::bad_keyword;
      return p;
    }
    c.keyword.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  if (sp != std::string_view::npos) c.argument = std::string(line.substr(sp + 1));
  for (char ch : c.argument)
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') {
      p.error = ParseError::bad_keyword;
      return p;
    }
  static const struct {
    const char* kw;
    Verb verb;
  } kVerbs[] = {{"USER", Verb::user}, {"PASS", Verb::pass}, {"APOP", Verb::apop}, {"AUTH", Verb::auth},
                {"CAPA", Verb::capa}, {"QUIT", Verb::quit}, {"NOOP", Verb::noop}, {"STLS", Verb::stls}};
  for (const auto& v : kVerbs)
    if (c.keyword == v.kw) c.verb = v.verb;
  p.command = std::move(c);
  return p;
}

}  // namespace mobix::pop3
