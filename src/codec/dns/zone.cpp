#include "codec/dns/zone.hpp"

#include <mutex>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>

namespace mobix::dns {

std::optional<std::string> normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.size() > 253) return std::nullopt;
  std::string out;
  out.reserve(name.size());
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
      out += c;
      continue;
    }
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return std::nullopt;
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (!name.empty() && label == 0) return std::nullopt;
  return out;
}

bool in_zone(std::string_view name, std::string_view zone) {
  if (zone.empty()) return true;
  if (name.size() == zone.size()) return name == zone;
  return name.size() > zone.size() && name.substr(name.size() - zone.size()) == zone &&
         name[name.size() - zone.size() - 1] == '.';
}

std::optional<std::string> reverse_name(std::string_view ip) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(ip), ec);
  if (ec) return std::nullopt;
  std::string out;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    for (int i = 3; i >= 0; --i) out += std::to_string(b[i]) + ".";
    return out + "in-addr.arpa";
  }
  static const char hex[] = "0123456789abcdef";
  auto b = a.to_v6().to_bytes();
  for (int i = 15; i >= 0; --i) {
    out += hex[b[i] & 0xf];
    out += '.';
    out += hex[b[i] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

ZoneSet::ZoneSet(std::uint32_t initial_serial) : initial_serial_(initial_serial ? initial_serial : 1) {}

Record ZoneSet::Zone::soa() const {
  const auto& s = settings;
  // RFC 1035 3.3.13; refresh/retry/expire only matter to secondaries; minimum is the negative TTL.
  return Record{s.origin, kSOA, s.ttl,
                s.primary_ns + ". " + s.hostmaster + ". " + std::to_string(serial) + " 3600 600 86400 " +
                    std::to_string(s.ttl)};
}

void ZoneSet::Zone::count_ancestors(const std::string& name, int delta) {
  for (auto dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
    auto parent = name.substr(dot + 1);
    if (!in_zone(parent, settings.origin) || parent == settings.origin) break;
    if ((interior[parent] += delta) <= 0) interior.erase(parent);
  }
}

void ZoneSet::add_zone(ZoneSettings z) {
  auto origin = normalize_name(z.origin);
  if (!origin || origin->empty()) throw std::invalid_argument("bad zone name \"" + z.origin + "\"");
  z.origin = *origin;
  if (z.primary_ns.empty()) z.primary_ns = "ns1." + z.origin;
  if (z.hostmaster.empty()) z.hostmaster = "hostmaster." + z.origin;
  auto ns = normalize_name(z.primary_ns);
  auto hm = normalize_name(z.hostmaster);
  if (!ns || !hm) throw std::invalid_argument("bad primary_ns or hostmaster in zone " + z.origin);
  z.primary_ns = *ns;
  z.hostmaster = *hm;
  Zone zone;
  zone.serial = initial_serial_;
  zone.fixed[z.origin][kNS].push_back(z.primary_ns + ".");
  for (auto& r : z.static_records) {
    auto n = normalize_name(r.name);
    if (!n || !in_zone(*n, z.origin))
      throw std::invalid_argument("record \"" + r.name + "\" is not inside zone " + z.origin);
    if (r.type == kA || r.type == kAAAA) {
      boost::system::error_code ec;
      auto a = boost::asio::ip::make_address(r.rdata, ec);
      if (ec || a.is_v4() != (r.type == kA))
        throw std::invalid_argument("record " + *n + ": \"" + r.rdata + "\" is not an address of its type");
    }
    r.name = *n;
    zone.fixed[r.name][r.type].push_back(r.rdata);
  }
  zone.settings = std::move(z);
  for (const auto& [name, types] : zone.fixed) zone.count_ancestors(name, 1);
  std::unique_lock lock(mu_);
  auto key = zone.settings.origin;
  if (!zones_.emplace(key, std::move(zone)).second)
    throw std::invalid_argument("zone " + key + " given twice");
}

ZoneSet::Zone* ZoneSet::zone_for(std::string_view name) {
  return const_cast<Zone*>(static_cast<const ZoneSet*>(this)->zone_for(name));
}

const ZoneSet::Zone* ZoneSet::zone_for(std::string_view name) const {
  const Zone* best = nullptr;
  for (const auto& [origin, z] : zones_)
    if (in_zone(name, origin) && (!best || origin.size() > best->settings.origin.size())) best = &z;
  return best;
}

std::optional<std::string> ZoneSet::zone_of(std::string_view name) const {
  std::shared_lock lock(mu_);
  const auto* z = zone_for(name);
  if (!z) return std::nullopt;
  return z->settings.origin;
}

void ZoneSet::touch(Zone& z) {
  ++z.serial;
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

bool ZoneSet::set(const std::string& name, std::uint16_t type, const std::string& rdata) {
  std::unique_lock lock(mu_);
  auto* z = zone_for(name);
  if (!z) return false;
  auto [node, created] = z->dynamic.try_emplace(name);
  if (created) z->count_ancestors(name, 1);
  auto& values = node->second[type];
  if (values.size() == 1 && values[0] == rdata) return false;
  values.assign(1, rdata);
  touch(*z);
  return true;
}

bool ZoneSet::remove(const std::string& name, std::uint16_t type, const std::string& rdata) {
  std::unique_lock lock(mu_);
  auto* z = zone_for(name);
  if (!z) return false;
  auto node = z->dynamic.find(name);
  if (node == z->dynamic.end()) return false;
  auto rrset = node->second.find(type);
  if (rrset == node->second.end()) return false;
  auto& values = rrset->second;
  auto before = values.size();
  std::erase(values, rdata);
  if (values.size() == before) return false;
  if (values.empty()) node->second.erase(rrset);
  if (node->second.empty()) {
    z->count_ancestors(name, -1);
    z->dynamic.erase(node);
  }
  touch(*z);
  return true;
}

void ZoneSet::clear_dynamic() {
  std::unique_lock lock(mu_);
  for (auto& [origin, z] : zones_)
    if (!z.dynamic.empty()) {
      for (const auto& [name, types] : z.dynamic) z.count_ancestors(name, -1);
      z.dynamic.clear();
      touch(z);
    }
}

std::size_t ZoneSet::dynamic_count() const {
  std::shared_lock lock(mu_);
  std::size_t n = 0;
  for (const auto& [origin, z] : zones_)
    for (const auto& [name, types] : z.dynamic)
      for (const auto& [type, values] : types) n += values.size();
  return n;
}

std::uint32_t ZoneSet::serial(const std::string& origin) const {
  std::shared_lock lock(mu_);
  auto it = zones_.find(origin);
  return it == zones_.end() ? 0 : it->second.serial;
}

Answer ZoneSet::lookup(std::string_view qname, std::uint16_t qtype) const {
  Answer a;
  std::shared_lock lock(mu_);
  const auto* z = zone_for(qname);
  if (!z) return a;  // refused: not authoritative (no recursion, RFC 1034 4.3.1)
  const std::string name(qname);
  bool apex = name == z->settings.origin;
  bool exists = apex;
  auto collect = [&](const auto& table) {
    auto node = table.find(name);
    if (node == table.end()) return;
    exists = exists || !node->second.empty();
    for (const auto& [type, values] : node->second)
      if (qtype == type || qtype == kANY)
        for (const auto& v : values) a.answers.push_back(Record{name, type, z->settings.ttl, v});
  };
  collect(z->fixed);
  collect(z->dynamic);
  if (apex && (qtype == kSOA || qtype == kANY)) a.answers.insert(a.answers.begin(), z->soa());
  if (!a.answers.empty()) {
    a.kind = Answer::Kind::answer;
    return a;
  }
  // An empty non-terminal (a name with only descendants) is NODATA, not NXDOMAIN (RFC 8020).
  if (!exists) exists = z->interior.count(name) > 0;
  a.kind = exists ? Answer::Kind::nodata : Answer::Kind::nxdomain;
  a.soa = z->soa();
  return a;
}

}  // namespace mobix::dns
