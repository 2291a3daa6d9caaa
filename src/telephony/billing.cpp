#include "telephony/billing.hpp"

#include <ctime>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/text.hpp"
#include "store/store.hpp"
#include "telephony/negotiate_server.hpp"

namespace mobix {

namespace {

using json = nlohmann::json;

json record_json(const CallRecord& r) {
  return json{{"principal", r.principal}, {"call_id", r.call_id}, {"callee", r.callee},
              {"started", r.started},     {"seconds", r.seconds}, {"recorded", r.recorded}};
}

/// The charge in a request body; throws std::invalid_argument naming the field. Without `started`
/// the call started now (`started_given` false).
CallRecord charge_from(const std::string& body, bool& started_given) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) throw std::invalid_argument("body: a JSON object is required");
  CallRecord r;
  if (!j.contains("call_id") || !j["call_id"].is_string() ||
      !is_identity_token(r.call_id = j["call_id"].get<std::string>()))
    throw std::invalid_argument("call_id: 4 to 64 of A-Z a-z 0-9 . _ : -");
  if (!j.contains("callee") || !j["callee"].is_string() || j["callee"].get<std::string>().empty() ||
      !is_identity_token(r.callee = j["callee"].get<std::string>()))
    throw std::invalid_argument("callee: 4 to 64 of A-Z a-z 0-9 . _ : -");
  if (!j.contains("seconds") || !j["seconds"].is_number_unsigned() ||
      j["seconds"].get<std::uint64_t>() > 86400)
    throw std::invalid_argument("seconds: 0 to 86400");
  r.seconds = j["seconds"].get<std::int64_t>();
  started_given = j.contains("started") && j["started"].is_number_unsigned();
  r.started =
      started_given ? j["started"].get<std::int64_t>() : static_cast<std::int64_t>(std::time(nullptr));
  return r;
}

class BillingRole final : public Role {
 public:
  explicit BillingRole(RoleContext& ctx)
      : cfg_(*ctx.cfg.billing),
        realm_(ctx.cfg.kerberos->realm),
        store_(ctx.store),
        server_(
            ctx.io,
            {"billing", cfg_.listen, cfg_.cert_file, cfg_.key_file, cfg_.keytab,
             "mobix_billing_requests_total", "Billing requests by outcome (seed 003)",
             cfg_.per_source_per_minute, cfg_.per_source_burst},
            [](const HttpRequest& r) {
              return r.path == "/v1/charges" && (r.method == "POST" || r.method == "GET");
            },
            [this](const HttpRequest& r, const telephony::NegotiateGate::Caller& who, HttpReply reply) {
              handle(r, who, std::move(reply));
            }) {}

  void start() override {
    server_.start();
    spdlog::info("billing: taking charges on https://{} for realm {}", server_.local_endpoint().str(),
                 realm_);
  }
  void stop() override { server_.stop(); }
  bool drained() const override { return server_.drained(); }
  void listeners(Listeners& out) const override {
    out["billing.https"] = {server_.local_endpoint(), "https+negotiate"};
  }

 private:
  /// POST /v1/charges (a charge) or GET /v1/charges (the caller's own), by an authenticated principal.
  void handle(const HttpRequest& req, const telephony::NegotiateGate::Caller& who, HttpReply reply) {
    auto& gate = server_.gate();
    if (!who.principal.ends_with("@" + realm_))
      return reply(gate.refuse(403, "foreign_realm", req.peer, who.principal + " is not of " + realm_));
    if (req.method == "GET") {  // the caller's own charges
      json arr = json::array();
      for (const auto& r : store_.list_call_records(who.principal)) arr.push_back(record_json(r));
      gate.count("listed");
      return reply(telephony::NegotiateGate::answer(200, arr.dump() + "\n", who));
    }
    CallRecord charge;
    bool started_given = false;
    try {
      charge = charge_from(req.body, started_given);
    } catch (const std::invalid_argument& e) {
      return reply(gate.refuse(400, "bad_charge", req.peer, e.what()));
    }
    charge.principal = who.principal;  // bound to whom Kerberos authenticated, never to the body
    charge.recorded = static_cast<std::int64_t>(std::time(nullptr));
    std::pair<CallRecord, bool> stored;
    try {
      stored = store_.add_call_record(charge);  // durable before the answer
    } catch (const StoreError& e) {
      return reply(gate.refuse(503, "store_failed", req.peer, e.what()));
    }
    const auto& [record, wrote] = stored;
    // A retry is the same charge; one that does not say when the call started cannot differ in it
    // (its default, "now", moves between the post and its retry).
    if (!wrote && (record.callee != charge.callee || record.seconds != charge.seconds ||
                   (started_given && record.started != charge.started)))
      return reply(gate.refuse(409, "conflict", req.peer,
                               who.principal + " already charged " + charge.call_id + " differently"));
    gate.count(wrote ? "charged" : "duplicate");
    spdlog::info("billing: {} {} for {} ({} s to {})", wrote ? "charged" : "already charged", charge.call_id,
                 who.principal, record.seconds, record.callee);
    reply(telephony::NegotiateGate::answer(wrote ? 201 : 200, record_json(record).dump() + "\n", who));
  }

  const BillingConfig& cfg_;
  std::string realm_;
  Store& store_;
  telephony::NegotiateServer server_;
};

}  // namespace

std::unique_ptr<Role> make_billing_role(RoleContext& ctx) {
  return std::make_unique<BillingRole>(ctx);
}

}  // namespace mobix
