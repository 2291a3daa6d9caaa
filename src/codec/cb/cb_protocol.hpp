#pragma once
// What the CSS and a connectivity box say to each other (seed 004), shared by both ends: the
// wake-up message, and the HTTPS paths of the configuration protocol (Phase II, the CSS is the
// client) and of the connectivity listener (Phase III, the box is the client). The bodies are JSON
// (parameters 191: cb/box_flash.hpp parse_operational).
#include <string>
#include <string_view>

namespace mobix::cbproto {

inline constexpr std::string_view kConfigurationPath = "/cb/v1/configuration";  ///< POST parameters 191
inline constexpr std::string_view kHelloPath = "/cb/v1/hello";                  ///< GET: address book
inline constexpr std::string_view kByePath = "/cb/v1/bye";                      ///< POST: disconnecting

/// The text of a wake-up SMS for a box (seed 004 Phase III; the pager variant's message).
inline std::string wakeup_text(std::string_view cb_id) {
  return "MOBIX WAKE " + std::string(cb_id);
}
inline bool is_wakeup_for(std::string_view text, std::string_view cb_id) {
  return text == wakeup_text(cb_id);
}

}  // namespace mobix::cbproto
