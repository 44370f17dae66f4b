// Sessions, campaigns and the Replica loop against a real etcd, in one process.
//
// Safety rules tested here by name: S1 (one writer, fenced writes), S2 (serve grant), S3 (early
// takeover waits out the grant), S6 (never give up on etcd), S7 (ready before visible), L1
// (graceful stop resigns), exclusive mode. The same rules are tested with real processes and real
// signals in failover_test.cc.
#include <atomic>
#include <thread>

#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "session/election.h"
#include "session/replica.h"
#include "session/server_id.h"
#include "session/session.h"
#include "session/session_info.h"

namespace coordha::session {
namespace {

using coordha::testing::EtcdCluster;
using coordha::testing::OptionsFor;
using coordha::testing::TestDeadline;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Hooks a test can hold in Activate().
class TestHooks final : public ReplicaHooks {
 public:
  absl::Status Activate(const Leadership& leadership, Deadline) override {
    MutexLock lock(&mu_);
    ++activations_;
    epoch_ = leadership.epoch();
    changed_.SignalAll();
    changed_.Await(&mu_, [this] {
      mu_.AssertHeld();
      return !hold_;
    });
    return absl::OkStatus();
  }
  void Deactivate() override {
    MutexLock lock(&mu_);
    ++deactivations_;
  }
  void Hold() {
    MutexLock lock(&mu_);
    hold_ = true;
  }
  void Release() {
    MutexLock lock(&mu_);
    hold_ = false;
    changed_.SignalAll();
  }
  bool AwaitActivations(int n, Deadline deadline) {
    MutexLock lock(&mu_);
    return changed_.Await(
        &mu_,
        [&] {
          mu_.AssertHeld();
          return activations_ >= n;
        },
        deadline);
  }

 private:
  Mutex mu_;
  CondVar changed_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  int activations_ ABSL_GUARDED_BY(mu_) = 0;
  int deactivations_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

class ElectionTest : public coordha::testing::RealEtcdTest {
 protected:
  std::unique_ptr<Session> NewSession() {
    auto session = Session::Create(
        client_.get(), {.ttl_seconds = 2, .serve_grant = milliseconds(500)}, TestDeadline());
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? *std::move(session) : nullptr;
  }

  ReplicaOptions Options(const std::string& address, bool active_standby = true) {
    ReplicaOptions o;
    o.role = "rootcoord";
    o.active_standby_key = "rootCoord.enableActiveStandby";
    o.keys = keys_;
    o.info.address = address;
    o.active_standby = active_standby;
    o.session = {.ttl_seconds = 2, .serve_grant = milliseconds(500)};
    o.reread_interval = milliseconds(500);
    return o;
  }

  static bool IsActive(const ReplicaStatus& s) { return s.state == ReplicaState::kActive; }
  static bool IsStandby(const ReplicaStatus& s) { return s.state == ReplicaState::kStandby; }

  const Keys keys_{"by-dev/meta"};
  const std::string active_key_ = keys_.ActiveKey("rootcoord");
  const std::string resigned_key_ = keys_.ResignedKey("rootcoord");
};

TEST_F(ElectionTest, ServerIdsAreUniqueUnderConcurrentAllocation) {
  std::vector<int64_t> ids(16);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      auto id = AllocateServerId(*client_, keys_, TestDeadline());
      ids[i] = id.ok() ? *id : -1;
    });
  }
  for (auto& t : threads) t.join();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "duplicate server ID";
  EXPECT_EQ(ids.back(), static_cast<int64_t>(ids.size()));
}

TEST_F(ElectionTest, OneWriter_SecondCampaignLosesAndSeesTheHolder_S1) {
  auto a = NewSession();
  auto b = NewSession();
  auto won = Campaign(*client_, active_key_, resigned_key_, "a", a->lease_id(), TestDeadline());
  ASSERT_TRUE(won.ok()) << won.status();
  ASSERT_TRUE(won->leadership.has_value());
  auto lost = Campaign(*client_, active_key_, resigned_key_, "b", b->lease_id(), TestDeadline());
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_FALSE(lost->leadership.has_value());
  EXPECT_EQ(lost->holder.value, "a");
  EXPECT_EQ(lost->holder.create_revision, won->leadership->epoch());
}

