#include "codec/sip/sip.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>
#include <vector>

#include <openssl/evp.h>
#include <osipparser2/osip_parser.h>

namespace mobix::sip {

namespace {

void init_parser() {
  static std::once_flag once;
  std::call_once(once, [] {
    parser_init();
    // libosip2 prints its own traces on stdout; a bad message is the caller's to count and log.
    osip_trace_initialize_func(OSIP_FATAL, [](const char*, int, osip_trace_level_t, const char*, va_list) {});
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
  // What the call agent relies on and copies into its answers must be well formed (RFC 3261 25.1):
  // CSeq is 1*DIGIT and a method token, a request's method its CSeq's, Call-ID a word[@word].
  auto is_token = [](std::string_view s, std::string_view extra) {
    return !s.empty() && s.size() <= 256 && std::all_of(s.begin(), s.end(), [&](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) ||
             std::string_view("-.!%*_+`'~").find(ch) != std::string_view::npos ||
             extra.find(ch) != std::string_view::npos;
    });
  };
  std::string_view number = m->cseq->number, method = m->cseq->method;
  if (number.empty() || number.size() > 10 ||
      !std::all_of(number.begin(), number.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
      !is_token(method, "") || (MSG_IS_REQUEST(m) && method != m->sip_method))
    return std::nullopt;
  std::string call_id = m->call_id->number;
  if (m->call_id->host) call_id += std::string("@") + m->call_id->host;
  if (!is_token(call_id, "()<>:\\\"/[]?{}@")) return std::nullopt;
  // Every Via is copied into an answer: SIP/2.0/<transport> <host>[:<port>] (RFC 3261 20.42).
  for (int i = 0;; ++i) {
    osip_via_t* v = nullptr;
    if (osip_message_get_via(m, i, &v) < 0 || !v) break;
    std::string_view host = v->host ? v->host : "", port = v->port ? v->port : "";
    if (std::string_view(v->version ? v->version : "") != "2.0" ||
        !is_token(v->protocol ? v->protocol : "", "") || host.empty() || host.size() > 255 ||
        !std::all_of(host.begin(), host.end(),
                     [](char ch) {
                       return std::isalnum(static_cast<unsigned char>(ch)) ||
                              std::string_view(".-:[]").find(ch) != std::string_view::npos;
                     }) ||
        port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) || v->comment)
      return std::nullopt;
    for (int k = 0;; ++k) {  // via-params: token[=token] (received may be an IPv6 reference)
      osip_generic_param_t* param = nullptr;
      if (osip_list_size(&v->via_params) <= k ||
          !(param = static_cast<osip_generic_param_t*>(osip_list_get(&v->via_params, k))))
        break;
      if (!is_token(param->gname ? param->gname : "", "") ||
          (param->gvalue && !is_token(param->gvalue, ":[]")))
        return std::nullopt;
    }
  }
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

/// "<tag> <suite> inline:<key>..." (a=crypto's value): the key if the suite is ours.
std::optional<SdesKey> sdes_of(std::string_view value) {
  auto space = value.find(' ');
  unsigned tag = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + std::min(space, value.size()), tag);
  if (ec != std::errc() || space == std::string_view::npos || end != value.data() + space || tag > 999999999)
    return std::nullopt;
  auto key = parse_sdes_suite_and_key(value.substr(space + 1));
  if (!key) return std::nullopt;
  return SdesKey{tag, std::move(*key)};
}

/// "IN IP4 <address>[/ttl]" (c=): the address.
std::string connection_address(std::string_view value) {
  constexpr std::string_view kIn4 = "IN IP4 ";
  if (value.substr(0, kIn4.size()) != kIn4) return "";
  auto address = value.substr(kIn4.size());
  return std::string(address.substr(0, address.find('/')));
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto space = s.find(' ');
    if (space != 0) out.push_back(s.substr(0, space));
    if (space == std::string_view::npos) break;
    s.remove_prefix(space + 1);
  }
  return out;
}

}  // namespace

// SDP is read here, not by libosip2's sdp_message_parse: fuzzing found that 5.3.0 reads past the
// end of its input on malformed lines (tests/fuzz/corpus/sip/osip-sdp-overread). Only what a call
// needs is read: the first audio stream's address, port, profile, PCMU and an SDES key.
std::optional<AudioOffer> parse_sdp(std::string_view text) {
  if (text.empty() || text.size() > 8192) return std::nullopt;
  AudioOffer a;
  std::string session_address;
  enum class Section { session, audio, other_media, after_audio } section = Section::session;
  while (!text.empty()) {
    auto eol = text.find('\n');
    auto line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.size() < 2 || line[1] != '=') return std::nullopt;  // RFC 4566 5: <type>=<value>
    auto value = line.substr(2);
    switch (line[0]) {
      case 'm': {
        if (section == Section::audio || section == Section::after_audio) {
          section = Section::after_audio;
          break;
        }
        auto w = words(value);
        if (w.size() < 4 || w[0] != "audio") {
          section = Section::other_media;
          break;
        }
        unsigned port = 0;
        auto p = w[1].substr(0, w[1].find('/'));
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
        if (ec != std::errc() || end != p.data() + p.size() || port == 0 || port > 65535) return std::nullopt;
        a.port = static_cast<std::uint16_t>(port);
        a.savp = w[2] == "RTP/SAVP";
        for (std::size_t k = 3; k < w.size(); ++k) a.pcmu = a.pcmu || w[k] == "0";
        section = Section::audio;
        break;
      }
      case 'c':
        if (section == Section::session) session_address = connection_address(value);
        if (section == Section::audio) a.address = connection_address(value);
        break;
      case 'a':
        if (section == Section::audio && !a.sdes && value.substr(0, 7) == "crypto:")
          a.sdes = sdes_of(value.substr(7));
        break;
      default:
        break;
    }
  }
  if (section == Section::session || section == Section::other_media) return std::nullopt;  // no audio
  if (a.address.empty()) a.address = session_address;  // the stream's c= line, else the session's
  if (a.address.empty()) return std::nullopt;
  return a;
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
