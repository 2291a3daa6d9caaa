#include <gtest/gtest.h>

#include "core/metrics.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"
#include "test_util.hpp"

using namespace mobix;

namespace {
// A change log whose disk is "full": every commit fails.
class FailingRepository final : public ChangeLog {
 public:
  void apply(const std::vector<Change>&) override { throw StoreError("disk full"); }
};
}  // namespace

TEST(StoreWriter, FailedCommitIsReportedNotAcknowledged) {
  auto& failures = metrics().counter("mobix_store_commit_failures_total", "");
  auto before = failures.value();
  FailingRepository repo;
  StoreWriter w(repo);
  int calls = 0;
  bool ok = true;
  w.submit({Change{Change::Kind::end_session, {}, {}}}, [&](bool o) {
    ok = o;
    ++calls;
  });
  w.flush();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(ok) << "the caller must not answer the NAS";
  EXPECT_EQ(failures.value(), before + 1);
}
