#include <gtest/gtest.h>

#include <sys/stat.h>

#include "pki/pki.hpp"
#include "test_util.hpp"

using namespace mobix;

TEST(Pki, IssueVerifyRevoke) {
  test::TempDir d;
  auto ca = pki::CertificateAuthority::create(d.file("ca"), "Test CA");
  EXPECT_THROW(pki::CertificateAuthority::create(d.file("ca"), "again"), std::runtime_error);
  struct stat st {};
  ASSERT_EQ(stat(d.file("ca/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "private keys are not world-readable";

  pki::CertRequest req;
  req.common_name = "relay.example";
  req.dns_names = {"relay.example"};
  req.ip_addresses = {"127.0.0.1"};
  auto server = ca.issue(req, d.file("out/server"));
  req.common_name = "box-0001";
  req.server = false;
  req.client = true;
  auto client = ca.issue(req, d.file("out/client"));

  auto ca_pem = pki::read_file(ca.cert_path());
  auto crl = pki::read_file(ca.crl_path());
  auto server_pem = pki::read_file(server.cert_path);
  auto client_pem = pki::read_file(client.cert_path);
  EXPECT_TRUE(pki::verify(server_pem, ca_pem, crl, "server").ok);
  EXPECT_TRUE(pki::verify(client_pem, ca_pem, crl, "client").ok);
  EXPECT_FALSE(pki::verify(client_pem, ca_pem, crl, "server").ok)
      << "a client-only certificate is not a server";
  EXPECT_NE(pki::describe(server_pem).find("relay.example"), std::string::npos);

  auto other = pki::CertificateAuthority::create(d.file("other"), "Other CA");
  EXPECT_FALSE(pki::verify(server_pem, pki::read_file(other.cert_path()), "", "").ok);

  ca.revoke(server.serial);
  auto r = pki::verify(server_pem, ca_pem, pki::read_file(ca.crl_path()), "server");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("revoked"), std::string::npos) << r.error;
  EXPECT_TRUE(pki::verify(client_pem, ca_pem, pki::read_file(ca.crl_path()), "client").ok);
  EXPECT_THROW(ca.revoke("DEADBEEF"), std::invalid_argument);
}
