// Leases and LeaseKeepAlive against a real etcd: expiry, loss reported once, surviving an etcd
// restart shorter than the TTL.
#include <atomic>

#include <gtest/gtest.h>

#include "etcd/client.h"
#include "etcd/lease_keepalive.h"
#include "etcd/watcher.h"
#include "etcd_test_util.h"
#include "support/etcd_cluster.h"

namespace coordha::testing {
namespace {

using etcd::Client;
using etcd::LeaseKeepAlive;
using std::chrono::milliseconds;

class EtcdLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    auto client = Client::Connect(OptionsFor(*cluster_));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  // Blocks until LeaseKeepAlive acknowledged more than `n` renewals.
  static bool AwaitRenewals(const LeaseKeepAlive& k, int64_t n) {
    return k.AwaitRenewals(n + 1, TestDeadline());
  }

  std::unique_ptr<EtcdCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(EtcdLeaseTest, GrantReportsTheTtlEtcdGranted) {
  auto lease = client_->LeaseGrant(7);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->ttl_seconds, 7);
  EXPECT_NE(lease->id, 0);
  auto ttl = client_->TimeToLive(lease->id);
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->ttl_seconds, 0);
  EXPECT_EQ(ttl->granted_ttl_seconds, 7);
}

TEST_F(EtcdLeaseTest, LeaseExpiresWhenKeepAliveStops) {
  auto lease = client_->LeaseGrant(1);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client_->Put("session/1", "me", {.lease = lease->id}).ok());

  EventLog deletes;
  auto watcher = etcd::Watcher::Start(client_.get(), "session/1", {},
                                      {.on_events = [&](const auto& ev) { deletes.Add(ev); }});
  ASSERT_TRUE(watcher->AwaitCreated(TestDeadline()).ok());

  auto keeper = LeaseKeepAlive::Start(client_.get(), *lease, {.interval = milliseconds(100)});
  ASSERT_TRUE(AwaitRenewals(*keeper, 3));
  keeper->Stop();
  EXPECT_FALSE(keeper->lost());

  // Without renewals etcd expires the lease and deletes its key.
  ASSERT_TRUE(deletes.AwaitCount(1, TestDeadline()));
  EXPECT_EQ(deletes.Events()[0].type, etcd::WatchEvent::Type::kDelete);
  auto ttl = client_->TimeToLive(lease->id);
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->ttl_seconds, -1);
}

TEST_F(EtcdLeaseTest, RenewalsReportSendTimeAndGrantedTtl) {
  auto lease = client_->LeaseGrant(5);
  ASSERT_TRUE(lease.ok());
  std::atomic<int> seen{0};
  BootTime before = BootClock::now();
  auto keeper = LeaseKeepAlive::Start(client_.get(), *lease, {.interval = milliseconds(50)},
                                      {.on_renewed = [&](const LeaseKeepAlive::Renewal& r) {
                                        EXPECT_EQ(r.ttl_seconds, 5);
                                        EXPECT_GE(r.sent_at, before);
                                        seen.fetch_add(1);
                                      }});
  ASSERT_TRUE(AwaitRenewals(*keeper, 2));
  LeaseKeepAlive::Renewal last = keeper->last_renewal();
  EXPECT_GT(last.sent_at, lease->granted_at);
  EXPECT_LE(last.sent_at, BootClock::now());
  EXPECT_EQ(last.expires_at(), last.sent_at + std::chrono::seconds(5));
  keeper->Stop();
  EXPECT_GE(seen.load(), 3);
}

// A lease revoked under a running keepalive is reported lost exactly once, as "gone now".
TEST_F(EtcdLeaseTest, RevokedLeaseIsReportedLostOnceAsNotFound) {
  auto lease = client_->LeaseGrant(10);
  ASSERT_TRUE(lease.ok());
  std::atomic<int> lost_calls{0};
  Mutex mu;
  absl::Status reason;
  auto keeper = LeaseKeepAlive::Start(client_.get(), *lease, {.interval = milliseconds(50)},
                                      {.on_lost = [&](const absl::Status& s) {
                                        lost_calls.fetch_add(1);
                                        MutexLock lock(&mu);
                                        reason = s;
                                      }});
  ASSERT_TRUE(AwaitRenewals(*keeper, 0));
  ASSERT_TRUE(client_->LeaseRevoke(lease->id).ok());
  ASSERT_TRUE(keeper->AwaitLost(TestDeadline()));
  keeper->Stop();
  EXPECT_EQ(lost_calls.load(), 1);
  MutexLock lock(&mu);
  EXPECT_EQ(reason.code(), absl::StatusCode::kNotFound) << reason;
  EXPECT_EQ(keeper->loss_reason(), reason);
}

// An etcd restart shorter than the TTL does not lose the lease: the keepalive retries until etcd
// is back and renews again.
TEST_F(EtcdLeaseTest, KeepAliveSurvivesEtcdRestartShorterThanTtl) {
  auto lease = client_->LeaseGrant(15);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(client_->Put("session/2", "me", {.lease = lease->id}).ok());
  auto keeper = LeaseKeepAlive::Start(client_.get(), *lease, {.interval = milliseconds(100)});
  ASSERT_TRUE(AwaitRenewals(*keeper, 1));

  ASSERT_TRUE(cluster_->Stop(0).ok());
  ASSERT_TRUE(cluster_->Restart(0).ok());
  const int64_t at_restart = keeper->renewals();
  ASSERT_TRUE(AwaitRenewals(*keeper, at_restart + 2)) << keeper->loss_reason();
  EXPECT_FALSE(keeper->lost());
  auto ttl = client_->TimeToLive(lease->id);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(ttl->ttl_seconds, 0);
  auto key = client_->Get("session/2");
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(key->has_value());
}

// With etcd gone past the lease's deadline, loss is reported once, as "not renewed in time".
TEST_F(EtcdLeaseTest, KeepAliveReportsLossWhenEtcdStaysDownPastTheDeadline) {
  auto lease = client_->LeaseGrant(2);
  ASSERT_TRUE(lease.ok());
  std::atomic<int> lost_calls{0};
  auto keeper = LeaseKeepAlive::Start(client_.get(), *lease, {.interval = milliseconds(100)},
                                      {.on_lost = [&](const absl::Status&) { ++lost_calls; }});
  ASSERT_TRUE(AwaitRenewals(*keeper, 0));
  ASSERT_TRUE(cluster_->Kill(0).ok());
  ASSERT_TRUE(keeper->AwaitLost(TestDeadline()));
  EXPECT_EQ(keeper->loss_reason().code(), absl::StatusCode::kDeadlineExceeded)
      << keeper->loss_reason();
  EXPECT_GT(keeper->failed_attempts(), 0);
  // Loss is final: the keeper renews nothing more even after etcd returns.
  ASSERT_TRUE(cluster_->Restart(0).ok());
  keeper->Stop();
  EXPECT_EQ(lost_calls.load(), 1);
  EXPECT_TRUE(keeper->last_renewal().expires_at() <= BootClock::now());
}

}  // namespace
}  // namespace coordha::testing
