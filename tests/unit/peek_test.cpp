#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "codec/peek/peek.hpp"

using namespace mobix::peek;

namespace {
// A real ClientHello, produced by OpenSSL as a client would send it.
std::vector<std::uint8_t> client_hello(const char* sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  if (sni) SSL_set_tlsext_host_name(ssl, sni);
  SSL_connect(ssl);  // wants to read the ServerHello; the ClientHello is in wbio
  char* data = nullptr;
  long n = BIO_get_mem_data(wbio, &data);
  std::vector<std::uint8_t> out(data, data + n);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST(Peek, SniFromARealClientHello) {
  auto hello = client_hello("Phone1.Mobile.Example");
  auto r = tls_sni(hello);
  ASSERT_TRUE(std::holds_alternative<std::string>(r)) << to_string(std::get<Outcome>(r));
  EXPECT_EQ(std::get<std::string>(r), "phone1.mobile.example");
  // Every strict prefix asks for more; nothing crashes.
  for (std::size_t n = 0; n < 60; ++n)
    EXPECT_EQ(std::get<Outcome>(tls_sni(std::span(hello).first(n))), Outcome::need_more) << n;
  EXPECT_EQ(std::get<Outcome>(tls_sni(client_hello(nullptr))), Outcome::no_name);
}

TEST(Peek, ClientHelloSplitAcrossRecords) {
  auto hello = client_hello("split.example");
  // Re-frame the handshake message into two TLS records (RFC 8446 5.1 allows it).
  std::vector<std::uint8_t> hs(hello.begin() + 5, hello.end());
  std::size_t half = hs.size() / 2;
  std::vector<std::uint8_t> two;
  for (auto [from, len] : {std::pair{std::size_t{0}, half}, std::pair{half, hs.size() - half}}) {
    two.insert(two.end(),
               {0x16, 0x03, 0x01, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
    two.insert(two.end(), hs.begin() + static_cast<long>(from), hs.begin() + static_cast<long>(from + len));
  }
  EXPECT_EQ(std::get<std::string>(tls_sni(two)), "split.example");
}

TEST(Peek, NotTlsAndMalformed) {
  EXPECT_EQ(std::get<Outcome>(tls_sni(as_bytes("GET / HTTP/1.1\r\n"))), Outcome::not_this);
  auto hello = client_hello("x.example");
  hello[5] = 0x02;  // a ServerHello where a ClientHello belongs
  EXPECT_EQ(std::get<Outcome>(tls_sni(hello)), Outcome::malformed);
}

TEST(Peek, HttpHost) {
  EXPECT_EQ(
      std::get<std::string>(http_host(as_bytes("GET /x HTTP/1.1\r\nHost: Cam.Mobile.Example:8080\r\n\r\n"))),
      "cam.mobile.example");
  EXPECT_EQ(std::get<std::string>(
                http_host(as_bytes("POST / HTTP/1.1\r\nUser-Agent: a\r\nhost:h.example\r\n\r\nbody"))),
            "h.example");
  EXPECT_EQ(std::get<Outcome>(http_host(as_bytes("GET / HTTP/1.1\r\nHost: a.example\r\n"))),
            Outcome::need_more);
  EXPECT_EQ(std::get<Outcome>(http_host(as_bytes("GE"))), Outcome::need_more);
  EXPECT_EQ(std::get<Outcome>(http_host(as_bytes("\x16\x03\x01"))), Outcome::not_this);
  EXPECT_EQ(std::get<Outcome>(http_host(as_bytes("GET / HTTP/1.0\r\n\r\n"))), Outcome::no_name);
  EXPECT_EQ(std::get<Outcome>(http_host(as_bytes("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))),
            Outcome::malformed)
      << "two Host headers (request smuggling)";
  EXPECT_EQ(std::get<Outcome>(http_host(as_bytes("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"))),
            Outcome::malformed);
  EXPECT_EQ(std::get<Outcome>(http_host(as_bytes("GET / HTTP/1.1\r\nHost: a:99999x\r\n\r\n"))),
            Outcome::malformed);
}

TEST(Peek, HttpHeader) {
  auto head = as_bytes("GET / HTTP/1.1\r\nHost: a\r\nauthorization:  Bearer abc \r\n\r\n");
  EXPECT_EQ(http_header(head, "Authorization"), "Bearer abc");
  EXPECT_FALSE(http_header(head, "Cookie"));
  EXPECT_FALSE(http_header(as_bytes("GET / HTTP/1.1\r\nAuthorization: x\r\n"), "Authorization"))
      << "incomplete";
}
