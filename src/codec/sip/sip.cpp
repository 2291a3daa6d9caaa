#include "codec/sip/sip.hpp"

#include <charconv>
#include <mutex>

#include <openssl/evp.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/sdp_message.h>

namespace mobix::sip {

namespace {

void init_parser() {
  static std::once_flag once;
  std::call_once(once, [] {
    parser_init();
    // libosip2 prints its own traces on stderr; a bad message is the caller's to count and log.
    for (int level = 0; level < END_TRACE_LEVEL; ++level)
      osip_trace_disable_level(static_cast<osip_trace_level_t>(level));
  });
}

/// Takes ownership of a string libosip2 allocated.
std::string take(char* s) {
  if (!s) return {};
  std::string out(s);
  osip_free(s);
  return out;
}

std::string str(const char* s) {
  return s ? s : "";
}

std::string param(osip_list_t* params, const char* name) {
  osip_generic_param_t* p = nullptr;
  osip_generic_param_get_byname(params, const_cast<char*>(name), &p);
  return p && p->gvalue ? p->gvalue : "";
}

std::string unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

struct Message::Owner {
  osip_message_t* m = nullptr;
  ~Owner() {
    if (m) osip_message_free(m);
  }
};

std::optional<Message> Message::parse(std::string_view text) {
  if (text.empty() || text.size() > 16384) return std::nullopt;
  init_parser();
  auto owner = std::make_shared<Owner>();
  if (osip_message_init(&owner->m) != 0) return std::nullopt;
  std::string copy(text);  // libosip2 reads it as a C string: it must end in NUL
  if (osip_message_parse(owner->m, copy.c_str(), copy.size()) != 0) return std::nullopt;
  auto* m = owner->m;
  osip_via_t* via = nullptr;
  if (osip_message_get_via(m, 0, &via) < 0 || !via || !m->from || !m->to || !m->call_id ||
      !m->call_id->number || !m->cseq || !m->cseq->method || !m->cseq->number)
    return std::nullopt;
  if (MSG_IS_REQUEST(m) && (!m->sip_method || !m->req_uri)) return std::nullopt;
  Message out;
  out.msg_ = std::move(owner);
  return out;
}

bool Message::is_request() const {
  return MSG_IS_REQUEST(msg_->m);
}
std::string Message::method() const {
  return str(msg_->m->sip_method);
}
int Message::status() const {
  return msg_->m->status_code;
}
std::string Message::request_user() const {
  return msg_->m->req_uri ? str(msg_->m->req_uri->username) : "";
}
std::string Message::from_user() const {
  return msg_->m->from->url ? str(msg_->m->from->url->username) : "";
}
std::string Message::to_user() const {
  return msg_->m->to->url ? str(msg_->m->to->url->username) : "";
}
std::string Message::from_tag() const {
  return param(&msg_->m->from->gen_params, "tag");
}
std::string Message::to_tag() const {
  return param(&msg_->m->to->gen_params, "tag");
}
std::string Message::call_id() const {
  return take([&] {
    char* s = nullptr;
    osip_call_id_to_str(msg_->m->call_id, &s);
    return s;
  }());
}
std::string Message::cseq_method() const {
  return str(msg_->m->cseq->method);
}

std::uint32_t Message::cseq_number() const {
  std::string n = str(msg_->m->cseq->number);
  std::uint32_t v = 0;
  std::from_chars(n.data(), n.data() + n.size(), v);
  return v;
}

std::string Message::top_branch() const {
  osip_via_t* via = nullptr;
  osip_message_get_via(msg_->m, 0, &via);
  return via ? param(&via->via_params, "branch") : "";
}

std::string Message::body() const {
  osip_body_t* b = nullptr;
  osip_message_get_body(msg_->m, 0, &b);
  return b && b->body ? std::string(b->body, b->length) : "";
}

std::optional<KerberosCredentials> Message::kerberos() const {
  for (int i = 0;; ++i) {
    osip_authorization_t* a = nullptr;
    if (osip_message_get_authorization(msg_->m, i, &a) < 0 || !a) return std::nullopt;
    if (a->auth_type && osip_strcasecmp(a->auth_type, "Kerberos") == 0)
      return KerberosCredentials{unquote(str(a->realm)), unquote(str(a->targetname)),
                                 unquote(str(a->gssapi_data))};
  }
}

std::string Message::rspauth() const {
  osip_authentication_info_t* a = nullptr;
  if (osip_message_get_authentication_info(msg_->m, 0, &a) < 0 || !a) return "";
  return unquote(str(a->rspauth));
}

std::string Message::contact_uri() const {
  osip_contact_t* c = nullptr;
  if (osip_message_get_contact(msg_->m, 0, &c) < 0 || !c || !c->url) return "";
  char* s = nullptr;
  osip_uri_to_str(c->url, &s);
  return take(s);
}

std::optional<std::uint32_t> Message::expires() const {
  auto number = [](const std::string& v) -> std::optional<std::uint32_t> {
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    return n;
  };
  osip_contact_t* c = nullptr;
  if (osip_message_get_contact(msg_->m, 0, &c) >= 0 && c) {
    auto v = param(&c->gen_params, "expires");
    if (!v.empty()) return number(v);
  }
  osip_header_t* h = nullptr;
  if (osip_message_get_expires(msg_->m, 0, &h) >= 0 && h && h->hvalue) return number(h->hvalue);
  return std::nullopt;
}

std::string Message::from_header() const {
  char* s = nullptr;
  osip_from_to_str(msg_->m->from, &s);
  return take(s);
}

std::string Message::to_header() const {
  char* s = nullptr;
  osip_to_to_str(msg_->m->to, &s);
  return take(s);
}

std::string Message::response(int code, std::string_view reason, std::string_view to_tag,
                              const std::vector<std::string>& headers, std::string_view sdp) const {
  std::string out = "SIP/2.0 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  for (int i = 0;; ++i) {
    osip_via_t* via = nullptr;
    if (osip_message_get_via(msg_->m, i, &via) < 0 || !via) break;
    char* s = nullptr;
    osip_via_to_str(via, &s);
    out += "Via: " + take(s) + "\r\n";
  }
  out += "From: " + from_header() + "\r\n";
  auto to = to_header();
  if (this->to_tag().empty() && !to_tag.empty()) to += ";tag=" + std::string(to_tag);
  out += "To: " + to + "\r\n";
  out += "Call-ID: " + call_id() + "\r\n";
  out += "CSeq: " + std::to_string(cseq_number()) + " " + cseq_method() + "\r\n";
  for (const auto& h : headers) out += h + "\r\n";
  if (!sdp.empty()) out += "Content-Type: application/sdp\r\n";
  out += "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n";
  out += sdp;
  return out;
}

std::string build_request(std::string_view method, std::string_view uri,
                          const std::vector<std::string>& headers, std::string_view sdp) {
  std::string out = std::string(method) + " " + std::string(uri) + " SIP/2.0\r\n";
  for (const auto& h : headers) out += h + "\r\n";
  out += "Max-Forwards: 70\r\n";
  if (!sdp.empty()) out += "Content-Type: application/sdp\r\n";
  out += "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n";
  out += sdp;
  return out;
}

std::optional<std::string> parse_sdes_suite_and_key(std::string_view text) {
  constexpr std::string_view kSuite = "AES_CM_128_HMAC_SHA1_80 inline:";
  if (text.substr(0, kSuite.size()) != kSuite) return std::nullopt;
  auto b64 = text.substr(kSuite.size());
  b64 = b64.substr(0, std::min(b64.find('|'), b64.find(' ')));  // lifetime and MKI are not used
  if (b64.size() != 40) return std::nullopt;                    // 30 bytes, base64 without padding
  unsigned char out[30];
  if (EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(b64.data()), 40) != 30) return std::nullopt;
  return std::string(reinterpret_cast<char*>(out), 30);
}

