#pragma once
// POP3 command-line codec (RFC 1939 section 3, RFC 2449 section 4). Pure: a line in, a
// typed command or an error out; never throws on untrusted input.
#include <optional>
#include <string>
#include <string_view>

namespace mobix::pop3 {

/// RFC 2449 4: a command line is at most 255 octets including the CRLF.
inline constexpr std::size_t kMaxCommandLine = 255;

enum class Verb { user, pass, apop, auth, capa, quit, noop, stls, other };

struct Command {
  Verb verb = Verb::other;
  std::string keyword;   ///< upper-cased, as sent
  std::string argument;  ///< everything after the first space (may contain spaces: PASS)
};

enum class ParseError { empty, too_long, bad_keyword };

struct Parsed {
  std::optional<Command> command;
  ParseError error = ParseError::empty;
};

/// Parses one line without its CRLF. Keywords are 3-4 printable letters.
Parsed parse_command(std::string_view line);

/// True for a "+OK" status line.
inline bool is_ok(std::string_view line) {
  return line.substr(0, 3) == "+OK";
}

}  // namespace mobix::pop3
