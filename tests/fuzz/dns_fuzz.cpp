// libFuzzer target for the DNS responder: any datagram in, a well-formed response (or nothing)
// out, over UDP and TCP limits, from a zone with static and session records.
#include <cstddef>
#include <cstdint>

#include "codec/dns/responder.hpp"

namespace {
mobix::dns::ZoneSet& zones() {
  static mobix::dns::ZoneSet s(1);
  static bool filled = [] {
    s.add_zone({"home.test", "", "", 60, {{"www.home.test", mobix::dns::kA, 60, "127.0.0.80"}}});
    s.add_zone({"4.127.in-addr.arpa", "", "", 60, {}});
    s.set("alice.home.test", mobix::dns::kA, "127.4.0.10");
    s.set("10.0.4.127.in-addr.arpa", mobix::dns::kPTR, "alice.home.test.");
    return true;
  }();
  (void)filled;
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mobix::dns::Responder responder(zones(), 64);
  int rcode = 0;
  for (bool tcp : {false, true}) {
    auto out = responder.respond(std::span(data, size), tcp, rcode);
    if (out.empty()) continue;
    // A response echoes the ID, has QR set, and fits the transport.
    if (out.size() < 12 || out[0] != data[0] || out[1] != data[1] || !(out[2] & 0x80)) __builtin_trap();
    if (!tcp && out.size() > 1232) __builtin_trap();
  }
  return 0;
}
