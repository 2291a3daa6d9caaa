#include "codec/smpp/smpp.hpp"

#include <stdexcept>

namespace mobix::smpp {

namespace {

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> b) : b_(b) {}
  bool ok() const { return ok_; }
  bool done() const { return at_ == b_.size(); }
  std::size_t left() const { return b_.size() - at_; }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    return b_[at_++];
  }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    std::uint16_t v = static_cast<std::uint16_t>(b_[at_] << 8 | b_[at_ + 1]);
    at_ += 2;
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | b_[at_++];
    return v;
  }
  // C-Octet String of at most `max` octets including the NUL (section 3.1).
  std::string cstr(std::size_t max) {
    if (!ok_) return {};
    for (std::size_t i = at_; i < b_.size() && i - at_ < max; ++i) {
      if (b_[i] == 0) {
        std::string s(reinterpret_cast<const char*>(b_.data() + at_), i - at_);
        at_ = i + 1;
        return s;
      }
    }
    ok_ = false;
    bad_string_ = true;
    return {};
  }
  std::vector<std::uint8_t> bytes(std::size_t n) {
    if (!need(n)) return {};
    std::vector<std::uint8_t> v(b_.begin() + static_cast<long>(at_), b_.begin() + static_cast<long>(at_ + n));
    at_ += n;
    return v;
  }
  bool bad_string() const { return bad_string_; }

 private:
  bool need(std::size_t n) {
    if (!ok_ || b_.size() - at_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::span<const std::uint8_t> b_;
  std::size_t at_ = 0;
  bool ok_ = true;
  bool bad_string_ = false;
};

void put_u8(std::vector<std::uint8_t>& b, std::uint8_t v) {
  b.push_back(v);
}
void put_u16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
void put_cstr(std::vector<std::uint8_t>& b, const std::string& s, std::size_t max, const char* field) {
  if (s.size() + 1 > max || s.find('\0') != std::string::npos)
    throw std::invalid_argument(std::string("smpp: ") + field + " is longer than " + std::to_string(max - 1));
  b.insert(b.end(), s.begin(), s.end());
  b.push_back(0);
}

bool is_bind(std::uint32_t id) {
  return id == cmd::bind_receiver || id == cmd::bind_transmitter || id == cmd::bind_transceiver;
}

}  // namespace

std::span<const std::uint8_t> ShortMessage::payload() const {
  if (!short_message.empty()) return short_message;
  for (const auto& t : tlvs)
    if (t.tag == tag_message_payload) return t.value;
  return {};
}

const char* to_string(Error e) {
  switch (e) {
    case Error::short_header:
      return "shorter than the 16-octet header";
    case Error::bad_length:
      return "command_length out of range";
    case Error::truncated:
      return "body shorter than its fields";
    case Error::bad_string:
      return "C-octet string without NUL within its maximum size";
    case Error::unknown_command:
      return "unknown command_id";
    case Error::trailing_data:
      return "octets after the last field";
  }
  return "?";
}

std::variant<std::uint32_t, Error> frame_length(std::span<const std::uint8_t> header) {
  if (header.size() < 4) return Error::short_header;
  std::uint32_t len = static_cast<std::uint32_t>(header[0]) << 24 |
                      static_cast<std::uint32_t>(header[1]) << 16 |
                      static_cast<std::uint32_t>(header[2]) << 8 | header[3];
  if (len < kHeaderSize || len > kMaxPduSize) return Error::bad_length;
  return len;
}