namespace {

std::optional<SdesKey> sdes_of(sdp_message_t* sdp, int media) {
  for (int k = 0; sdp_message_a_att_field_get(sdp, media, k); ++k) {
    if (str(sdp_message_a_att_field_get(sdp, media, k)) != "crypto") continue;
    std::string value = str(sdp_message_a_att_value_get(sdp, media, k));
    auto space = value.find(' ');
    unsigned tag = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + std::min(space, value.size()), tag);
    if (ec != std::errc() || space == std::string::npos || tag > 999999999) continue;
    if (auto key = parse_sdes_suite_and_key(std::string_view(value).substr(space + 1)))
      return SdesKey{tag, std::move(*key)};
  }
  return std::nullopt;
}

}  // namespace

std::optional<AudioOffer> parse_sdp(std::string_view text) {
  if (text.empty() || text.size() > 8192) return std::nullopt;
  init_parser();
  sdp_message_t* sdp = nullptr;
  if (sdp_message_init(&sdp) != 0) return std::nullopt;
  std::string copy(text);
  std::optional<AudioOffer> out;
  if (sdp_message_parse(sdp, copy.c_str()) == 0) {
    for (int i = 0; sdp_message_m_media_get(sdp, i); ++i) {
      if (str(sdp_message_m_media_get(sdp, i)) != "audio") continue;
      AudioOffer a;
      auto port = str(sdp_message_m_port_get(sdp, i));
      unsigned p = 0;
      auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
      if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) break;
      a.port = static_cast<std::uint16_t>(p);
      a.savp = str(sdp_message_m_proto_get(sdp, i)) == "RTP/SAVP";
      for (int k = 0; sdp_message_m_payload_get(sdp, i, k); ++k)
        if (str(sdp_message_m_payload_get(sdp, i, k)) == "0") a.pcmu = true;
      // The stream's own c= line, else the session's (RFC 4566 5.7).
      a.address = str(sdp_message_c_addr_get(sdp, i, 0));
      if (a.address.empty()) a.address = str(sdp_message_c_addr_get(sdp, -1, 0));
      a.sdes = sdes_of(sdp, i);
      if (!a.address.empty()) out = a;
      break;
    }
  }
  sdp_message_free(sdp);
  return out;
}

std::string build_sdp(std::string_view address, std::uint16_t port, std::uint64_t session_id,
                      const std::optional<SdesKey>& sdes) {
  auto id = std::to_string(session_id);
  std::string a(address);
  auto out = "v=0\r\no=mobix " + id + " " + id + " IN IP4 " + a + "\r\ns=mobix secure call\r\nc=IN IP4 " + a +
             "\r\nt=0 0\r\nm=audio " + std::to_string(port) +
             " RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n";
  if (sdes) {
    unsigned char b64[41];
    EVP_EncodeBlock(b64, reinterpret_cast<const unsigned char*>(sdes->key_and_salt.data()),
                    static_cast<int>(sdes->key_and_salt.size()));
    out += "a=crypto:" + std::to_string(sdes->tag) +
           " AES_CM_128_HMAC_SHA1_80 inline:" + std::string(reinterpret_cast<char*>(b64), 40) + "\r\n";
  }
  return out;
}

}  // namespace mobix::sip
