#pragma once
// Parameters 191 (seed 004 Phase II [6]) as the configuration manager sends them and a box accepts
// them: JSON, checked field by field. Pure: text in, parameters or a reason out; never throws.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mobix::cbproto {

struct OperationalParams {
  std::string cb_id, cb_name, friendly_name;
  std::string cb_certificate;  ///< PEM, for the box's own key
  std::string nap_username, nap_password;
  std::string css_host;
  std::uint16_t css_port = 0;
  std::uint32_t connected_timeout = 5;
  std::string wakeup_line, wakeup_source;
  std::int64_t cfg_seq = 0;
};

/// Parses and checks parameters 191; nullopt with `why` when they are unusable.
std::optional<OperationalParams> parse_operational(std::string_view json_text, std::string& why);

}  // namespace mobix::cbproto
