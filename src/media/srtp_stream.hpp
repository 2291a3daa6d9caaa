#pragma once
// SRTP (RFC 3711) for one direction of a call, with libsrtp2: AES_CM_128_HMAC_SHA1_80 (RFC 4568's
// default suite) for RTP and RTCP, keyed with 30 bytes (16 of master key, 14 of master salt).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace mobix::media {

enum class SrtpResult {
  ok,
  auth_failed,  ///< the tag does not verify (wrong key, or altered on the way)
  replayed,     ///< already seen, or too old for the replay window (RFC 3711 3.3.2)
  malformed,    ///< not an RTP packet
};
const char* to_string(SrtpResult r);

class SrtpStream {
 public:
  static constexpr std::size_t kKeyLength = 30;
  static constexpr std::size_t kMaxTrailer = 16 + 128;  ///< room protect() may add (SRTP_MAX_TRAILER_LEN)
  enum class Direction { outbound, inbound };
  /// Throws std::invalid_argument for a key of the wrong length, std::runtime_error if libsrtp fails.
  SrtpStream(Direction d, std::string_view key_and_salt);
  ~SrtpStream();
  SrtpStream(const SrtpStream&) = delete;
  SrtpStream& operator=(const SrtpStream&) = delete;

  /// Encrypts and authenticates the RTP packet in `packet` (it grows by the tag).
  SrtpResult protect(std::string& packet);
  /// Verifies and decrypts in place (it shrinks by the tag).
  SrtpResult unprotect(std::string& packet);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix::media
