#include "lab_file.hpp"

#include <fstream>
#include <stdexcept>

namespace mobix::cli {

nlohmann::json read_lab(const std::string& dir) {
  std::ifstream in(dir + "/lab.json");
  if (!in) throw std::runtime_error("no lab.json in " + dir + " (is `mobix lab --dir " + dir + "` running?)");
  return nlohmann::json::parse(in);
}

Endpoint lab_endpoint(const nlohmann::json& lab, const std::string& name) {
  if (!lab.contains("endpoints") || !lab["endpoints"].contains(name))
    throw std::runtime_error("lab.json has no endpoint " + name);
  const auto& e = lab["endpoints"][name];
  return Endpoint{e["host"].get<std::string>(), e["port"].get<std::uint16_t>()};
}

}  // namespace mobix::cli
