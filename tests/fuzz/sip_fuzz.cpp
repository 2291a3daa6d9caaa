// libFuzzer target for what a stranger sends a mobility manager's SIP listener and call media
// (seed 003 secure calls): a SIP message through libosip2 and every accessor the call agent uses, a
// response built from a parsed request parsing again, the SDP offer, an RTP header, and the input
// as a TCP stream cut into messages.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "codec/sip/framing.hpp"
#include "codec/sip/sip.hpp"
#include "media/rtp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto m = mobix::sip::Message::parse(in)) {
    (void)m->method(), (void)m->status(), (void)m->request_user(), (void)m->from_user(), (void)m->to_user();
    (void)m->from_tag(), (void)m->cseq_number(), (void)m->rspauth(), (void)m->kerberos();
    auto body = m->body();
    (void)mobix::sip::parse_sdp(body);
    if (m->is_request()) {
      // An answer built from it reads back as that answer to that call. (Not "always parses":
      // libosip2 accepts some Via hosts it then refuses to read, e.g. "127.0.0.Ue8000".)
      auto reply = m->response(403, "Forbidden", "t1");
      auto back = mobix::sip::Message::parse(reply);
      if (back && (back->status() != 403 || back->call_id() != m->call_id())) __builtin_trap();
    }
  }
  (void)mobix::sip::parse_sdp(in);
  // The same octets as a TCP stream: every frame is inside what was read and makes progress.
  for (std::string_view rest = in;;) {
    auto f = mobix::sip::next_frame(rest, 1024);
    using S = mobix::sip::FrameStatus;
    if (f.status != S::message && f.status != S::ping && f.status != S::skip) break;
    if (f.length == 0 || f.length > rest.size() || (f.status == S::message && f.length > 1024))
      __builtin_trap();
    rest.remove_prefix(f.length);
  }
  if (auto p = mobix::media::parse_rtp(in)) {
    if (p->payload.data() < in.data() || p->payload.data() + p->payload.size() > in.data() + in.size())
      __builtin_trap();
  }
  return 0;
}
