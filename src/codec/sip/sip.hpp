#pragma once
// SIP (RFC 3261) messages for seed 003's secure calls, parsed by libosip2, and the one SDP (RFC 4566)
// shape a represented device's proxy offers and answers: one audio stream, RTP/SAVP, PCMU (read here:
// libosip2's SDP parser reads past its input's end on malformed lines, see sip.cpp).
//
// Kerberos rides in the headers the way MS-SIPAE (Microsoft's SIP Kerberos profile) writes it, which
// libosip2 parses: the caller's AP-REQ in `Authorization: Kerberos realm="R", targetname="<callee
// principal>", gssapi-data="<base64>"`, the callee's AP-REP in the 200 OK's
// `Authentication-Info: Kerberos rspauth="<base64>"`.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mobix::sip {

struct KerberosCredentials {
  std::string realm, targetname, gssapi_data;
};

class Message {
 public:
  /// Nullopt unless libosip2 parses it and it has the headers every message needs (Via, From, To,
  /// Call-ID, CSeq; RFC 3261 8.1.1).
  static std::optional<Message> parse(std::string_view text);

  bool is_request() const;
  std::string method() const;        ///< a request's method
  int status() const;                ///< a response's code
  std::string request_user() const;  ///< the Request-URI's user part
  std::string from_user() const;
  std::string to_user() const;
  std::string from_tag() const;
  std::string to_tag() const;
  std::string call_id() const;
  std::string cseq_method() const;
  std::uint32_t cseq_number() const;
  std::string top_branch() const;  ///< the top Via's branch (the transaction)
  std::string body() const;
  std::optional<KerberosCredentials> kerberos() const;  ///< Authorization: Kerberos ...
  std::string rspauth() const;                          ///< Authentication-Info: ... rspauth
  std::string contact_uri() const;                      ///< the first Contact's URI, "" if none
  /// A REGISTER's lifetime: the first Contact's expires parameter, else the Expires header.
  std::optional<std::uint32_t> expires() const;

  /// A response to this request (RFC 3261 8.2.6): its Vias, From, Call-ID, CSeq and To, with
  /// `to_tag` added when To has none. `headers` are whole lines without CRLF.
  std::string response(int code, std::string_view reason, std::string_view to_tag,
                       const std::vector<std::string>& headers = {}, std::string_view sdp = {}) const;
  /// The From and To header values as received (for an ACK or BYE in the same dialog).
  std::string from_header() const;
  std::string to_header() const;

 private:
  struct Owner;
  std::shared_ptr<Owner> msg_;
};

/// A request; `headers` are whole lines without CRLF (Via, From, To, Call-ID, CSeq, ...). Adds
/// Max-Forwards, Content-Type (with an SDP body) and Content-Length.
std::string build_request(std::string_view method, std::string_view uri,
                          const std::vector<std::string>& headers, std::string_view sdp = {});

/// An SDES key (RFC 4568) for AES_CM_128_HMAC_SHA1_80, the one suite the proxies speak.
struct SdesKey {
  unsigned tag = 0;
  std::string key_and_salt;  ///< 30 bytes
};

/// The audio stream of an offer or answer.
struct AudioOffer {
  std::string address;  ///< c= (IPv4)
  std::uint16_t port = 0;
  bool savp = false;            ///< RTP/SAVP
  bool pcmu = false;            ///< payload type 0 offered
  std::optional<SdesKey> sdes;  ///< the first usable a=crypto line, if any
};
std::optional<AudioOffer> parse_sdp(std::string_view sdp);
/// v=0 ... m=audio <port> RTP/SAVP 0. Between proxies no key is in it (the keys come from the
/// Kerberos context); towards a phone on the access network `sdes` adds its a=crypto line.
std::string build_sdp(std::string_view address, std::uint16_t port, std::uint64_t session_id,
                      const std::optional<SdesKey>& sdes = std::nullopt);
/// "AES_CM_128_HMAC_SHA1_80 inline:<base64>[|lifetime][|MKI:len]" (a=crypto's value after the tag):
/// the key, or nullopt for another suite or a malformed key.
std::optional<std::string> parse_sdes_suite_and_key(std::string_view text);

}  // namespace mobix::sip
