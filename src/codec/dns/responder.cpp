// The only translation unit of the DNS server that sees ldns: ldns/common.h redefines bool
// in C++ unless <stdbool.h> comes first (ENVIRONMENT.md).
#include <stdbool.h>
// clang-format off
#include <ldns/ldns.h>
// clang-format on

#include "codec/dns/responder.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

namespace mobix::dns {

namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

constexpr std::uint16_t kEdnsSize = 1232;  // DNS flag day 2020: no IP fragmentation

// Records in presentation form -> ldns RRs (only on a cache miss).
bool push(ldns_pkt* p, ldns_pkt_section section, const Record& r) {
  ldns_rr* rr = nullptr;
  auto text = r.name + ". " + std::to_string(r.ttl) + " IN " + type_name(r.type) + " " + r.rdata;
  if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) return false;
  ldns_pkt_push_rr(p, section, rr);
  return true;
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* p) {
  std::uint8_t* buf = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&buf, p, &size) != LDNS_STATUS_OK) return {};
  std::vector<std::uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

// A header-only error response for a query ldns could not parse (RFC 1035 4.1.1 FORMERR).
std::vector<std::uint8_t> header_only(std::span<const std::uint8_t> q, int rcode) {
  Pkt p(ldns_pkt_new());
  ldns_pkt_set_id(p.get(), static_cast<std::uint16_t>((q[0] << 8) | q[1]));
  ldns_pkt_set_qr(p.get(), true);
  ldns_pkt_set_opcode(p.get(), static_cast<ldns_pkt_opcode>((q[2] >> 3) & 0x0f));
  ldns_pkt_set_rcode(p.get(), static_cast<std::uint8_t>(rcode));
  return to_wire(p.get());
}

// Cache key: everything an answer depends on except the ID and the spelling of the name.
std::string cache_key(const ldns_rdf* owner, std::uint16_t qtype, std::uint16_t qclass, std::size_t limit,
                      bool rd, bool cd, int edns) {
  std::string key(reinterpret_cast<const char*>(ldns_rdf_data(owner)), ldns_rdf_size(owner));
  for (auto& c : key)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  char extra[9] = {
      static_cast<char>(qtype >> 8), static_cast<char>(qtype),      static_cast<char>(qclass >> 8),
      static_cast<char>(qclass),     static_cast<char>(limit >> 8), static_cast<char>(limit),
      static_cast<char>(rd),         static_cast<char>(cd),         static_cast<char>(edns)};
  key.append(extra, sizeof extra);
  return key;
}

/// The query's EDNS OPT record (RFC 6891 6.1.2) when it is the last record and one the fast path
/// answers exactly as the full path would: version 0, no extended RCODE. Options (a COOKIE, say)
/// are skipped: neither path implements them.
struct Opt {
  bool edns = false;
  bool dnssec_ok = false;
  std::size_t udp_limit = 512;
};
std::optional<Opt> read_opt(std::span<const std::uint8_t> q, std::size_t at) {
  if (at + 11 > q.size() || q[at] != 0) return std::nullopt;  // the root name
  const std::uint8_t* p = q.data() + at + 1;
  if (ldns_read_uint16(p) != LDNS_RR_TYPE_OPT) return std::nullopt;
  const std::size_t udp = ldns_read_uint16(p + 2);
  const std::uint8_t ext_rcode = p[4], version = p[5];
  const std::uint16_t flags = ldns_read_uint16(p + 6);
  const std::size_t rdlength = ldns_read_uint16(p + 8);
  if (ext_rcode != 0 || version != 0 || at + 11 + rdlength != q.size()) return std::nullopt;
  return Opt{true, (flags & 0x8000) != 0, std::max<std::size_t>(512, std::min<std::size_t>(udp, kEdnsSize))};
}

struct RdfFree {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};

}  // namespace

std::string type_name(std::uint16_t type) {
  const auto* d = ldns_rr_descript(type);
  return d && d->_name ? d->_name : "TYPE" + std::to_string(type);
}

