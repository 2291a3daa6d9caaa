#include "mip/home_agent_core.hpp"

#include <algorithm>

namespace mobix::mip {

HomeAgentCore::HomeAgentCore(HomeAgentPolicy policy, Lookup lookup)
    : policy_(policy), lookup_(std::move(lookup)) {}

Verdict HomeAgentCore::refuse(const Request& r, Code code, std::string reason,
                              std::optional<SecurityAssociation> sa) const {
  Verdict v;
  v.action = Verdict::Action::reply;
  v.reply = Reply{code, 0, r.home_address, r.home_agent, r.identification};
  v.sa = std::move(sa);
  v.reason = std::move(reason);
  return v;
}

// RFC 5944 5.7: the timestamp must be within the window of the Home Agent's clock and newer than
// the last one accepted; a refusal carries the Home Agent's time so the node can resynchronise.
Verdict HomeAgentCore::check_identification(const Request& r, const SecurityAssociation& sa,
                                            std::int64_t now) const {
  auto stamp = identification_unix_seconds(r.identification);
  bool in_window = std::max(stamp, now) - std::min(stamp, now) <= std::int64_t{policy_.replay_window};
  auto it = bindings_.find(ipv4_to_string(r.home_address));
  bool fresh = it == bindings_.end() || r.identification > it->second.identification;
  if (in_window && fresh) return {};
  auto v = refuse(r, Code::identification_mismatch, in_window ? "replayed" : "clock_skew", sa);
  v.reply.identification = timestamp_identification(now, static_cast<std::uint32_t>(r.identification));
  return v;
}

Verdict HomeAgentCore::accept(const Request& r, const SecurityAssociation& sa, std::int64_t now) {
  const auto home = ipv4_to_string(r.home_address);
  // RFC 5944 3.8.3: a zero lifetime, or the home address as care-of address, deregisters.
  bool deregister = r.lifetime == 0 || r.care_of == r.home_address;
  bool is_new = !care_of(home, now).has_value();
  if (!deregister && is_new && live_ >= policy_.max_bindings)
    return refuse(r, Code::insufficient_resources, "too_many_bindings", sa);
  std::uint16_t lifetime = deregister ? 0 : std::min(r.lifetime, policy_.max_lifetime);
  MobilityBinding b{home, deregister ? std::string() : ipv4_to_string(r.care_of), now + lifetime,
                    r.identification, now};
  put(b);
  Verdict v;
  v.action = Verdict::Action::reply;
  // One binding per home address: a node asking for simultaneous ones is told so (code 1).
  Code code = !deregister && (r.flags & flag::simultaneous) ? Code::accepted_no_simultaneous : Code::accepted;
  v.reply = Reply{code, lifetime, r.home_address, policy_.address, r.identification};
  v.sa = sa;
  v.reason = deregister ? "deregistered" : (is_new ? "registered" : "renewed");
  v.write = b;
  return v;
}

Verdict HomeAgentCore::decide(std::span<const std::uint8_t> datagram, std::int64_t now) {
  auto decoded = decode_request(datagram);
  if (auto* e = std::get_if<Error>(&decoded)) {
    Verdict v;
    // Too short or not a request: nothing to answer to. Anything else has a header to answer.
    if (*e == Error::too_short || *e == Error::wrong_type || *e == Error::too_long) {
      v.reason =
          *e == Error::too_short ? "too_short" : (*e == Error::too_long ? "too_long" : "not_a_request");
      return v;
    }
    Request r;
    r.home_address =
        static_cast<std::uint32_t>(datagram[4]) << 24 | datagram[5] << 16 | datagram[6] << 8 | datagram[7];
    r.home_agent =
        static_cast<std::uint32_t>(datagram[8]) << 24 | datagram[9] << 16 | datagram[10] << 8 | datagram[11];
    return refuse(r, Code::poorly_formed_request, "poorly_formed", std::nullopt);
  }
  auto& d = std::get<Decoded<Request>>(decoded);
  const Request& r = d.message;
  if (r.home_agent != policy_.address)
    return refuse(r, Code::unknown_home_agent, "unknown_home_agent", std::nullopt);
  auto sa = lookup_(r.home_address);
  if (!sa) return refuse(r, Code::mn_failed_authentication, "unknown_home_address", std::nullopt);
  // RFC 5944 3.8.2.1: the Mobile-Home Authentication Extension must be there and be right.
  if (!d.mobile_home) return refuse(r, Code::mn_failed_authentication, "no_authenticator", sa);
  if (d.mobile_home->spi != sa->spi || !verify(datagram, *d.mobile_home, sa->key))
    return refuse(r, Code::mn_failed_authentication, "bad_authenticator", sa);
  if (d.unknown_critical || (r.flags & flag::reserved_r))
    return refuse(r, Code::poorly_formed_request, "poorly_formed", sa);
  // Only IP-in-IP (RFC 2003), the default, is offered (RFC 3024 code 139 for the others).
  if (r.flags & (flag::minimal_encapsulation | flag::gre))
    return refuse(r, Code::encapsulation_unavailable, "encapsulation_unavailable", sa);
  if (auto v = check_identification(r, *sa, now); v.action == Verdict::Action::reply) return v;
  return accept(r, *sa, now);
}

Verdict HomeAgentCore::superseded(const Verdict& accepted, const std::optional<MobilityBinding>& stored,
                                  std::int64_t now) {
  if (stored) {
    auto it = bindings_.find(stored->home_address);
    if (it == bindings_.end() || it->second.identification < stored->identification) put(*stored);
  }
  Verdict v = accepted;
  v.write.reset();
  v.reason = "superseded";
  v.reply.code = Code::identification_mismatch;
  v.reply.lifetime = 0;
  v.reply.identification =
      timestamp_identification(now, static_cast<std::uint32_t>(accepted.reply.identification));
  return v;
}

std::optional<MobilityBinding> HomeAgentCore::current(const std::string& home) const {
  auto it = bindings_.find(home);
  if (it == bindings_.end()) return std::nullopt;
  return it->second;
}

void HomeAgentCore::undo(const MobilityBinding& written, const std::optional<MobilityBinding>& before) {
  auto it = bindings_.find(written.home_address);
  if (it == bindings_.end() || it->second.identification != written.identification) return;  // newer since
  if (before) return put(*before);
  live_ -= !it->second.care_of.empty();
  bindings_.erase(it);
}

void HomeAgentCore::put(const MobilityBinding& b) {
  auto& slot = bindings_[b.home_address];
  live_ -= !slot.care_of.empty();
  slot = b;
  live_ += !slot.care_of.empty();
}

void HomeAgentCore::load(const std::vector<MobilityBinding>& bindings) {
  for (const auto& b : bindings) put(b);
}

std::size_t HomeAgentCore::sweep(std::int64_t now) {
  std::size_t n = 0;
  for (auto& [home, b] : bindings_)
    if (!b.care_of.empty() && b.expires <= now) b.care_of.clear(), --live_, ++n;
  return n;
}

std::optional<std::string> HomeAgentCore::care_of(const std::string& home, std::int64_t now) const {
  auto it = bindings_.find(home);
  if (it == bindings_.end() || it->second.care_of.empty() || it->second.expires <= now) return std::nullopt;
  return it->second.care_of;
}

}  // namespace mobix::mip
