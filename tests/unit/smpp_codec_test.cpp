#include <gtest/gtest.h>

#include "codec/smpp/smpp.hpp"

using namespace mobix::smpp;

namespace {
std::vector<std::uint8_t> bytes(std::initializer_list<int> v) {
  std::vector<std::uint8_t> b;
  for (int x : v) b.push_back(static_cast<std::uint8_t>(x));
  return b;
}
}  // namespace

TEST(Smpp, BindTransmitterMatchesTheSpecLayout) {
  Pdu p;
  p.command_id = cmd::bind_transmitter;
  p.sequence_number = 1;
  p.body = Bind{"relay", "secret", "", 0x34, 0, 0, ""};
  // SMPP 3.4 section 4.1.1: system_id, password, system_type, interface_version, addr_ton,
  // addr_npi, address_range.
  auto want = bytes({0,   0,   0,   35,  0,   0, 0,   2,   0,   0,   0,   0,   0, 0, 0,    1,  //
                     'r', 'e', 'l', 'a', 'y', 0, 's', 'e', 'c', 'r', 'e', 't', 0, 0, 0x34, 0, 0, 0});
  want[3] = static_cast<std::uint8_t>(want.size());
  EXPECT_EQ(encode(p), want);
  auto d = std::get<Pdu>(decode(want));
  EXPECT_EQ(std::get<Bind>(d.body).system_id, "relay");
  EXPECT_EQ(std::get<Bind>(d.body).password, "secret");
}

TEST(Smpp, SubmitSmWithBinaryPayloadRoundTrips) {
  ShortMessage m;
  m.source_addr = "mobix";
  m.dest_addr_ton = 1;
  m.dest_addr_npi = 1;
  m.destination_addr = "31699000001";
  m.data_coding = 0x04;  // 8-bit binary
  for (int i = 0; i < 140; ++i) m.short_message.push_back(static_cast<std::uint8_t>(i * 13));
  Pdu p{cmd::submit_sm, status::ok, 42, m};
  auto wire = encode(p);
  EXPECT_EQ(std::get<std::uint32_t>(frame_length(wire)), wire.size());
  auto d = std::get<Pdu>(decode(wire));
  EXPECT_EQ(d.sequence_number, 42u);
  const auto& got = std::get<ShortMessage>(d.body);
  EXPECT_EQ(got.destination_addr, "31699000001");
  EXPECT_EQ(got.data_coding, 0x04);
  EXPECT_EQ(got.short_message, m.short_message);
  EXPECT_EQ(encode(d), wire);
}

TEST(Smpp, MessagePayloadTlv) {
  ShortMessage m;
  m.destination_addr = "1";
  m.tlvs.push_back(Tlv{tag_message_payload, std::vector<std::uint8_t>(300, 0xAB)});
  auto d = std::get<Pdu>(decode(encode(Pdu{cmd::deliver_sm, 0, 7, m})));
  EXPECT_EQ(std::get<ShortMessage>(d.body).payload().size(), 300u);
}

TEST(Smpp, ResponsesKeepTheSequenceNumber) {
  Pdu req{cmd::submit_sm, 0, 99, ShortMessage{}};
  auto resp = response_to(req, status::ok, "msg-1");
  EXPECT_EQ(resp.command_id, cmd::submit_sm | cmd::response_bit);
  auto d = std::get<Pdu>(decode(encode(resp)));
  EXPECT_EQ(d.sequence_number, 99u);
  EXPECT_EQ(std::get<IdResponse>(d.body).id, "msg-1");
  auto link = std::get<Pdu>(decode(encode(Pdu{cmd::enquire_link, 0, 5, {}})));
  EXPECT_EQ(response_to(link, status::ok).command_id, cmd::enquire_link | cmd::response_bit);
  // A bind_resp with an error status may have no body at all.
  auto nobody = bytes({0, 0, 0, 16, 0x80, 0, 0, 2, 0, 0, 0, 0x0E, 0, 0, 0, 1});
  auto e = std::get<Pdu>(decode(nobody));
  EXPECT_EQ(e.command_status, status::invalid_password);
}

TEST(Smpp, MalformedPdusAreRefused) {
  EXPECT_EQ(std::get<Error>(decode(bytes({0, 0, 0, 16}))), Error::short_header);
  EXPECT_EQ(std::get<Error>(frame_length(bytes({0, 0, 0, 15}))), Error::bad_length);
  EXPECT_EQ(std::get<Error>(frame_length(bytes({0, 1, 0, 1}))), Error::bad_length) << "over 64 KiB";
  auto unknown = bytes({0, 0, 0, 16, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 1});
  EXPECT_EQ(std::get<Error>(decode(unknown)), Error::unknown_command);
  auto trailing = bytes({0, 0, 0, 17, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1, 0});
  EXPECT_EQ(std::get<Error>(decode(trailing)), Error::trailing_data);
  // system_id of 16 characters: no NUL within its 16 octets.
  auto b = bytes({0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1});
  for (int i = 0; i < 16; ++i) b.push_back('a');
  b.push_back(0);
  b[3] = static_cast<std::uint8_t>(b.size());
  EXPECT_EQ(std::get<Error>(decode(b)), Error::bad_string);
  // A length field that disagrees with the octets given.
  auto wire = encode(Pdu{cmd::enquire_link, 0, 1, {}});
  wire.push_back(0);
  EXPECT_EQ(std::get<Error>(decode(wire)), Error::bad_length);
  // submit_sm cut inside short_message.
  ShortMessage m;
  m.short_message.assign(50, 1);
  auto sm = encode(Pdu{cmd::submit_sm, 0, 1, m});
  sm.resize(sm.size() - 10);
  sm[3] = static_cast<std::uint8_t>(sm.size());
  EXPECT_EQ(std::get<Error>(decode(sm)), Error::truncated);
  Bind tooLong;
  tooLong.system_id = std::string(16, 'x');
  EXPECT_THROW(encode(Pdu{cmd::bind_receiver, 0, 1, tooLong}), std::invalid_argument);
}

TEST(Smpp, WhatDecodesEncodes) {
  // Found by the fuzz target: a deliver_sm_resp with a 50-character message_id decoded (limit 65)
  // but did not encode (limit 16 was applied).
  Pdu p{cmd::deliver_sm | cmd::response_bit, 0, 1, IdResponse{std::string(50, 'x')}};
  auto wire = encode(p);
  EXPECT_EQ(std::get<IdResponse>(std::get<Pdu>(decode(wire)).body).id.size(), 50u);
}
