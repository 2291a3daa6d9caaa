// Seed 004 provisioning without the network: the call center's registration rules, the
// configuration authorisation realm (valid-serial database, PAP only), the box's flash (atomic
// parameters 191, the unconfigured flag) and the checks on downloaded parameters.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "access/config_auth.hpp"
#include "cb/box_flash.hpp"
#include "provisioning/factory.hpp"
#include "provisioning/registry.hpp"
#include "test_util.hpp"

using namespace mobix;

namespace {

struct Provisioning : ::testing::Test {
  test::TempDir dir;
  std::unique_ptr<Store> store = Store::open_sqlite(dir.file("s.db"));
  BoxRegistry registry{*store};

  void SetUp() override {
    store->put_valid_serial({"SN-1", password_sha256("pw-1"), "AA", 1, 0});
    store->put_valid_serial({"SN-2", password_sha256("pw-2"), "BB", 1, 0});
  }
  Registration good(std::string serial = "SN-1") {
    return Registration{serial,     "",          "",       "+4420000001",
                        "Jo Smith", "1 High St", "acct-1", {{"ann00000001", "Ann"}}};
  }
  std::map<std::string, std::string> refusal(const Registration& r) {
    try {
      registry.register_box(r, 100);
    } catch (const RegistrationError& e) {
      return e.fields();
    }
    return {};
  }
};

TEST_F(Provisioning, RegistrationGeneratesIdsAndKeepsBillingApart) {
  auto rec = registry.register_box(good(), 100);
  EXPECT_EQ(rec.cb_id.rfind("cb-", 0), 0u);
  EXPECT_EQ(rec.cb_id.size(), 19u);
  EXPECT_TRUE(BoxRegistry::valid_cb_name(rec.cb_name)) << rec.cb_name;
  EXPECT_EQ(rec.cb_name.substr(0, 5), "josmi");  // seed 004's style: letters of the name + 8 digits
  EXPECT_EQ(rec.line_id, "4420000001");          // as the access network reports it
  EXPECT_EQ(rec.friendly_name, "Jo Smith");
  EXPECT_EQ(rec.state, BoxState::registered);
  auto stored = registry.find(rec.cb_name);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->cb_id, rec.cb_id);
  ASSERT_TRUE(registry.billing(rec.cb_id));
  EXPECT_EQ(registry.billing(rec.cb_id)->billing, "acct-1");
  EXPECT_EQ(registry.find("SN-1")->cb_id, rec.cb_id);
}

TEST_F(Provisioning, RegistrationRefusalsNameTheirFields) {
  auto r = good("SN-404");
  r.line_id = "12ab";
  r.name = "";
  r.cb_name = "Bad Name";
  r.address_book = {{"x", ""}};
  auto f = refusal(r);
  EXPECT_EQ(f["serial"], "unknown serial number: check the label on the box");
  EXPECT_TRUE(f.count("line_id") && f.count("name") && f.count("cb_name") && f.count("address_book"));
  EXPECT_FALSE(f.count("billing"));
  // Nothing half-written: no record, no billing row.
  EXPECT_TRUE(registry.list().empty());

  registry.register_box(good(), 100);
  EXPECT_EQ(refusal(good())["serial"], "this box is already registered");
  store->revoke_serial("SN-2", 5);
  EXPECT_EQ(refusal(good("SN-2"))["serial"], "this box's serial number is revoked");
  auto taken = good("SN-2");
  store->put_valid_serial({"SN-2", password_sha256("pw-2"), "BB", 1, 0});
  taken.cb_name = registry.list().front().cb_name;
  EXPECT_EQ(refusal(taken)["cb_name"], "this CB Name is taken");
}

TEST_F(Provisioning, TransitionsRetryOverAConcurrentWriter) {
  auto rec = registry.register_box(good(), 100);
  int calls = 0;
  auto out = registry.transition(
      rec.cb_id,
      [&](BoxRecord& r) {
        if (++calls == 1) {  // another node writes between our read and our write
          auto other = *store->find_box(BoxRepository::Key::cb_id, rec.cb_id);
          other.state_reason = "theirs";
          EXPECT_TRUE(store->update_box(other));
        }
        r.state = BoxState::configuring;
        return true;
      },
      200);
  ASSERT_TRUE(out);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(out->state_reason, "theirs");  // their change kept, ours applied on top
  EXPECT_EQ(store->find_box(BoxRepository::Key::cb_id, rec.cb_id)->state, BoxState::configuring);
  EXPECT_FALSE(registry.transition(
      "cb-none", [](BoxRecord&) { return true; }, 1));
}

