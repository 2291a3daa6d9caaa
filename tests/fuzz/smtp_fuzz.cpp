// libFuzzer target for the SMTP command/reply parsers and the From: header rewriter.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "codec/smtp/smtp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::smtp;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto first = in.substr(0, in.find("\r\n"));
  if (auto c = parse_command(first)) (void)parse_mail_from(c->argument);
  (void)parse_reply_line(first);
  auto out = rewrite_from(in, "alice@mail.test", "Alice \xc3\x85ngstr\xc3\xb6m");
  // The body (after the first empty line) must pass through unchanged.
  auto body_in = in.find("\r\n\r\n");
  if (body_in != std::string_view::npos) {
    auto tail = in.substr(body_in);
    if (out.size() < tail.size() || std::string_view(out).substr(out.size() - tail.size()) != tail)
      __builtin_trap();
  }
  (void)display_name(in.substr(0, 200));
  return 0;
}
