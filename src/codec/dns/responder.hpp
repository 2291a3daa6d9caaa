#pragma once
// One DNS query in, one response out (RFC 1035 4.1, RFC 6891 for EDNS, RFC 2308 negative answers),
// answered from a ZoneSet. Wire format via ldns; this header keeps ldns out of its users.
// One Responder per thread: it caches encoded answers until the zones change.
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/dns/zone.hpp"

namespace mobix::dns {

// RCODEs (RFC 1035 4.1.1, RFC 6895).
inline constexpr int kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5;

/// "A", "PTR", ... (ldns's table), "TYPE<n>" for unknown types.
std::string type_name(std::uint16_t type);

class Responder {
 public:
  explicit Responder(const ZoneSet& zones, std::size_t max_cached = 100000);

  /// The response to `query`, or empty when nothing may be sent back (a response, or fewer
  /// than 12 octets: no header to answer). `tcp` lifts the 512/EDNS size limit (RFC 7766).
  /// `rcode` receives the answer's RCODE (-1 when dropped).
  std::vector<std::uint8_t> respond(std::span<const std::uint8_t> query, bool tcp, int& rcode);

 private:
  struct Cached {
    std::vector<std::uint8_t> wire;
    int rcode;
  };
  const ZoneSet& zones_;
  std::size_t max_cached_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, Cached> cache_;
};

}  // namespace mobix::dns