TEST_F(Provisioning, ConfigurationRealmChecksTheValidSerialDatabase) {
  ConfigAuthorizer auth("config.cb.test", *store);
  EXPECT_TRUE(auth.handles("SN-1@Config.CB.test"));
  EXPECT_FALSE(auth.handles("SN-1@cb.test"));
  EXPECT_FALSE(auth.handles("SN-1"));
  EXPECT_FALSE(auth.check("SN-1@config.cb.test", "pw-1", false, 1));
  EXPECT_EQ(auth.check("SN-1@config.cb.test", "pw-2", false, 1)->metric_reason, "bad_password");
  EXPECT_EQ(auth.check("SN-9@config.cb.test", "pw-1", false, 1)->metric_reason, "unknown_serial");
  EXPECT_EQ(auth.check("SN-1@config.cb.test", "", true, 1)->reason,
            "configuration log-in needs PAP (User-Password)");
  // A refusal of a registered box is written on its record once per reason.
  auto rec = registry.register_box(good(), 100);
  store->revoke_serial("SN-1", 7);
  EXPECT_EQ(auth.check("SN-1@config.cb.test", "pw-1", false, 8)->metric_reason, "revoked_serial");
  auto after = store->find_box(BoxRepository::Key::cb_id, rec.cb_id);
  EXPECT_EQ(after->state, BoxState::config_error);
  EXPECT_EQ(after->state_reason, "configuration log-in refused: serial number revoked");
  auth.check("SN-1@config.cb.test", "pw-1", false, 9);
  EXPECT_EQ(store->find_box(BoxRepository::Key::cb_id, rec.cb_id)->version, after->version);
  EXPECT_NE(ConfigAuthorizer::lease_key("SN-1@config.cb.test"),
            ConfigAuthorizer::lease_key("SN-2@config.cb.test"));
  EXPECT_LT(ConfigAuthorizer::lease_key("SN-1@config.cb.test"), 0);  // never a subscriber id
}

TEST(BoxFlash, ParametersAreWholeAndTheFlagGoesLast) {
  test::TempDir dir;
  cb::FactoryParams p;
  p.serial = "SN-1";
  p.config_username = "SN-1@config.cb.test";
  p.config_password = "pw";
  cb::BoxFlash::write_factory(dir.path(), p, "KEY", "CERT", "CA");
  cb::BoxFlash flash(dir.path());
  EXPECT_EQ(flash.factory().config_username, "SN-1@config.cb.test");
  EXPECT_EQ(std::filesystem::status(flash.key_path()).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  EXPECT_TRUE(flash.unconfigured());

  nlohmann::json params{{"cb_id", "cb-1"},
                        {"cb_name", "ann00000001"},
                        {"cb_certificate", "PEM"},
                        {"nap", {{"username", "cb-1@cb.test"}, {"password", "x"}}},
                        {"css", {{"host", "127.0.0.1"}, {"port", 8444}}},
                        {"timeouts", {{"connected", 5}}},
                        {"wakeup", {{"line_id", "4420000001"}}}};
  flash.store_operational(params.dump());
  EXPECT_TRUE(flash.unconfigured());  // until the flag is cleared, as the last act
  EXPECT_FALSE(std::filesystem::exists(dir.file("params191.json.tmp")));
  flash.clear_unconfigured_flag();
  EXPECT_FALSE(flash.unconfigured());
  EXPECT_EQ(flash.operational()->css_port, 8444);

  // Corrupt parameters make the box unconfigured again (seed 004: it reconfigures itself).
  std::ofstream(dir.file("params191.json")) << "{\"cb_id\": \"cb-1\"";
  EXPECT_TRUE(flash.unconfigured());
}

TEST(BoxFlash, DownloadedParametersAreChecked) {
  std::string why;
  EXPECT_FALSE(cb::parse_operational("[]", why));
  EXPECT_FALSE(cb::parse_operational(R"({"cb_id":"cb-1"})", why));
  EXPECT_NE(why.find("missing"), std::string::npos);
  EXPECT_FALSE(cb::parse_operational(
      R"({"cb_id":"","cb_name":"a","cb_certificate":"","nap":{"username":"u","password":"p"},"css":{"host":"h","port":1},"timeouts":{},"wakeup":{}})",
      why));
  EXPECT_FALSE(cb::parse_operational(
      R"({"cb_id":"c","cb_name":"a","cb_certificate":"","nap":{"username":"u","password":"p"},"css":{"host":"h","port":"x"},"timeouts":{},"wakeup":{}})",
      why));
}

}  // namespace