Responder::Responder(const ZoneSet& zones, std::size_t max_cached) : zones_(zones), max_cached_(max_cached) {}

std::vector<std::uint8_t> Responder::respond(std::span<const std::uint8_t> query, bool tcp, int& rcode) {
  rcode = -1;
  if (query.size() < 12 || (query[2] & 0x80)) return {};  // no header, or a response: never answer
  if (auto g = zones_.generation(); g != generation_) {
    cache_.clear();
    generation_ = g;
  }
  const std::uint8_t* w = query.data();
  // Fast path for the common query (one question, and at most an EDNS OPT record: what resolvers
  // send, RFC 6891): ldns reads the name and the cache answers, without building a full ldns_pkt.
  if (LDNS_QDCOUNT(w) == 1 && LDNS_ANCOUNT(w) == 0 && LDNS_NSCOUNT(w) == 0 && LDNS_ARCOUNT(w) <= 1 &&
      LDNS_OPCODE_WIRE(w) == LDNS_PACKET_QUERY) {
    ldns_rdf* raw_name = nullptr;
    std::size_t pos = LDNS_HEADER_SIZE;
    if (ldns_wire2dname(&raw_name, w, query.size(), &pos) == LDNS_STATUS_OK) {
      std::unique_ptr<ldns_rdf, RdfFree> name(raw_name);
      auto opt = LDNS_ARCOUNT(w) == 0 ? std::optional<Opt>(Opt{}) : read_opt(query, pos + 4);
      if (pos + 4 <= query.size() && opt && (LDNS_ARCOUNT(w) == 1 || pos + 4 == query.size())) {
        const std::size_t limit = tcp ? 65535 : opt->edns ? opt->udp_limit : 512;
        auto key = cache_key(name.get(), ldns_read_uint16(w + pos), ldns_read_uint16(w + pos + 2), limit,
                             LDNS_RD_WIRE(w) != 0, LDNS_CD_WIRE(w) != 0, opt->edns ? 1 + opt->dnssec_ok : 0);
        if (auto hit = cache_.find(key); hit != cache_.end()) {
          rcode = hit->second.rcode;
          auto wire = hit->second.wire;
          wire[0] = query[0];
          wire[1] = query[1];
          std::memcpy(wire.data() + 12, ldns_rdf_data(name.get()), ldns_rdf_size(name.get()));
          return wire;
        }
      }
    }
  }
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, query.data(), query.size()) != LDNS_STATUS_OK) {
    rcode = kFormErr;
    return header_only(query, kFormErr);
  }
  Pkt q(raw);
  if (ldns_pkt_get_opcode(q.get()) != LDNS_PACKET_QUERY) {
    rcode = kNotImp;  // UPDATE, NOTIFY, ...: the embedded server takes its changes from the sessions
    return header_only(query, kNotImp);
  }
  auto* questions = ldns_pkt_question(q.get());
  if (ldns_pkt_qdcount(q.get()) != 1 || ldns_rr_list_rr_count(questions) != 1) {
    rcode = kFormErr;
    return header_only(query, kFormErr);
  }
  const ldns_rr* question = ldns_rr_list_rr(questions, 0);
  const ldns_rdf* owner = ldns_rr_owner(question);
  auto qtype = static_cast<std::uint16_t>(ldns_rr_get_type(question));
  auto qclass = static_cast<std::uint16_t>(ldns_rr_get_class(question));
  bool edns = ldns_pkt_edns(q.get());
  std::size_t limit =
      tcp    ? 65535
      : edns ? std::max<std::size_t>(512, std::min<std::size_t>(ldns_pkt_edns_udp_size(q.get()), kEdnsSize))
             : 512;

  auto key = cache_key(owner, qtype, qclass, limit, ldns_pkt_rd(q.get()), ldns_pkt_cd(q.get()),
                       edns ? 1 + ldns_pkt_edns_do(q.get()) : 0);
  auto patch = [&](std::vector<std::uint8_t> wire) {
    wire[0] = query[0];
    wire[1] = query[1];
    // Echo the question's spelling (DNS 0x20); the name is uncompressed at offset 12 in both.
    std::memcpy(wire.data() + 12, ldns_rdf_data(owner), ldns_rdf_size(owner));
    return wire;
  };
  if (auto hit = cache_.find(key); hit != cache_.end()) {
    rcode = hit->second.rcode;
    return patch(hit->second.wire);
  }

  Pkt r(ldns_pkt_new());
  ldns_pkt_set_id(r.get(), ldns_pkt_id(q.get()));
  ldns_pkt_set_qr(r.get(), true);
  ldns_pkt_set_opcode(r.get(), LDNS_PACKET_QUERY);
  ldns_pkt_set_rd(r.get(), ldns_pkt_rd(q.get()));  // RFC 1035 4.1.1: copied; no recursion offered
  ldns_pkt_set_cd(r.get(), ldns_pkt_cd(q.get()));
  ldns_pkt_push_rr(r.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(question));
  if (edns) {
    ldns_pkt_set_edns_udp_size(r.get(), kEdnsSize);
    ldns_pkt_set_edns_do(r.get(), ldns_pkt_edns_do(q.get()));
  }

  auto* name_text = ldns_rdf2str(owner);
  auto name = normalize_name(name_text ? name_text : "");
  std::free(name_text);
  rcode = kRefused;
  if (edns && ldns_pkt_edns_version(q.get()) != 0) {
    rcode = kFormErr;  // BADVERS needs the extended RCODE; ldns exposes no setter, FORMERR is allowed
  } else if (name && (qclass == LDNS_RR_CLASS_IN || qclass == LDNS_RR_CLASS_ANY)) {
    if (qtype == LDNS_RR_TYPE_AXFR || qtype == LDNS_RR_TYPE_IXFR) {
      rcode = zones_.zone_of(*name) ? kNotImp : kRefused;  // zone transfers are not offered
    } else {
      auto a = zones_.lookup(*name, qtype);
      if (a.kind != Answer::Kind::refused) {
        ldns_pkt_set_aa(r.get(), true);
        rcode = a.kind == Answer::Kind::nxdomain ? kNxDomain : kNoError;
        for (const auto& rec : a.answers)
          if (!push(r.get(), LDNS_SECTION_ANSWER, rec)) rcode = kServFail;
        if (a.soa && !push(r.get(), LDNS_SECTION_AUTHORITY, *a.soa)) rcode = kServFail;
      }
    }
  }
  ldns_pkt_set_rcode(r.get(), static_cast<std::uint8_t>(rcode));
  auto wire = to_wire(r.get());
  if (wire.size() > limit) {
    // RFC 2181 9: set TC and send what fits; the client retries over TCP.
    ldns_rr_list_deep_free(ldns_pkt_answer(r.get()));
    ldns_rr_list_deep_free(ldns_pkt_authority(r.get()));
    ldns_pkt_set_answer(r.get(), ldns_rr_list_new());
    ldns_pkt_set_authority(r.get(), ldns_rr_list_new());
    ldns_pkt_set_ancount(r.get(), 0);
    ldns_pkt_set_nscount(r.get(), 0);
    ldns_pkt_set_tc(r.get(), true);
    wire = to_wire(r.get());
  }
  if (wire.size() < 12 + ldns_rdf_size(owner)) return header_only(query, kServFail);
  // An unknown EDNS version's refusal is not the answer for the key (which has no version): a
  // cached one would be served to the version-0 queries that share it.
  if (edns && ldns_pkt_edns_version(q.get()) != 0) return patch(std::move(wire));
  if (cache_.size() >= max_cached_) cache_.clear();
  cache_.emplace(std::move(key), Cached{wire, rcode});
  return patch(std::move(wire));
}

}  // namespace mobix::dns
