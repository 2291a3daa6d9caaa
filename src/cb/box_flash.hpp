#pragma once
// The connectivity box's persistent memory (seed 004 Figure 2, memory 34: its "flash"), as files in
// one directory. The factory writes the pre-installed parameters 190 and the unconfigured flag;
// configuration writes the downloaded parameters 191 atomically (a power cut mid-write leaves the
// old file or the new one, never a mix) and clears the flag as its very last act (Phase II [1]).
//
//   params190.json   serial, configuration log-in, the CSS's name, box port, timeouts
//   key.pem          the box's private key (0600); it never leaves the box
//   serial.crt       the serial-number certificate (OU serial), from the root CA
//   ca.crt           the root CA's certificate
//   unconfigured     present from the factory until configuration completes
//   params191.json   CB Name, friendly name, CB certificate, access log-in, CSS address, timeouts,
//                    wake-up parameters
//   address_book.json  the address book after the first call back (Phase III)
//   line             the phone line the box is plugged into (its surroundings, not a parameter)
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codec/cb/cb_params.hpp"
#include "core/net.hpp"
#include "store/records.hpp"

namespace mobix::cb {

/// Parameters 190 (seed 004): everything the factory installs.
struct FactoryParams {
  std::string serial;
  std::string config_username;  ///< "serial@config_domain"
  std::string config_password;  ///< never logged
  std::string css_name;         ///< the configuration manager's certificate CN the box accepts
  std::uint16_t box_port = 8443;
  std::uint32_t config_wait = 30;  ///< seconds to wait for the download once logged in
  std::uint32_t retry = 10;        ///< seconds between configuration attempts
};

/// Parameters 191 (seed 004): what configuration downloads (codec/cb/cb_params.hpp).
using OperationalParams = cbproto::OperationalParams;
using cbproto::parse_operational;

class BoxFlash {
 public:
  explicit BoxFlash(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

  /// Throws std::runtime_error when the factory parameters are missing or broken.
  FactoryParams factory() const;
  /// Seed 004 Phase II [1]: true while the flag is set or no valid parameters 191 are stored.
  bool unconfigured() const;
  std::optional<OperationalParams> operational() const;
  /// Writes parameters 191 atomically and durably (temporary file, fsync, rename, fsync of the
  /// directory); throws std::runtime_error.
  void store_operational(const std::string& json_text);
  /// The last act of configuration: removes the flag, durably.
  void clear_unconfigured_flag();
  void store_address_book(const std::vector<AddressBookEntry>& book, std::int64_t ab_seq);
  std::vector<AddressBookEntry> address_book() const;
  std::string line() const;

  std::string key_path() const { return dir_ + "/key.pem"; }
  std::string serial_cert_path() const { return dir_ + "/serial.crt"; }
  std::string ca_path() const { return dir_ + "/ca.crt"; }

  /// The factory's side (`mobix factory mint`): writes a new box's flash.
  static void write_factory(const std::string& dir, const FactoryParams& p, const std::string& key_pem,
                            const std::string& serial_cert_pem, const std::string& ca_pem);

 private:
  std::string dir_;
};

/// Replaces `path` with `data` atomically and durably; `mode` for a new file.
void write_file_atomic(const std::string& path, const std::string& data, unsigned mode = 0644);

}  // namespace mobix::cb
