#include "codec/cb/cb_params.hpp"

#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

namespace mobix::cbproto {

namespace {

/// An integer parameter: nlohmann casts a float to an integer type (undefined when out of range, which
/// the fuzzer found), so only JSON integers, and only in T's range. Throws std::out_of_range.
template <typename T>
T integer(const nlohmann::json& v) {
  if (v.is_number_unsigned() && std::in_range<T>(v.get<std::uint64_t>()))
    return static_cast<T>(v.get<std::uint64_t>());
  if (v.is_number_integer() && !v.is_number_unsigned() && std::in_range<T>(v.get<std::int64_t>()))
    return static_cast<T>(v.get<std::int64_t>());
  throw std::out_of_range("an integer in range is required");
}

}  // namespace

using json = nlohmann::json;

std::optional<OperationalParams> parse_operational(std::string_view json_text, std::string& why) {
  auto j = json::parse(json_text, nullptr, false);
  if (!j.is_object()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  try {
    OperationalParams p;
    p.cb_id = j.at("cb_id").get<std::string>();
    p.cb_name = j.at("cb_name").get<std::string>();
    p.friendly_name = j.value("friendly_name", "");
    p.cb_certificate = j.at("cb_certificate").get<std::string>();
    p.nap_username = j.at("nap").at("username").get<std::string>();
    p.nap_password = j.at("nap").at("password").get<std::string>();
    p.css_host = j.at("css").at("host").get<std::string>();
    p.css_port = integer<std::uint16_t>(j.at("css").at("port"));
    const auto& timeouts = j.at("timeouts");
    p.connected_timeout = timeouts.contains("connected") ? integer<unsigned>(timeouts["connected"]) : 5u;
    p.wakeup_line = j.at("wakeup").value("line_id", "");
    p.wakeup_source = j.at("wakeup").value("source", "");
    p.cfg_seq = j.contains("cfg_seq") ? integer<std::int64_t>(j["cfg_seq"]) : 0;
    if (p.cb_id.empty() || p.cb_name.empty() || p.nap_username.empty() || p.css_host.empty() ||
        p.css_port == 0) {
      why = "a required parameter is empty";
      return std::nullopt;
    }
    return p;
  } catch (const json::exception& e) {
    why = std::string("missing or mistyped parameter: ") + e.what();
    return std::nullopt;
  } catch (const std::out_of_range& e) {
    why = std::string("parameter out of range: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace mobix::cbproto
