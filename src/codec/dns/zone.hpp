#pragma once
// Authoritative zone data for the embedded DNS server (seed 002 [0029]-[0033]): static records
// from the config plus the records that follow the access sessions. Pure data, no wire format:
// the server (dns_server.cpp) turns answers into DNS messages with ldns.
// Names are kept lower-case, absolute, without the trailing dot ("alice.home.example").
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mobix::dns {

// RR type numbers (RFC 1035 3.2.2, RFC 3596).
inline constexpr std::uint16_t kA = 1, kNS = 2, kSOA = 6, kPTR = 12, kAAAA = 28, kANY = 255;

/// Lower-cases, strips one trailing dot; "" for the root. Returns nullopt for names that are
/// not valid host/zone names (empty labels, labels over 63 octets, names over 253).
std::optional<std::string> normalize_name(std::string_view name);
/// True when `name` is `zone` or below it.
bool in_zone(std::string_view name, std::string_view zone);
/// "127.3.0.9" -> "9.0.3.127.in-addr.arpa"; IPv6 -> nibble form under ip6.arpa (RFC 3596 2.5).
std::optional<std::string> reverse_name(std::string_view ip);

struct Record {
  std::string name;
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::string rdata;  ///< presentation form: "127.0.0.1", "ns1.example.", SOA fields
};

struct ZoneSettings {
  std::string origin;      ///< normalized
  std::string primary_ns;  ///< normalized; default "ns1.<origin>"
  std::string hostmaster;  ///< normalized mailbox; default "hostmaster.<origin>"
  std::uint32_t ttl = 60;  ///< for the records that follow sessions (and the SOA minimum)
  std::vector<Record> static_records;
};

/// What a query finds (RFC 1034 4.3.2, RFC 2308 for the negative answers).
struct Answer {
  enum class Kind { answer, nodata, nxdomain, refused } kind = Kind::refused;
  std::vector<Record> answers;
  std::optional<Record> soa;  ///< authority section of a negative answer (RFC 2308 3)
};

/// Every zone this node serves. Lookups from any thread; changes serialised by the caller's
/// lock-free use of one mutator thread or by the internal mutex. Each change bumps the zone's
/// SOA serial (RFC 1982 arithmetic is not needed: serials start at the load time in seconds).
class ZoneSet {
 public:
  explicit ZoneSet(std::uint32_t initial_serial);

  /// Throws std::invalid_argument on a bad origin or record.
  void add_zone(ZoneSettings z);
  /// The zone (origin) holding `name`: the longest matching origin, or nullopt.
  std::optional<std::string> zone_of(std::string_view name) const;

  /// Replaces the RRset (name, type) with one value; returns false when it already was exactly that.
  bool set(const std::string& name, std::uint16_t type, const std::string& rdata);
  /// Removes the value from the RRset when present (never touches another session's value).
  bool remove(const std::string& name, std::uint16_t type, const std::string& rdata);
  /// Drops every session-derived record (before a reconcile from the live sessions).
  void clear_dynamic();

  Answer lookup(std::string_view qname, std::uint16_t qtype) const;
  std::uint32_t serial(const std::string& origin) const;
  /// Bumped on every change; lets the server drop cached answers.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::size_t dynamic_count() const;

 private:
  struct Zone {
    ZoneSettings settings;
    std::uint32_t serial = 1;
    // name -> type -> values
    std::map<std::string, std::map<std::uint16_t, std::vector<std::string>>> fixed, dynamic;
    /// Names with descendants but maybe no records (empty non-terminals) -> how many descendants.
    std::map<std::string, int, std::less<>> interior;
    Record soa() const;
    void count_ancestors(const std::string& name, int delta);
  };
  Zone* zone_for(std::string_view name);
  const Zone* zone_for(std::string_view name) const;
  void touch(Zone& z);

  mutable std::shared_mutex mu_;
  std::map<std::string, Zone> zones_;
  std::uint32_t initial_serial_;
  std::atomic<std::uint64_t> generation_{1};
};

}  // namespace mobix::dns
