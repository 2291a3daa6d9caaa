#include "media/srtp_stream.hpp"

#include <cstring>
#include <mutex>
#include <stdexcept>

#include <srtp2/srtp.h>

namespace mobix::media {

namespace {

srtp_err_status_t create_session(srtp_t* session, SrtpStream::Direction d, const unsigned char* key) {
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  policy.ssrc.type = d == SrtpStream::Direction::outbound ? ssrc_any_outbound : ssrc_any_inbound;
  policy.key = const_cast<unsigned char*>(key);
  policy.window_size = 1024;
  policy.next = nullptr;
  return srtp_create(session, &policy);
}

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (srtp_init() != srtp_err_status_ok) throw std::runtime_error("srtp_init failed");
    // Debian's libsrtp2 does its crypto with NSS and opens an NSS context per cipher, shutting NSS
    // down when the last one closes: a process with no call in progress paid a full NSS start-up
    // (about 4 ms of CPU) for every stream it created. One session kept for the life of the process
    // keeps NSS up, and a stream costs 0.07 ms (measured create + 20 packets + dealloc). Its key is
    // never used for a packet.
    static srtp_t keeper = nullptr;
    const unsigned char unused[SrtpStream::kKeyLength] = {};
    if (create_session(&keeper, SrtpStream::Direction::outbound, unused) != srtp_err_status_ok)
      throw std::runtime_error("srtp_create failed");
  });
}

SrtpResult result_of(srtp_err_status_t s) {
  switch (s) {
    case srtp_err_status_ok:
      return SrtpResult::ok;
    case srtp_err_status_auth_fail:
      return SrtpResult::auth_failed;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
      return SrtpResult::replayed;
    default:
      return SrtpResult::malformed;
  }
}

}  // namespace

const char* to_string(SrtpResult r) {
  switch (r) {
    case SrtpResult::ok:
      return "ok";
    case SrtpResult::auth_failed:
      return "auth_failed";
    case SrtpResult::replayed:
      return "replayed";
    case SrtpResult::malformed:
      return "malformed";
  }
  return "malformed";
}

struct SrtpStream::Impl {
  srtp_t session = nullptr;
  ~Impl() {
    if (session) srtp_dealloc(session);
  }
};

SrtpStream::SrtpStream(Direction d, std::string_view key_and_salt) : impl_(new Impl) {
  if (key_and_salt.size() != kKeyLength) throw std::invalid_argument("an SRTP key is 30 bytes");
  init_library();
  unsigned char key[kKeyLength];
  std::memcpy(key, key_and_salt.data(), kKeyLength);
  auto s = create_session(&impl_->session, d, key);
  std::memset(key, 0, sizeof key);
  if (s != srtp_err_status_ok) throw std::runtime_error("srtp_create failed: " + std::to_string(s));
}

SrtpStream::~SrtpStream() = default;

SrtpResult SrtpStream::protect(std::string& packet) {
  if (packet.size() < 12 || packet.size() > 1500) return SrtpResult::malformed;
  auto len = static_cast<int>(packet.size());
  packet.resize(packet.size() + kMaxTrailer);
  auto s = srtp_protect(impl_->session, packet.data(), &len);
  packet.resize(s == srtp_err_status_ok ? static_cast<std::size_t>(len) : packet.size() - kMaxTrailer);
  return result_of(s);
}

SrtpResult SrtpStream::unprotect(std::string& packet) {
  if (packet.size() < 12 + 10) return SrtpResult::malformed;
  auto len = static_cast<int>(packet.size());
  auto s = srtp_unprotect(impl_->session, packet.data(), &len);
  if (s == srtp_err_status_ok) packet.resize(static_cast<std::size_t>(len));
  return result_of(s);
}

}  // namespace mobix::media
