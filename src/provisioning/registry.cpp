#include "provisioning/registry.hpp"

#include <cctype>

#include <fmt/format.h>
#include <openssl/rand.h>

namespace mobix {

RegistrationError::RegistrationError(std::map<std::string, std::string> fields)
    : std::invalid_argument([&] {
        std::string msg = "registration refused:";
        for (const auto& [k, v] : fields) msg += " " + k + ": " + v + ";";
        msg.pop_back();
        return msg;
      }()),
      fields_(std::move(fields)) {}

namespace {

bool printable(std::string_view s, std::size_t max) {
  if (s.size() > max) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) throw StoreError("no randomness for a CB ID");
  std::string out;
  for (auto c : b) out += fmt::format("{:02x}", c);
  return out;
}

}  // namespace

bool BoxRegistry::valid_cb_name(std::string_view s) {
  if (s.size() < 3 || s.size() > 32 || !std::isalnum(static_cast<unsigned char>(s.front()))) return false;
  for (unsigned char c : s)
    if (!(std::islower(c) || std::isdigit(c) || c == '.' || c == '-' || c == '_')) return false;
  return true;
}

bool BoxRegistry::valid_line_id(std::string_view s) {
  auto digits = s.substr(!s.empty() && s.front() == '+' ? 1 : 0);
  if (digits.size() < 5 || digits.size() > 15) return false;
  for (unsigned char c : digits)
    if (!std::isdigit(c)) return false;
  return true;
}

std::string BoxRegistry::new_cb_id() {
  return "cb-" + random_hex(8);
}

std::string BoxRegistry::generated_cb_name(const std::string& name) {
  // Seed 004's style: a few letters of the user's name and eight digits ("jo12345678").
  std::string letters;
  for (unsigned char c : name)
    if (std::isalpha(c) && c < 0x80 && letters.size() < 6) letters += static_cast<char>(std::tolower(c));
  if (letters.empty()) letters = "cb";
  for (int attempt = 0; attempt < 8; ++attempt) {
    unsigned char r[4];
    if (RAND_bytes(r, sizeof r) != 1) throw StoreError("no randomness for a CB Name");
    auto n = (std::uint32_t{r[0]} << 24 | std::uint32_t{r[1]} << 16 | std::uint32_t{r[2]} << 8 | r[3]) %
             100000000u;
    auto candidate = fmt::format("{}{:08d}", letters, n);
    if (!repo_.find_box(BoxRepository::Key::cb_name, candidate)) return candidate;
  }
  throw StoreError("could not find a free CB Name");
}

BoxRecord BoxRegistry::register_box(const Registration& r, std::int64_t now) {
  std::map<std::string, std::string> bad;
  auto valid = r.serial.empty() ? std::nullopt : repo_.find_valid_serial(r.serial);
  if (r.serial.empty())
    bad["serial"] = "required: the serial number on the box's label";
  else if (!valid)
    bad["serial"] = "unknown serial number: check the label on the box";
  else if (valid->revoked)
    bad["serial"] = "this box's serial number is revoked";
  else if (repo_.find_box(BoxRepository::Key::serial, r.serial))
    bad["serial"] = "this box is already registered";
  if (!r.cb_name.empty() && !valid_cb_name(r.cb_name))
    bad["cb_name"] = "3 to 32 characters: lower-case letters, digits, '.', '-' or '_'";
  else if (!r.cb_name.empty() && repo_.find_box(BoxRepository::Key::cb_name, r.cb_name))
    bad["cb_name"] = "this CB Name is taken";
  if (!printable(r.friendly_name, 64)) bad["friendly_name"] = "at most 64 printable characters";
  if (!valid_line_id(r.line_id))
    bad["line_id"] = "the box's phone number: 5 to 15 digits, optionally after '+'";
  if (r.name.empty() || !printable(r.name, 128)) bad["name"] = "required, at most 128 characters";
  if (r.street_address.empty() || !printable(r.street_address, 256))
    bad["street_address"] = "required, at most 256 characters";
  if (r.billing.empty() || !printable(r.billing, 128)) bad["billing"] = "required, at most 128 characters";
  if (r.address_book.size() > 200) bad["address_book"] = "at most 200 entries";
  for (std::size_t i = 0; i < r.address_book.size() && !bad.count("address_book"); ++i) {
    const auto& e = r.address_book[i];
    if (!valid_cb_name(e.cb_name) || !printable(e.friendly_name, 64) || e.friendly_name.empty())
      bad["address_book"] = fmt::format("entry {}: needs a valid CB Name and a friendly name", i + 1);
  }
  if (!bad.empty()) throw RegistrationError(std::move(bad));

  BoxRecord rec;
  rec.cb_id = new_cb_id();
  rec.cb_name = r.cb_name.empty() ? generated_cb_name(r.name) : r.cb_name;
  rec.friendly_name = r.friendly_name.empty() ? r.name : r.friendly_name;
  rec.serial = r.serial;
  // As the access network reports it (Calling-Station-Id, normalised without '+'): one form.
  rec.line_id = r.line_id.front() == '+' ? r.line_id.substr(1) : r.line_id;
  rec.address_book = r.address_book;
  rec.state = BoxState::registered;
  rec.state_reason = "registered by the call center; waiting for the box to be plugged in";
  rec.created = rec.updated = now;
  try {
    repo_.add_box(rec, BoxBilling{rec.cb_id, r.name, r.street_address, r.billing});
  } catch (const StoreConflict&) {
    // Another registration came first between the checks and the write.
    throw RegistrationError("serial", "this box or CB Name was registered meanwhile");
  }
  return rec;
}

std::optional<BoxRecord> BoxRegistry::find(std::string_view key) {
  if (auto r = repo_.find_box(BoxRepository::Key::cb_id, key)) return r;
  if (auto r = repo_.find_box(BoxRepository::Key::cb_name, key)) return r;
  return repo_.find_box(BoxRepository::Key::serial, key);
}

std::optional<BoxRecord> BoxRegistry::transition(std::string_view cb_id,
                                                 const std::function<bool(BoxRecord&)>& change,
                                                 std::int64_t now) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto rec = repo_.find_box(BoxRepository::Key::cb_id, cb_id);
    if (!rec) return std::nullopt;
    if (!change(*rec)) return rec;
    rec->updated = now;
    if (repo_.update_box(*rec)) {
      ++rec->version;
      return rec;
    }
  }
  throw StoreError("box record " + std::string(cb_id) + " keeps changing under us");
}

}  // namespace mobix
