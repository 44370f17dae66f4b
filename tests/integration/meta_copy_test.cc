// MetaCopy (coordinator/meta_copy.h) against a real etcd: the hot copy of a coordinator's prefix
// and its fenced commits (DESIGN.md §4 S1, L4, L5).
#include "coordinator/meta_copy.h"

#include <memory>
#include <string>

#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "session/election.h"
#include "session/session.h"

namespace coordha::testing {
namespace {

using coordinator::MetaCopy;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPrefix[] = "by-dev/meta/datacoord/";
constexpr char kActiveKey[] = "by-dev/meta/session/datacoord";
constexpr char kResignedKey[] = "by-dev/meta/coordha/resigned/datacoord";

class MetaCopyTest : public RealEtcdTest {
 protected:
  void SetUp() override {
    RealEtcdTest::SetUp();
    if (HasFatalFailure()) return;
    auto session = session::Session::Create(
        client_.get(), {.ttl_seconds = 5, .serve_grant = milliseconds(500)}, TestDeadline());
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
    auto won = session::Campaign(*client_, kActiveKey, kResignedKey, "{}", session_->lease_id(),
                                 TestDeadline());
    ASSERT_TRUE(won.ok()) << won.status();
    ASSERT_TRUE(won->leadership.has_value());
    leadership_.emplace(*won->leadership);
    copy_ = std::make_unique<MetaCopy>(client_.get(), kPrefix,
                                       coordinator::MetaCopyOptions{.name = "test"});
    copy_->Start();
    ASSERT_TRUE(copy_->CatchUpAsActive(*leadership_, TestDeadline()).ok());
  }

  void TearDown() override {
    if (copy_ != nullptr) copy_->Stop();
  }

  std::unique_ptr<session::Session> session_;
  std::optional<session::Leadership> leadership_;
  std::unique_ptr<MetaCopy> copy_;
};

TEST_F(MetaCopyTest, Commit_ReadsItsOwnWrite_S1) {
  etcd::Txn txn;
  txn.success.push_back(etcd::TxnOp::Put(copy_->Key("segment/1"), "a"));
  auto done = copy_->Commit(*leadership_, std::move(txn), TestDeadline());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->succeeded);
  auto kv = copy_->Get("segment/1");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "a");
}

// A failed compare answers with etcd's newest revision, which here belongs to a key outside the
// prefix (another coordinator's write): the copy never sees it. Commit must still return — with
// a copy at least as new as the write that made the compare fail — not wait out its deadline.
TEST_F(MetaCopyTest, Commit_FailedCompareReturnsWithACopyAsNewAsTheConflict) {
  etcd::Txn first;
  first.success.push_back(etcd::TxnOp::Put(copy_->Key("segment/1"), "a"));
  ASSERT_TRUE(copy_->Commit(*leadership_, std::move(first), TestDeadline()).ok());
  const int64_t read_at = copy_->Get("segment/1")->mod_revision;

  // Someone else changes the key (an earlier epoch's late write, say), then writes elsewhere.
  ASSERT_TRUE(client_->Put(copy_->Key("segment/1"), "b").ok());
  ASSERT_TRUE(client_->Put("by-dev/meta/elsewhere", "x").ok());

  etcd::Txn stale;
  stale.compares.push_back(
      etcd::Compare::ModRevision(copy_->Key("segment/1"), etcd::Compare::Op::kEqual, read_at));
  stale.success.push_back(etcd::TxnOp::Put(copy_->Key("segment/1"), "c"));
  auto done = copy_->Commit(*leadership_, std::move(stale), Deadline::In(seconds(30)));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(done->succeeded);
  auto kv = copy_->Get("segment/1");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "b");  // the conflict is in the copy: the caller decides again on it
}

TEST_F(MetaCopyTest, CatchUpWithEtcd_AppliesWhatEtcdHasNow_L5) {
  MetaCopy follower(client_.get(), kPrefix, coordinator::MetaCopyOptions{.name = "follower"});
  follower.Start();
  ASSERT_TRUE(client_->Put(copy_->Key("segment/7"), "v").ok());
  ASSERT_TRUE(follower.CatchUpWithEtcd(TestDeadline()).ok());
  auto kv = follower.Get("segment/7");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "v");
  follower.Stop();
}

TEST_F(MetaCopyTest, Commit_DeposedActiveWritesNothing_S1) {
  // Another epoch takes the role: the old leadership's commit is fenced off.
  ASSERT_TRUE(client_->Delete(kActiveKey).ok());
  auto other = session::Campaign(*client_, kActiveKey, kResignedKey, "{}", session_->lease_id(),
                                 TestDeadline());
  ASSERT_TRUE(other.ok()) << other.status();
  etcd::Txn txn;
  txn.success.push_back(etcd::TxnOp::Put(copy_->Key("segment/9"), "late"));
  auto done = copy_->Commit(*leadership_, std::move(txn), TestDeadline());
  ASSERT_FALSE(done.ok());
  EXPECT_TRUE(session::IsFenced(done.status())) << done.status();
  auto read = client_->Get(copy_->Key("segment/9"), TestDeadline());
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->has_value());
}

}  // namespace
}  // namespace coordha::testing
