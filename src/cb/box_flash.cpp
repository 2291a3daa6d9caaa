#include "cb/box_flash.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "pki/pki.hpp"

namespace mobix::cb {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + dir + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot sync " + dir + ": " + std::strerror(errno));
}

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& data, unsigned mode) {
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot sync " + tmp + ": " + std::strerror(errno));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename " + tmp + ": " + std::strerror(errno));
  fsync_dir(fs::path(path).parent_path().string());
}

FactoryParams BoxFlash::factory() const {
  auto text = slurp(dir_ + "/params190.json");
  if (!text)
    throw std::runtime_error("no factory parameters in " + dir_ +
                             " (mint the box with `mobix factory mint`)");
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_object()) throw std::runtime_error(dir_ + "/params190.json is not JSON");
  try {
    FactoryParams p;
    p.serial = j.at("serial").get<std::string>();
    p.config_username = j.at("config_nap").at("username").get<std::string>();
    p.config_password = j.at("config_nap").at("password").get<std::string>();
    p.css_name = j.value("css_name", "");
    p.box_port = j.value("box_port", std::uint16_t{8443});
    p.config_wait = j.at("timeouts").value("config_wait", 30u);
    p.retry = j.at("timeouts").value("retry", 10u);
    return p;
  } catch (const json::exception& e) {
    throw std::runtime_error(dir_ + "/params190.json: " + e.what());
  }
}

bool BoxFlash::unconfigured() const {
  return fs::exists(dir_ + "/unconfigured") || !operational();
}

std::optional<OperationalParams> BoxFlash::operational() const {
  auto text = slurp(dir_ + "/params191.json");
  if (!text) return std::nullopt;
  std::string why;
  return parse_operational(*text, why);
}

void BoxFlash::store_operational(const std::string& json_text) {
  write_file_atomic(dir_ + "/params191.json", json_text, 0600);  // holds the access password
}

void BoxFlash::clear_unconfigured_flag() {
  if (::unlink((dir_ + "/unconfigured").c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error("cannot clear the unconfigured flag: " + std::string(std::strerror(errno)));
  fsync_dir(dir_);
}

void BoxFlash::store_address_book(const std::vector<AddressBookEntry>& book, std::int64_t ab_seq) {
  json arr = json::array();
  for (const auto& e : book) arr.push_back({{"cb_name", e.cb_name}, {"friendly_name", e.friendly_name}});
  write_file_atomic(dir_ + "/address_book.json", json{{"ab_seq", ab_seq}, {"entries", arr}}.dump(2));
}

std::vector<AddressBookEntry> BoxFlash::address_book() const {
  std::vector<AddressBookEntry> out;
  auto text = slurp(dir_ + "/address_book.json");
  if (!text) return out;
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("entries")) return out;
  for (const auto& e : j["entries"]) out.push_back({e.value("cb_name", ""), e.value("friendly_name", "")});
  return out;
}

std::string BoxFlash::line() const {
  auto text = slurp(dir_ + "/line").value_or("");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void BoxFlash::write_factory(const std::string& dir, const FactoryParams& p, const std::string& key_pem,
                             const std::string& serial_cert_pem, const std::string& ca_pem) {
  fs::create_directories(dir);
  write_file_atomic(dir + "/key.pem", key_pem, 0600);
  write_file_atomic(dir + "/serial.crt", serial_cert_pem);
  write_file_atomic(dir + "/ca.crt", ca_pem);
  json params{{"serial", p.serial},
              {"config_nap", {{"username", p.config_username}, {"password", p.config_password}}},
              {"css_name", p.css_name},
              {"box_port", p.box_port},
              {"timeouts", {{"config_wait", p.config_wait}, {"retry", p.retry}}}};
  write_file_atomic(dir + "/params190.json", params.dump(2), 0600);
  write_file_atomic(dir + "/unconfigured", "set at the factory; cleared when configuration completes\n");
  fs::remove(dir + "/params191.json");
  fs::remove(dir + "/address_book.json");
}

}  // namespace mobix::cb