TEST_F(ElectionTest, OneWriter_DeposedActiveWriteIsRefusedAndEpochGrows_S1) {
  auto a = NewSession();
  auto first = Campaign(*client_, active_key_, resigned_key_, "a", a->lease_id(), TestDeadline());
  ASSERT_TRUE(first.ok() && first->leadership) << first.status();
  const Leadership old = *first->leadership;

  // The old active's lease ends (as after a pause longer than the TTL); another wins.
  ASSERT_TRUE(client_->LeaseRevoke(a->lease_id(), TestDeadline()).ok());
  auto b = NewSession();
  auto second = Campaign(*client_, active_key_, resigned_key_, "b", b->lease_id(), TestDeadline());
  ASSERT_TRUE(second.ok() && second->leadership) << second.status();
  EXPECT_GT(second->leadership->epoch(), old.epoch());

  // The deposed active's write is refused and changes nothing.
  etcd::Txn write;
  write.success.push_back(etcd::TxnOp::Put("by-dev/meta/rootcoord/state", "from-old"));
  auto refused = old.FencedCommit(write, TestDeadline());
  EXPECT_TRUE(IsFenced(refused.status())) << refused.status();
  auto state = client_->Get("by-dev/meta/rootcoord/state", TestDeadline());
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->has_value());

  // The new one's goes through.
  auto accepted = second->leadership->FencedCommit(write, TestDeadline());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_TRUE(accepted->succeeded);
}

TEST_F(ElectionTest, ServeGrant_EndsBeforeTheLeaseCouldExpire_S2) {
  auto session = NewSession();
  ASSERT_TRUE(session != nullptr);
  const BootTime serve = session->ServeDeadline();
  const BootTime lease = session->LeaseDeadline();
  EXPECT_LT(serve, lease);
  EXPECT_LE(serve - (lease - seconds(session->granted_ttl_seconds())), session->serve_grant());
  // A lost lease serves nothing.
  ASSERT_TRUE(client_->LeaseRevoke(session->lease_id(), TestDeadline()).ok());
  ASSERT_TRUE(session->AwaitDone(TestDeadline()));
  EXPECT_TRUE(session->done());
  EXPECT_EQ(session->ServeDeadline(), BootTime::min());
}

TEST_F(ElectionTest, ReadyBeforeVisible_InitializingUntilActivateReturns_S7) {
  TestHooks hooks;
  hooks.Hold();
  auto replica = Replica::Create(client_.get(), Options("127.0.0.1:1"), &hooks);
  replica->Start();
  ASSERT_TRUE(hooks.AwaitActivations(1, TestDeadline()));
  EXPECT_EQ(replica->status().state, ReplicaState::kInitializing);
  EXPECT_FALSE(replica->Serving());
  auto key = client_->Get(active_key_, TestDeadline());
  ASSERT_TRUE(key.ok() && key->has_value());
  EXPECT_EQ(ParseSessionInfo((*key)->value)->state, SessionState::kInitializing);

  hooks.Release();
  ASSERT_TRUE(replica->AwaitStatus(IsActive, TestDeadline()));
  key = client_->Get(active_key_, TestDeadline());
  ASSERT_TRUE(key.ok() && key->has_value());
  EXPECT_EQ(ParseSessionInfo((*key)->value)->state, SessionState::kHealthy);
  replica->Stop(TestDeadline());
}

TEST_F(ElectionTest, EarlyTakeover_NewActiveWaitsOutTheGrant_S3) {
  TestHooks hooks_a, hooks_b;
  auto a = Replica::Create(client_.get(), Options("127.0.0.1:1"), &hooks_a);
  a->Start();
  ASSERT_TRUE(a->AwaitStatus(IsActive, TestDeadline()));
  auto b = Replica::Create(client_.get(), Options("127.0.0.1:2"), &hooks_b);
  b->Start();
  ASSERT_TRUE(b->AwaitStatus(IsStandby, TestDeadline()));

  // An early takeover (S3 trigger): the active's key and lease are ended from outside while the
  // active process lives on. Both replicas are in this process, so there is no proof of death.
  const BootTime revoked_at = BootClock::now();
  ASSERT_TRUE(client_->LeaseRevoke(a->status().lease_id, TestDeadline()).ok());

  // Never two serving at once; B serves no earlier than the grant after the key went away.
  std::optional<BootTime> b_first_served;
  for (Deadline d = TestDeadline(); !d.Expired() && !b_first_served;) {
    const bool b_serving = b->Serving();
    const bool a_serving = a->Serving();
    ASSERT_FALSE(a_serving && b_serving) << "two actives serving";
    if (b_serving) b_first_served = BootClock::now();
  }
  ASSERT_TRUE(b_first_served.has_value());
  EXPECT_GE(*b_first_served - revoked_at, milliseconds(500)) << "B served inside A's grant";
  a->Stop(TestDeadline());
  b->Stop(TestDeadline());
}

