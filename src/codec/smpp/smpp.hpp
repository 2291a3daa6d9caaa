#pragma once
// SMPP 3.4 PDUs (SMPP Developers Forum, "Short Message Peer to Peer Protocol Specification v3.4",
// 1999): the subset an ESME and the lab's SMSC need to carry the access request signal (seed 001
// step D): bind_transmitter/receiver/transceiver, submit_sm, deliver_sm, enquire_link, unbind,
// generic_nack and their responses. Pure codec; no I/O.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace mobix::smpp {

namespace cmd {
inline constexpr std::uint32_t generic_nack = 0x80000000;
inline constexpr std::uint32_t bind_receiver = 0x00000001;
inline constexpr std::uint32_t bind_transmitter = 0x00000002;
inline constexpr std::uint32_t submit_sm = 0x00000004;
inline constexpr std::uint32_t deliver_sm = 0x00000005;
inline constexpr std::uint32_t unbind = 0x00000006;
inline constexpr std::uint32_t bind_transceiver = 0x00000009;
inline constexpr std::uint32_t enquire_link = 0x00000015;
inline constexpr std::uint32_t response_bit = 0x80000000;
}  // namespace cmd

namespace status {  // section 5.1.3
inline constexpr std::uint32_t ok = 0x00000000;
inline constexpr std::uint32_t invalid_msg_length = 0x00000001;
inline constexpr std::uint32_t invalid_command_length = 0x00000002;
inline constexpr std::uint32_t invalid_command_id = 0x00000003;
inline constexpr std::uint32_t incorrect_bind_status = 0x00000004;
inline constexpr std::uint32_t already_bound = 0x00000005;
inline constexpr std::uint32_t system_error = 0x00000008;
inline constexpr std::uint32_t invalid_dest_addr = 0x0000000B;
inline constexpr std::uint32_t bind_failed = 0x0000000D;
inline constexpr std::uint32_t invalid_password = 0x0000000E;
inline constexpr std::uint32_t invalid_system_id = 0x0000000F;
inline constexpr std::uint32_t throttled = 0x00000058;
}  // namespace status

inline constexpr std::size_t kHeaderSize = 16;
inline constexpr std::uint32_t kMaxPduSize = 65536;  ///< larger is refused before reading it
inline constexpr std::uint16_t tag_message_payload = 0x0424;

struct Tlv {
  std::uint16_t tag = 0;
  std::vector<std::uint8_t> value;
};

/// bind_transmitter / bind_receiver / bind_transceiver (section 4.1).
struct Bind {
  std::string system_id;  ///< max 15 characters
  std::string password;   ///< max 8
  std::string system_type;
  std::uint8_t interface_version = 0x34;
  std::uint8_t addr_ton = 0;
  std::uint8_t addr_npi = 0;
  std::string address_range;
};

/// submit_sm / deliver_sm (sections 4.4 and 4.6).
struct ShortMessage {
  std::string service_type;
  std::uint8_t source_addr_ton = 0, source_addr_npi = 0;
  std::string source_addr;
  std::uint8_t dest_addr_ton = 0, dest_addr_npi = 0;
  std::string destination_addr;
  std::uint8_t esm_class = 0, protocol_id = 0, priority_flag = 0;
  std::string schedule_delivery_time, validity_period;
  std::uint8_t registered_delivery = 0, replace_if_present_flag = 0;
  std::uint8_t data_coding = 0;  ///< 0x04: 8-bit binary (the signal)
  std::uint8_t sm_default_msg_id = 0;
  std::vector<std::uint8_t> short_message;  ///< max 254 octets; or message_payload TLV
  std::vector<Tlv> tlvs;
  /// short_message, or the message_payload TLV when short_message is empty.
  std::span<const std::uint8_t> payload() const;
};

/// The body of *_resp PDUs that carry one C-octet string: system_id (bind) or message_id.
struct IdResponse {
  std::string id;
};

struct Pdu {
  std::uint32_t command_id = 0;
  std::uint32_t command_status = status::ok;
  std::uint32_t sequence_number = 0;
  std::variant<std::monostate, Bind, ShortMessage, IdResponse> body;
};

enum class Error { short_header, bad_length, truncated, bad_string, unknown_command, trailing_data };
const char* to_string(Error e);

/// From the first 16 octets: the whole PDU's length, or an error for lengths outside [16, kMaxPduSize].
std::variant<std::uint32_t, Error> frame_length(std::span<const std::uint8_t> header);
/// One whole PDU (exactly command_length octets).
std::variant<Pdu, Error> decode(std::span<const std::uint8_t> pdu);
/// Throws std::invalid_argument when a field exceeds its specified size.
std::vector<std::uint8_t> encode(const Pdu& p);

/// A response to `req` with `status` (and an empty body, or the given id for bind/submit resps).
Pdu response_to(const Pdu& req, std::uint32_t status, std::string id = {});

}  // namespace mobix::smpp
