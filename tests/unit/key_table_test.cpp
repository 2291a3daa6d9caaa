// KeyTable (src/kerberos/key_table.hpp): the mobility manager's device keys, read from keytab files
// written here byte by byte in MIT's documented file format (version 0x0502), not by the library
// that reads them back.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "kerberos/kerberos.hpp"
#include "kerberos/key_table.hpp"
#include "test_util.hpp"

using mobix::krb::KerberosError;
using mobix::krb::KeyTable;

namespace {

struct Entry {
  std::string name, realm;  // one-component principal name@realm
  std::uint32_t kvno;
  std::uint16_t enctype;
  std::string key;
};

void be16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}
void be32(std::string& out, std::uint32_t v) {
  be16(out, static_cast<std::uint16_t>(v >> 16));
  be16(out, static_cast<std::uint16_t>(v & 0xffff));
}

void write_keytab(const std::string& path, const std::vector<Entry>& entries) {
  std::string file = "\x05\x02";
  for (const auto& e : entries) {
    std::string rec;
    be16(rec, 1);  // components
    be16(rec, static_cast<std::uint16_t>(e.realm.size()));
    rec += e.realm;
    be16(rec, static_cast<std::uint16_t>(e.name.size()));
    rec += e.name;
    be32(rec, 1);  // KRB5_NT_PRINCIPAL
    be32(rec, 1700000000);
    rec += static_cast<char>(e.kvno & 0xff);
    be16(rec, e.enctype);
    be16(rec, static_cast<std::uint16_t>(e.key.size()));
    rec += e.key;
    be32(rec, e.kvno);
    be32(file, static_cast<std::uint32_t>(rec.size()));
    file += rec;
  }
  std::ofstream(path, std::ios::binary) << file;
}

const std::string kKeyA(32, 'a'), kKeyB(32, 'b'), kKeyC(16, 'c');

}  // namespace

TEST(KeyTable, IndexesEveryKeyOfEveryPrincipal) {
  mobix::test::TempDir dir;
  write_keytab(dir.file("mm.keytab"), {{"IPUI-1", "T.TEST", 1, 18, kKeyA},
                                       {"IPUI-1", "T.TEST", 2, 18, kKeyB},
                                       {"IPUI-2", "T.TEST", 1, 17, kKeyC}});
  KeyTable t(dir.file("mm.keytab"));
  EXPECT_EQ(t.principals(), 2u);
  auto one = t.keys_of("IPUI-1@T.TEST");
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 2u);
  EXPECT_EQ((*one)[0].kvno, 1u);
  EXPECT_EQ((*one)[1].kvno, 2u);
  EXPECT_EQ((*one)[1].enctype, 18);
  EXPECT_EQ((*one)[1].contents, kKeyB);
  auto two = t.keys_of("IPUI-2@T.TEST");
  ASSERT_TRUE(two);
  EXPECT_EQ((*two)[0].contents, kKeyC);
  EXPECT_FALSE(t.keys_of("IPUI-3@T.TEST"));
  EXPECT_FALSE(t.keys_of("IPUI-1@OTHER.TEST"));  // the realm is part of the name
}

TEST(KeyTable, ReadsEveryFileOfADirectory) {
  mobix::test::TempDir dir;
  write_keytab(dir.file("batch-1.keytab"), {{"IPUI-1", "T.TEST", 1, 18, kKeyA}});
  write_keytab(dir.file("batch-2.keytab"), {{"IPUI-2", "T.TEST", 1, 18, kKeyB}});
  KeyTable t(dir.path());
  EXPECT_EQ(t.principals(), 2u);
  EXPECT_TRUE(t.keys_of("IPUI-1@T.TEST"));
  EXPECT_TRUE(t.keys_of("IPUI-2@T.TEST"));
}

TEST(KeyTable, ReReadsAChangedFileAndKeepsTheLastGoodKeys) {
  mobix::test::TempDir dir;
  auto path = dir.file("mm.keytab");
  write_keytab(path, {{"IPUI-1", "T.TEST", 1, 18, kKeyA}});
  KeyTable t(path);
  ASSERT_FALSE(t.keys_of("IPUI-2@T.TEST"));
  // kadmin's ktadd appends a device; the table looks again at most once a second.
  write_keytab(path, {{"IPUI-1", "T.TEST", 1, 18, kKeyA}, {"IPUI-2", "T.TEST", 1, 18, kKeyB}});
  std::shared_ptr<const mobix::krb::PrincipalKeys> two;
  for (int i = 0; i < 30 && !two; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    two = t.keys_of("IPUI-2@T.TEST");
  }
  ASSERT_TRUE(two) << "a device added to the keytab was not picked up";
  EXPECT_EQ((*two)[0].contents, kKeyB);
  // A file that cannot be read (truncated mid-write) does not lose the keys already known.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string("\x05\x02\x00\x00\x01", 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(t.keys_of("IPUI-1@T.TEST"));
  EXPECT_TRUE(t.keys_of("IPUI-2@T.TEST"));
}

TEST(KeyTable, RefusesAMissingOrEmptyKeytab) {
  mobix::test::TempDir dir;
  EXPECT_THROW(KeyTable(dir.file("none.keytab")), KerberosError);
  write_keytab(dir.file("empty.keytab"), {});
  try {
    KeyTable t(dir.file("empty.keytab"));
    FAIL() << "an empty keytab was accepted";
  } catch (const KerberosError& e) {
    EXPECT_EQ(e.kind, KerberosError::Kind::no_key);
    EXPECT_NE(std::string(e.what()).find("holds no key"), std::string::npos) << e.what();
  }
}
