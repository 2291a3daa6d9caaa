// ldns stays in this translation unit (ENVIRONMENT.md: <stdbool.h> first).
#include <stdbool.h>
// clang-format off
#include <ldns/ldns.h>
// clang-format on

#include "dns/update_client.hpp"

#include "codec/dns/responder.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

namespace mobix::dns {

namespace {

// RFC 2136 2.5: class IN adds an RR; class ANY with no RDATA deletes the RRset; class NONE
// with RDATA deletes exactly that RR. TTL 0 for the deletions.
ldns_rr* make_rr(const std::string& name, std::uint16_t type, std::uint32_t ttl, const std::string& rdata,
                 ldns_rr_class cls) {
  ldns_rr* rr = nullptr;
  if (!rdata.empty()) {
    auto text = name + ". " + std::to_string(ttl) + " IN " + type_name(type) + " " + rdata;
    if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) return nullptr;
  } else {
    rr = ldns_rr_new();
    ldns_rr_set_owner(rr, ldns_dname_new_frm_str((name + ".").c_str()));
    ldns_rr_set_type(rr, static_cast<ldns_rr_type>(type));
  }
  ldns_rr_set_class(rr, cls);
  if (cls != LDNS_RR_CLASS_IN) ldns_rr_set_ttl(rr, 0);
  return rr;
}

}  // namespace

UpdateClient::UpdateClient(std::string zone, UpdateServerConfig cfg, Applied applied)
    : zone_(std::move(zone)),
      cfg_(std::move(cfg)),
      applied_(std::move(applied)),
      sent_(metrics().counter("mobix_dns_updates_total", "RFC 2136 UPDATE messages accepted, by zone",
                              fmt::format("zone=\"{}\"", zone_))),
      failed_(metrics().counter("mobix_dns_update_failures_total",
                                "RFC 2136 UPDATE messages refused or unanswered (retried), by zone",
                                fmt::format("zone=\"{}\"", zone_))) {
  worker_ = std::thread([this] { run(); });
}

UpdateClient::~UpdateClient() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void UpdateClient::submit(RecordChange c) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(c));
  }
  cv_.notify_one();
}

std::size_t UpdateClient::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool UpdateClient::flush(int ms) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, std::chrono::milliseconds(ms),
                           [this] { return queue_.empty() && !in_flight_; });
}

UpdateClient::Result UpdateClient::send(const std::string& zone, const UpdateServerConfig& cfg,
                                        const std::deque<RecordChange>& changes, std::size_t count) {
  Result res;
  ldns_rr_list* updates = ldns_rr_list_new();
  for (std::size_t i = 0; i < count; ++i) {
    const auto& c = changes[i];
    if (c.op == RecordChange::Op::put) {
      ldns_rr_list_push_rr(updates, make_rr(c.name, c.type, 0, "", LDNS_RR_CLASS_ANY));
      if (auto* rr = make_rr(c.name, c.type, c.ttl, c.rdata, LDNS_RR_CLASS_IN))
        ldns_rr_list_push_rr(updates, rr);
    } else if (auto* rr = make_rr(c.name, c.type, 0, c.rdata, LDNS_RR_CLASS_NONE)) {
      ldns_rr_list_push_rr(updates, rr);
    }
  }
  ldns_pkt* pkt = ldns_update_pkt_new(ldns_dname_new_frm_str((zone + ".").c_str()), LDNS_RR_CLASS_IN, nullptr,
                                      updates, nullptr);
  ldns_rr_list_deep_free(updates);
  ldns_resolver* r = ldns_resolver_new();
  ldns_rdf* ns = ldns_rdf_new_frm_str(
      cfg.server.host.find(':') == std::string::npos ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA,
      cfg.server.host.c_str());
  if (!pkt || !r || !ns) {
    res.error = "cannot build the UPDATE message";
  } else {
    ldns_resolver_push_nameserver(r, ns);
    ldns_resolver_set_port(r, cfg.server.port);
    ldns_resolver_set_usevc(r, true);  // TCP: batches exceed 512 octets; no retransmission games
    ldns_resolver_set_retry(r, 1);
    timeval tv{static_cast<time_t>(cfg.timeout_ms / 1000),
               static_cast<suseconds_t>((cfg.timeout_ms % 1000) * 1000)};
    ldns_resolver_set_timeout(r, tv);
    ldns_resolver_set_tsig_keyname(r, (cfg.key_name + ".").c_str());
    ldns_resolver_set_tsig_keydata(r, cfg.key_secret.c_str());
    ldns_resolver_set_tsig_algorithm(r, (cfg.algorithm + ".").c_str());
    ldns_pkt_set_random_id(pkt);
    ldns_pkt* answer = nullptr;
    // Signed with the key (RFC 8945 5.1); ldns_send verifies the answer's TSIG against it (5.3).
    auto st = ldns_update_pkt_tsig_add(pkt, r);
    if (st == LDNS_STATUS_OK) st = ldns_resolver_send_pkt(&answer, r, pkt);
    if (st == LDNS_STATUS_ERR || st == LDNS_STATUS_NETWORK_ERR) {
      // ldns reports a TCP connection that failed or timed out only as a "General LDNS error".
      res.error = "no answer over TCP (server down, connection refused or timed out)";
    } else if (st != LDNS_STATUS_OK) {
      res.error = ldns_get_errorstr_by_id(st);
    } else if (!answer) {
      res.error = "no answer";
    } else {
      res.rcode = ldns_pkt_get_rcode(answer);
      if (res.rcode) {
        auto* s = ldns_pkt_rcode2str(ldns_pkt_get_rcode(answer));
        res.error = s ? s : "RCODE " + std::to_string(res.rcode);
        std::free(s);
      }
    }
    ldns_pkt_free(answer);
  }
  if (ns && !r) ldns_rdf_deep_free(ns);
  ldns_resolver_deep_free(r);
  ldns_pkt_free(pkt);
  return res;
}

void UpdateClient::run() {
  auto backoff = std::chrono::milliseconds(100);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    in_flight_ = true;
    // Per-name order holds because the queue is sent in order and a batch is retried whole.
    std::deque<RecordChange> batch(queue_.begin(),
                                   queue_.begin() + std::min<std::size_t>(queue_.size(), cfg_.batch));
    lock.unlock();
    auto res = send(zone_, cfg_, batch, batch.size());
    lock.lock();
    if (res.rcode == 0) {
      sent_.inc();
      if (applied_) {
        lock.unlock();
        applied_(batch);
        lock.lock();
      }
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
      backoff = std::chrono::milliseconds(100);
    } else {
      failed_.inc();
      spdlog::warn("dns update: zone {} at {}: {} ({} changes waiting; retry in {} ms)", zone_,
                   cfg_.server.str(), res.error, queue_.size(), backoff.count());
      cv_.wait_for(lock, backoff, [this] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
    }
    in_flight_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace mobix::dns
