#include "net/tls_session_cache.hpp"

#include <openssl/ssl.h>

namespace mobix::net {

namespace {
// The SSL's ex-data: the server it dialled; the context's: its cache.
void free_server(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::string*>(ptr);
}
int server_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_server);
  return index;
}
int cache_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
}  // namespace

TlsSessionCache::TlsSessionCache(ssl_ctx_st* ctx, std::size_t per_server)
    : ctx_(ctx), per_server_(per_server) {
  SSL_CTX_set_ex_data(ctx_, cache_index(), this);
  // Sessions are handed to us as they arrive; OpenSSL keeps no client cache of its own.
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx_, &TlsSessionCache::on_new_session);
}

TlsSessionCache::~TlsSessionCache() {
  SSL_CTX_sess_set_new_cb(ctx_, nullptr);
  SSL_CTX_set_ex_data(ctx_, cache_index(), nullptr);
}

void TlsSessionCache::prepare(ssl_st* ssl, const std::string& server) {
  SSL_set_ex_data(ssl, server_index(), new std::string(server));
  std::lock_guard lock(mu_);
  auto it = kept_.find(server);
  if (it == kept_.end()) return;
  while (!it->second.empty()) {
    Session s = std::move(it->second.front());
    it->second.pop_front();  // offered once, whatever the handshake makes of it
    if (SSL_SESSION_is_resumable(s.get()) == 1) {
      SSL_set_session(ssl, s.get());  // takes its own reference
      break;
    }
  }
  if (it->second.empty()) kept_.erase(it);
}

std::size_t TlsSessionCache::kept(const std::string& server) const {
  std::lock_guard lock(mu_);
  auto it = kept_.find(server);
  return it == kept_.end() ? 0 : it->second.size();
}

int TlsSessionCache::on_new_session(ssl_st* ssl, ssl_session_st* session) {
  auto* cache = static_cast<TlsSessionCache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cache_index()));
  auto* server = static_cast<std::string*>(SSL_get_ex_data(ssl, server_index()));
  if (!cache || !server || SSL_SESSION_is_resumable(session) != 1) return 0;  // not kept: OpenSSL frees it
  cache->keep(*server, session);
  return 1;  // ours now
}

void TlsSessionCache::keep(const std::string& server, ssl_session_st* session) {
  std::lock_guard lock(mu_);
  auto& q = kept_[server];
  q.emplace_front(session, SSL_SESSION_free);
  while (q.size() > per_server_) q.pop_back();
}

}  // namespace mobix::net
