#include "store/box_doc.hpp"

#include <nlohmann/json.hpp>

namespace mobix {

namespace {
constexpr const char* kStateNames[] = {"registered", "configuring", "configured", "config_error", "online"};
}

const char* to_string(BoxState s) {
  return kStateNames[static_cast<int>(s)];
}

bool box_state_from_string(std::string_view name, BoxState& out) {
  for (int i = 0; i < 5; ++i)
    if (name == kStateNames[i]) {
      out = static_cast<BoxState>(i);
      return true;
    }
  return false;
}

std::string box_to_doc(const BoxRecord& r) {
  nlohmann::json book = nlohmann::json::array();
  for (const auto& e : r.address_book)
    book.push_back({{"cb_name", e.cb_name}, {"friendly_name", e.friendly_name}});
  return nlohmann::json{{"friendly_name", r.friendly_name},
                        {"line_id", r.line_id},
                        {"address_book", book},
                        {"state_reason", r.state_reason},
                        {"cert_serial", r.cert_serial},
                        {"subscriber_id", r.subscriber_id},
                        {"ab_seq", r.ab_seq},
                        {"cfg_seq", r.cfg_seq},
                        {"last_ip", r.last_ip},
                        {"callback_due", r.callback_due},
                        {"created", r.created},
                        {"updated", r.updated},
                        {"last_seen", r.last_seen}}
      .dump();
}

void box_from_doc(const std::string& doc, BoxRecord& r) {
  auto j = nlohmann::json::parse(doc, nullptr, false);
  if (!j.is_object()) return;
  r.friendly_name = j.value("friendly_name", "");
  r.line_id = j.value("line_id", "");
  r.state_reason = j.value("state_reason", "");
  r.cert_serial = j.value("cert_serial", "");
  r.subscriber_id = j.value("subscriber_id", std::int64_t{0});
  r.ab_seq = j.value("ab_seq", std::int64_t{1});
  r.cfg_seq = j.value("cfg_seq", std::int64_t{1});
  r.last_ip = j.value("last_ip", "");
  r.callback_due = j.value("callback_due", std::int64_t{0});
  r.created = j.value("created", std::int64_t{0});
  r.updated = j.value("updated", std::int64_t{0});
  r.last_seen = j.value("last_seen", std::int64_t{0});
  r.address_book.clear();
  if (auto it = j.find("address_book"); it != j.end() && it->is_array())
    for (const auto& e : *it)
      if (e.is_object()) r.address_book.push_back({e.value("cb_name", ""), e.value("friendly_name", "")});
}

std::string billing_to_doc(const BoxBilling& b) {
  return nlohmann::json{{"name", b.name}, {"street_address", b.street_address}, {"billing", b.billing}}
      .dump();
}

BoxBilling billing_from_doc(const std::string& cb_id, const std::string& doc) {
  BoxBilling b;
  b.cb_id = cb_id;
  auto j = nlohmann::json::parse(doc, nullptr, false);
  if (!j.is_object()) return b;
  b.name = j.value("name", "");
  b.street_address = j.value("street_address", "");
  b.billing = j.value("billing", "");
  return b;
}

}  // namespace mobix
