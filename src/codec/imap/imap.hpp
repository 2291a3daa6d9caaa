#pragma once
// The part of IMAP (RFC 9051, RFC 3501) the proxy reads before login: tagged command lines,
// literal announcements and quoted strings. Pure; never throws on untrusted input.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mobix::imap {

struct Command {
  std::string tag;
  std::string name;  ///< upper-cased: CAPABILITY, LOGIN, AUTHENTICATE, ...
  std::string args;  ///< the rest of the line, as sent
};
/// nullopt for a line without a valid tag (RFC 9051 9: tag = 1*<ASTRING-CHAR except "+">) or command.
std::optional<Command> parse_command(std::string_view line);

struct Literal {
  std::size_t size;
  bool non_synchronizing;  ///< "{n+}" (RFC 7888): no continuation request
};
/// "{12}" or "{12+}" at the end of a line announces a literal of that many octets.
std::optional<Literal> literal_at_end(std::string_view line);

/// The status of a tagged response (RFC 9051 7.1); `malformed` when the tag is right but the word is
/// none of OK, NO, BAD.
enum class Status { ok, no, bad, malformed };
struct TaggedResponse {
  Status status = Status::malformed;
  std::string text;  ///< after the status word and its space: "[CAPABILITY ...] Logged in"
};
/// The upstream's answer to the command sent with `tag`, or nullopt for any other line (untagged
/// data, continuation requests) that the caller skips.
std::optional<TaggedResponse> parse_tagged(std::string_view line, std::string_view tag);

/// RFC 9051 7.1.1: a server that is ready for a login greets with "* OK" (PREAUTH and BYE are not).
bool is_ok_greeting(std::string_view line);

/// RFC 9051 4.3 quoted string. nullopt when `s` contains CR, LF or NUL (not quotable).
std::optional<std::string> quoted(std::string_view s);

}  // namespace mobix::imap
