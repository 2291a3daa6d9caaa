#pragma once
// SMTP pieces the submission proxy needs (RFC 5321, RFC 6409, RFC 2047). Pure: text in,
// typed value or nullopt out; never throws on untrusted input.
#include <optional>
#include <string>
#include <string_view>

namespace mobix::smtp {

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF.
inline constexpr std::size_t kMaxCommandLine = 512;
/// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CRLF.
inline constexpr std::size_t kMaxTextLine = 1000;

struct Command {
  std::string verb;      ///< upper-cased: EHLO, MAIL, RCPT, DATA, ...
  std::string argument;  ///< the rest of the line after the verb and one space
};
std::optional<Command> parse_command(std::string_view line);

/// "MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME" -> the address and the parameters after it.
struct MailFrom {
  std::string address;
  std::string parameters;  ///< with its leading space, or empty
};
std::optional<MailFrom> parse_mail_from(std::string_view argument);

/// A (possibly multi-line) reply: "250-a\r\n250 b" -> code 250.
struct Reply {
  int code = 0;
  std::string text;  ///< every line, CRLF-terminated, as received
  bool positive() const { return code >= 200 && code < 400; }
};
/// The code of one reply line and whether more lines follow ("250-"), or nullopt.
struct ReplyLine {
  int code;
  bool more;
};
std::optional<ReplyLine> parse_reply_line(std::string_view line);

/// Assembles a reply from its lines as they arrive. RFC 5321 4.2.1: every line of a multi-line reply
/// carries the same code; a line that does not, or a reply longer than kMaxLines, is `bad`.
class ReplyReader {
 public:
  static constexpr int kMaxLines = 100;
  enum class Status { more, done, bad };
  Status line(std::string_view line);
  const Reply& reply() const { return reply_; }

 private:
  Reply reply_;
  int lines_ = 0;
};

/// The EHLO keyword's parameters ("AUTH PLAIN LOGIN" -> "PLAIN LOGIN"), or nullopt when the server
/// does not advertise it (RFC 5321 4.1.1.1). `keyword` is upper case; the reply's case does not matter.
std::optional<std::string> ehlo_keyword(const Reply& ehlo, std::string_view keyword);

/// RFC 2047 "B" encoded-word for a display name when it is not plain ASCII; otherwise the
/// name quoted as an RFC 5322 quoted-string.
std::string display_name(std::string_view utf8_name);

/// Seed 000 step 204 on the message as the handset wrote it (not dot-stuffed): line endings are
/// normalised to CRLF (a bare CR or LF becomes CRLF, RFC 5321 2.3.8), every originator field in
/// the header section (From, Sender, Resent-From, Resent-Sender, with folded lines) is removed and
/// one "From: <display> <address>" takes the first one's place (or the top). Other bytes unchanged;
/// Reply-To is the user's to choose and stays.
std::string rewrite_from(std::string_view message, std::string_view address, std::string_view full_name);
/// Every bare CR or LF becomes CRLF, and the message ends with CRLF.
std::string normalize_line_endings(std::string_view message);
/// RFC 5321 4.5.2: a line starting with "." gets another; `message` has CRLF line endings.
std::string dot_stuff(std::string_view message);

std::string base64(std::string_view in);

/// rewrite_from + dot_stuff as a stream (issue 12 item 4): DATA goes to the upstream as it
/// arrives, and only the header section is held, up to kMaxHeaderSection. For the same lines the
/// output equals dot_stuff(rewrite_from(lines joined with CRLF)), so no originator field can pass.
class DataRewriter {
 public:
  /// RFC 5322 sets no limit; a header section larger than this is refused rather than half-rewritten.
  static constexpr std::size_t kMaxHeaderSection = 256 * 1024;
  enum class Status { ok, header_too_big };
  DataRewriter(std::string address, std::string full_name);
  /// One line of DATA as the handset sent it: CRLF stripped, leading dot un-stuffed. Appends what is
  /// ready for the upstream (normalised, rewritten, dot-stuffed) to `out`.
  Status line(std::string_view line, std::string& out);
  /// The end of DATA (before the lone "."): flushes a message that is all header section.
  void finish(std::string& out);

  /// What feed() did with the complete lines of its input.
  struct Fed {
    std::size_t consumed = 0;  ///< octets of the input taken, through the last complete line or the "."
    std::size_t octets = 0;    ///< the message's octets among them (un-stuffed, CRLF counted)
    bool ended = false;        ///< the lone "." (RFC 5321 4.1.1.4) was among them
    Status status = Status::ok;
  };
  /// DATA as the handset sent it, many lines at a time: every complete CRLF line up to and
  /// including the lone "." is un-stuffed and passed through line() — except body lines with
  /// nothing to change (no bare CR/LF, no leading dot), which are appended to `out` as they are,
  /// in runs (the bulk of a message, without a copy per line). With `forward` false the lines are
  /// only counted (a message being refused is read to its end).
  Fed feed(std::string_view in, std::string& out, bool forward = true);

 private:
  std::string address_, full_name_;
  bool in_header_ = true;
  std::string head_;  ///< the header section so far, normalised
};

}  // namespace mobix::smtp