std::variant<Pdu, Error> decode(std::span<const std::uint8_t> raw) {
  if (raw.size() < kHeaderSize) return Error::short_header;
  auto len = frame_length(raw);
  if (auto* e = std::get_if<Error>(&len)) return *e;
  if (std::get<std::uint32_t>(len) != raw.size()) return Error::bad_length;
  Reader r(raw);
  Pdu p;
  r.u32();
  p.command_id = r.u32();
  p.command_status = r.u32();
  p.sequence_number = r.u32();
  const auto id = p.command_id;
  if (is_bind(id)) {
    Bind b;
    b.system_id = r.cstr(16);
    b.password = r.cstr(9);
    b.system_type = r.cstr(13);
    b.interface_version = r.u8();
    b.addr_ton = r.u8();
    b.addr_npi = r.u8();
    b.address_range = r.cstr(41);
    p.body = std::move(b);
  } else if (id == cmd::submit_sm || id == cmd::deliver_sm) {
    ShortMessage m;
    m.service_type = r.cstr(6);
    m.source_addr_ton = r.u8();
    m.source_addr_npi = r.u8();
    m.source_addr = r.cstr(21);
    m.dest_addr_ton = r.u8();
    m.dest_addr_npi = r.u8();
    m.destination_addr = r.cstr(21);
    m.esm_class = r.u8();
    m.protocol_id = r.u8();
    m.priority_flag = r.u8();
    m.schedule_delivery_time = r.cstr(17);
    m.validity_period = r.cstr(17);
    m.registered_delivery = r.u8();
    m.replace_if_present_flag = r.u8();
    m.data_coding = r.u8();
    m.sm_default_msg_id = r.u8();
    auto sm_length = r.u8();
    if (r.ok() && sm_length > 254) return Error::truncated;
    m.short_message = r.bytes(sm_length);
    while (r.ok() && !r.done()) {  // optional parameters (section 5.3)
      Tlv t;
      t.tag = r.u16();
      auto n = r.u16();
      t.value = r.bytes(n);
      if (r.ok()) m.tlvs.push_back(std::move(t));
    }
    p.body = std::move(m);
  } else if (is_bind(id & ~cmd::response_bit) && (id & cmd::response_bit)) {
    // A bind_resp with an error status may have no body (section 4.1.2).
    if (!r.done()) p.body = IdResponse{r.cstr(16)};
    while (r.ok() && !r.done()) {  // sc_interface_version TLV
      r.u16();
      r.bytes(r.u16());
    }
  } else if (id == (cmd::submit_sm | cmd::response_bit) || id == (cmd::deliver_sm | cmd::response_bit)) {
    if (!r.done()) p.body = IdResponse{r.cstr(65)};
  } else if (id == cmd::enquire_link || id == (cmd::enquire_link | cmd::response_bit) || id == cmd::unbind ||
             id == (cmd::unbind | cmd::response_bit) || id == cmd::generic_nack) {
    // header only
  } else {
    return Error::unknown_command;
  }
  if (r.bad_string()) return Error::bad_string;
  if (!r.ok()) return Error::truncated;
  if (!r.done()) return Error::trailing_data;
  return p;
}

std::vector<std::uint8_t> encode(const Pdu& p) {
  std::vector<std::uint8_t> b(kHeaderSize, 0);
  if (const auto* bind = std::get_if<Bind>(&p.body)) {
    put_cstr(b, bind->system_id, 16, "system_id");
    put_cstr(b, bind->password, 9, "password");
    put_cstr(b, bind->system_type, 13, "system_type");
    put_u8(b, bind->interface_version);
    put_u8(b, bind->addr_ton);
    put_u8(b, bind->addr_npi);
    put_cstr(b, bind->address_range, 41, "address_range");
  } else if (const auto* m = std::get_if<ShortMessage>(&p.body)) {
    put_cstr(b, m->service_type, 6, "service_type");
    put_u8(b, m->source_addr_ton);
    put_u8(b, m->source_addr_npi);
    put_cstr(b, m->source_addr, 21, "source_addr");
    put_u8(b, m->dest_addr_ton);
    put_u8(b, m->dest_addr_npi);
    put_cstr(b, m->destination_addr, 21, "destination_addr");
    put_u8(b, m->esm_class);
    put_u8(b, m->protocol_id);
    put_u8(b, m->priority_flag);
    put_cstr(b, m->schedule_delivery_time, 17, "schedule_delivery_time");
    put_cstr(b, m->validity_period, 17, "validity_period");
    put_u8(b, m->registered_delivery);
    put_u8(b, m->replace_if_present_flag);
    put_u8(b, m->data_coding);
    put_u8(b, m->sm_default_msg_id);
    if (m->short_message.size() > 254) throw std::invalid_argument("smpp: short_message over 254 octets");
    put_u8(b, static_cast<std::uint8_t>(m->short_message.size()));
    b.insert(b.end(), m->short_message.begin(), m->short_message.end());
    for (const auto& t : m->tlvs) {
      if (t.value.size() > 0xFFFF) throw std::invalid_argument("smpp: TLV value too long");
      put_u16(b, t.tag);
      put_u16(b, static_cast<std::uint16_t>(t.value.size()));
      b.insert(b.end(), t.value.begin(), t.value.end());
    }
  } else if (const auto* r = std::get_if<IdResponse>(&p.body)) {
    // message_id: 65 octets for submit_sm_resp and deliver_sm_resp; system_id: 16 for bind_resp.
    const auto base = p.command_id & ~cmd::response_bit;
    put_cstr(b, r->id, base == cmd::submit_sm || base == cmd::deliver_sm ? 65 : 16, "id");
  }
  if (b.size() > kMaxPduSize) throw std::invalid_argument("smpp: PDU too large");
  std::vector<std::uint8_t> h;
  put_u32(h, static_cast<std::uint32_t>(b.size()));
  put_u32(h, p.command_id);
  put_u32(h, p.command_status);
  put_u32(h, p.sequence_number);
  std::copy(h.begin(), h.end(), b.begin());
  return b;
}

Pdu response_to(const Pdu& req, std::uint32_t st, std::string id) {
  Pdu r;
  r.command_id =
      req.command_id == cmd::generic_nack ? cmd::generic_nack : (req.command_id | cmd::response_bit);
  r.command_status = st;
  r.sequence_number = req.sequence_number;
  const auto base = req.command_id;
  if (is_bind(base) || base == cmd::submit_sm || base == cmd::deliver_sm) r.body = IdResponse{std::move(id)};
  return r;
}

}  // namespace mobix::smpp
