// libFuzzer target for the SMPP 3.4 PDU decoder: whatever decodes re-encodes to the same octets
// (modulo a bind_resp's ignored TLVs), and nothing reads out of bounds.
#include <cstddef>
#include <cstdint>
#include <span>

#include "codec/smpp/smpp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::smpp;
  std::span<const std::uint8_t> in(data, size);
  auto len = frame_length(in);
  auto decoded = decode(in);
  if (auto* p = std::get_if<Pdu>(&decoded)) {
    if (!std::holds_alternative<std::uint32_t>(len) || std::get<std::uint32_t>(len) != size) __builtin_trap();
    const auto base = p->command_id & ~cmd::response_bit;
    const bool bind_resp =
        (p->command_id & cmd::response_bit) && p->command_id != cmd::generic_nack &&
        (base == cmd::bind_receiver || base == cmd::bind_transmitter || base == cmd::bind_transceiver);
    auto again = encode(*p);
    if (!bind_resp && (again.size() != size || !std::equal(again.begin(), again.end(), data)))
      __builtin_trap();
  }
  return 0;
}
