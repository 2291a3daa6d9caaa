// libFuzzer target for what the mail proxies read from the subscriber's mail server before they hand
// the session over: SMTP replies assembled line by line and their EHLO keywords, IMAP greetings and
// tagged responses, POP3 status lines. The server is the subscriber's, not the operator's: its bytes
// are untrusted. Each line of the input is one line from the server.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/imap/imap.hpp"
#include "codec/pop3/pop3.hpp"
#include "codec/smtp/smtp.hpp"

namespace {
using namespace mobix;

void smtp_reply(std::string_view in) {
  smtp::ReplyReader reader;
  std::size_t pos = 0, lines = 0;
  while (pos < in.size()) {
    auto eol = in.find("\r\n", pos);
    auto line = in.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? in.size() : eol + 2;
    ++lines;
    auto status = reader.line(line);
    if (status == smtp::ReplyReader::Status::bad) return;
    if (status == smtp::ReplyReader::Status::more) continue;
    // A whole reply: every line starts with its code, and there are no more lines than allowed.
    const auto& r = reader.reply();
    if (r.code < 200 || r.code > 599 || lines > smtp::ReplyReader::kMaxLines) __builtin_trap();
    const auto code = std::to_string(r.code);
    for (std::size_t at = 0; at < r.text.size(); at = r.text.find("\r\n", at) + 2)
      if (r.text.compare(at, 3, code) != 0) __builtin_trap();
    for (const char* kw : {"STARTTLS", "AUTH", "SIZE", ""})
      if (auto params = smtp::ehlo_keyword(r, kw))
        if (params->find('\r') != std::string::npos || params->find('\n') != std::string::npos)
          __builtin_trap();
    return;
  }
}

void imap_lines(std::string_view in) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    auto eol = in.find("\r\n", pos);
    auto line = in.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? in.size() : eol + 2;
    (void)imap::is_ok_greeting(line);
    for (std::string_view tag : {"m0", "m1"})
      if (auto r = imap::parse_tagged(line, tag)) {
        // The text goes back to the handset after its own tag: it must stay one CRLF line.
        if (r->text.find("\r\n") != std::string::npos || r->text.size() >= line.size()) __builtin_trap();
        if (line.substr(0, tag.size()) != tag) __builtin_trap();
      }
    (void)pop3::is_ok(line);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  smtp_reply(in);
  imap_lines(in);
  return 0;
}
