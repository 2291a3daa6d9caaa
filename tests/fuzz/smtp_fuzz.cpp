// libFuzzer target for the SMTP command/reply parsers, the From: header rewriter and its streaming form.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/smtp/smtp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::smtp;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto first = in.substr(0, in.find("\r\n"));
  if (auto c = parse_command(first)) (void)parse_mail_from(c->argument);
  (void)parse_reply_line(first);
  auto out = rewrite_from(in, "alice@mail.test", "Alice \xc3\x85ngstr\xc3\xb6m");
  // The body (after the first empty line) passes through unchanged but for its line endings, which
  // are normalised to CRLF (issue 12 item 5: a bare LF must not reach the server).
  auto normalized = normalize_line_endings(in);
  std::string_view n = normalized;
  auto body_in = n.find("\r\n\r\n");
  if (body_in != std::string_view::npos) {
    auto tail = n.substr(body_in);
    if (out.size() < tail.size() || std::string_view(out).substr(out.size() - tail.size()) != tail)
      __builtin_trap();
  }
  // No bare CR or LF survives, and dot-stuffing leaves no line that is a lone "." (end of DATA).
  for (std::size_t i = 0; i < out.size(); ++i)
    if ((out[i] == '\n' && (i == 0 || out[i - 1] != '\r')) ||
        (out[i] == '\r' && (i + 1 >= out.size() || out[i + 1] != '\n')))
      __builtin_trap();
  auto stuffed = dot_stuff(out);
  if (stuffed.starts_with(".\r\n") || stuffed.find("\r\n.\r\n") != std::string::npos) __builtin_trap();
  (void)display_name(in.substr(0, 200));
  // DATA streaming (issue 12 item 4) sends exactly what the whole-message rewrite would: the input's
  // CRLF lines fed one by one, as the proxy reads them.
  DataRewriter streaming("alice@mail.test", "Alice");
  std::string streamed, joined;
  std::size_t pos = 0;
  while (pos < in.size()) {
    auto eol = in.find("\r\n", pos);
    auto line = in.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (streaming.line(line, streamed) != DataRewriter::Status::ok) __builtin_trap();  // inputs < the cap
    joined.append(line).append("\r\n");
    pos = eol == std::string_view::npos ? in.size() : eol + 2;
  }
  streaming.finish(streamed);
  if (streamed != dot_stuff(rewrite_from(joined, "alice@mail.test", "Alice"))) __builtin_trap();
  // The proxy's bulk form, DataRewriter::feed, on the same input as DATA on the wire (un-stuffing and
  // the lone "." included) in chunks of a size the input picks: what the line-by-line reading does.
  const std::size_t chunk = size ? 1 + data[0] % 97 : 1;
  DataRewriter by_line("alice@mail.test", "Alice"), in_bulk("alice@mail.test", "Alice");
  std::string want, got, pending;
  bool want_end = false, got_end = false;
  for (pos = 0; pos < in.size();) {
    auto eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    auto line = in.substr(pos, eol - pos);
    pos = eol + 2;
    if (line == ".") {
      want_end = true;
      break;
    }
    if (line.starts_with('.')) line.remove_prefix(1);
    (void)by_line.line(line, want);
  }
  const std::size_t want_consumed = pos;
  std::size_t consumed = 0;
  for (std::size_t at = 0; at < in.size() && !got_end; at += chunk) {
    pending.append(in.substr(at, chunk));
    auto fed = in_bulk.feed(pending, got);
    consumed += fed.consumed;
    pending.erase(0, fed.consumed);
    got_end = fed.ended;
  }
  if (got != want || got_end != want_end || (want_end && consumed != want_consumed)) __builtin_trap();
  return 0;
}