TEST_F(ElectionTest, GracefulStop_ResignsWithMarkerAndRevokes_L1) {
  TestHooks hooks_a, hooks_b;
  auto a = Replica::Create(client_.get(), Options("127.0.0.1:1"), &hooks_a);
  a->Start();
  ASSERT_TRUE(a->AwaitStatus(IsActive, TestDeadline()));
  const ReplicaStatus before = a->status();
  auto b = Replica::Create(client_.get(), Options("127.0.0.1:2"), &hooks_b);
  b->Start();
  ASSERT_TRUE(b->AwaitStatus(IsStandby, TestDeadline()));

  a->BeginStop();
  EXPECT_FALSE(a->Serving());
  EXPECT_EQ(a->status().state, ReplicaState::kStopping);
  a->Stop(TestDeadline());

  auto marker = client_->Get(resigned_key_, TestDeadline());
  ASSERT_TRUE(marker.ok() && marker->has_value());
  EXPECT_EQ((*marker)->value, std::to_string(before.epoch));
  auto lease = client_->TimeToLive(before.lease_id, false, TestDeadline());
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->ttl_seconds, -1) << "lease not revoked";
  ASSERT_TRUE(b->AwaitStatus(IsActive, TestDeadline()));
  EXPECT_GT(b->status().epoch, before.epoch);
  b->Stop(TestDeadline());
}

TEST_F(ElectionTest, NeverExitOnEtcdLoss_StepsDownThenRejoins_S6) {
  TestHooks hooks;
  auto a = Replica::Create(client_.get(), Options("127.0.0.1:1"), &hooks);
  a->Start();
  ASSERT_TRUE(a->AwaitStatus(IsActive, TestDeadline()));
  const int64_t epoch = a->status().epoch;
  ASSERT_TRUE(cluster_->Stop(0).ok());
  // The serve grant lapses (S2) and the lease is lost: it steps down but keeps running.
  ASSERT_TRUE(a->AwaitStatus(
      [](const ReplicaStatus& s) { return s.state == ReplicaState::kStarting; }, TestDeadline()));
  EXPECT_FALSE(a->Serving());
  ASSERT_TRUE(cluster_->Restart(0).ok());
  ASSERT_TRUE(a->AwaitStatus(
      [epoch](const ReplicaStatus& s) {
        return s.state == ReplicaState::kActive && s.epoch > epoch;
      },
      TestDeadline()));
  a->Stop(TestDeadline());
}

TEST_F(ElectionTest, Exclusive_SecondReplicaRefusesNamingTheHolder) {
  TestHooks hooks_a, hooks_b;
  auto a =
      Replica::Create(client_.get(), Options("127.0.0.1:1", /*active_standby=*/false), &hooks_a);
  a->Start();
  ASSERT_TRUE(a->AwaitStatus(IsActive, TestDeadline()));
  auto b = Replica::Create(client_.get(), Options("127.0.0.1:2", false), &hooks_b);
  b->Start();
  ASSERT_TRUE(b->AwaitStatus(
      [](const ReplicaStatus& s) { return s.state == ReplicaState::kStopped; }, TestDeadline()));
  const absl::Status refusal = b->refusal();
  EXPECT_TRUE(absl::IsFailedPrecondition(refusal)) << refusal;
  EXPECT_NE(refusal.message().find("127.0.0.1:1"), absl::string_view::npos) << refusal;
  EXPECT_NE(refusal.message().find("rootCoord.enableActiveStandby=true"), absl::string_view::npos)
      << refusal;
  EXPECT_TRUE(a->Serving());
  a->Stop(TestDeadline());
}

}  // namespace
}  // namespace coordha::session
