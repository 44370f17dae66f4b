// The etcd client against a real etcd: KV and Txn semantics, errors, outcome-unknown writes, and
// endpoint failover in a 3-member cluster.
#include <gtest/gtest.h>

#include "common/status.h"
#include "etcd/client.h"
#include "etcd_test_util.h"
#include "support/etcd_cluster.h"

namespace coordha::testing {
namespace {

using etcd::Client;
using etcd::Compare;
using etcd::Txn;
using etcd::TxnOp;
using Op = etcd::Compare::Op;

class EtcdKvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    auto client = Client::Connect(OptionsFor(*cluster_));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }
  std::unique_ptr<EtcdCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(EtcdKvTest, PutGetRangeDelete) {
  ASSERT_TRUE(client_->Put("p/a", "1").ok());
  ASSERT_TRUE(client_->Put("p/b", "2").ok());
  ASSERT_TRUE(client_->Put("q/c", "3").ok());

  auto a = client_->Get("p/a");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->value, "1");
  EXPECT_EQ((*a)->version, 1);

  auto missing = client_->Get("p/zz");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto range = client_->Range("p/", {.prefix = true});
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "p/a");
  EXPECT_EQ(range->kvs[1].key, "p/b");

  auto limited = client_->Range("p/", {.prefix = true, .limit = 1});
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->kvs.size(), 1u);
  EXPECT_TRUE(limited->more);
  EXPECT_EQ(limited->count, 2);

  // A read at an old revision sees the old value.
  auto put = client_->Put("p/a", "1b", {.prev_kv = true});
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(put->prev_kv.has_value());
  EXPECT_EQ(put->prev_kv->value, "1");
  auto old = client_->Range("p/a", {.revision = put->revision - 1});
  ASSERT_TRUE(old.ok());
  ASSERT_EQ(old->kvs.size(), 1u);
  EXPECT_EQ(old->kvs[0].value, "1");

  auto del = client_->Delete("p/", {.prefix = true});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->deleted, 2);
  auto after = client_->Range("p/", {.prefix = true});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->kvs.empty());
}

// The campaign of DESIGN.md §4 S1: If CreateRevision(key) == 0 Then Put. Exactly one of two
// competing creators wins; the winner's epoch is the key's create revision, and a write guarded
// by an old epoch fails after the key was re-created.
TEST_F(EtcdKvTest, TxnCreateRevisionCompareLetsExactlyOneCreatorWin) {
  auto campaign = [&](const std::string& who) {
    Txn txn;
    txn.compares.push_back(Compare::CreateRevision("role", Op::kEqual, 0));
    txn.success.push_back(TxnOp::Put("role", who));
    txn.failure.push_back(TxnOp::Get("role"));
    return client_->Commit(txn);
  };
  auto first = campaign("A");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->succeeded);
  auto second = campaign("B");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->results.size(), 1u);
  const auto& seen = std::get<etcd::RangeResult>(second->results[0]);
  ASSERT_EQ(seen.kvs.size(), 1u);
  EXPECT_EQ(seen.kvs[0].value, "A");
  const int64_t epoch = seen.kvs[0].create_revision;
  EXPECT_EQ(epoch, first->revision);

  auto fenced_write = [&](int64_t e, const std::string& v) {
    Txn txn;
    txn.compares.push_back(Compare::CreateRevision("role", Op::kEqual, e));
    txn.success.push_back(TxnOp::Put("state", v));
    return client_->Commit(txn);
  };
  auto ok = fenced_write(epoch, "by A");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->succeeded);

  // The key ends and is re-created: a new epoch. A's fence no longer holds.
  ASSERT_TRUE(client_->Delete("role").ok());
  auto again = campaign("B");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->succeeded);
  EXPECT_GT(again->revision, epoch);
  auto stale = fenced_write(epoch, "stale A");
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->succeeded);
  auto state = client_->Get("state");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ((*state)->value, "by A");
}

TEST_F(EtcdKvTest, TxnComparesOnVersionModRevisionValueAndLease) {
  auto put = client_->Put("k", "v1");
  ASSERT_TRUE(put.ok());
  auto lease = client_->LeaseGrant(30);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client_->Put("leased", "x", {.lease = lease->id}).ok());

  auto holds = [&](Compare c) {
    Txn txn;
    txn.compares.push_back(std::move(c));
    auto r = client_->Commit(txn);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->succeeded;
  };
  EXPECT_TRUE(holds(Compare::Version("k", Op::kEqual, 1)));
  EXPECT_FALSE(holds(Compare::Version("k", Op::kGreater, 1)));
  EXPECT_TRUE(holds(Compare::Version("absent", Op::kEqual, 0)));
  EXPECT_TRUE(holds(Compare::ModRevision("k", Op::kEqual, put->revision)));
  EXPECT_TRUE(holds(Compare::ModRevision("k", Op::kLess, put->revision + 1)));
  EXPECT_TRUE(holds(Compare::Value("k", Op::kEqual, "v1")));
  EXPECT_TRUE(holds(Compare::Value("k", Op::kNotEqual, "v2")));
  EXPECT_TRUE(holds(Compare::Lease("leased", Op::kEqual, lease->id)));
  EXPECT_FALSE(holds(Compare::Lease("k", Op::kEqual, lease->id)));

  // All compares must hold: one false one sends the txn down its failure branch.
  Txn txn;
  txn.compares = {Compare::Value("k", Op::kEqual, "v1"), Compare::Version("k", Op::kEqual, 7)};
  txn.success = {TxnOp::Put("k", "changed")};
  txn.failure = {TxnOp::Get("k")};
  auto r = client_->Commit(txn);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(std::get<etcd::RangeResult>(r->results[0]).kvs[0].value, "v1");
}

TEST_F(EtcdKvTest, EtcdErrorsAreDefiniteAndNamed) {
  // Too many operations in one txn is etcd's definite refusal, not an unknown outcome.
  Txn big;
  for (int i = 0; i < 200; ++i) big.success.push_back(TxnOp::Put("k" + std::to_string(i), "v"));
  auto r = client_->Commit(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsOutcomeUnknown(r.status()));
  EXPECT_NE(r.status().message().find("too many operations"), absl::string_view::npos);

  // Revoking a lease that does not exist.
  absl::Status s = client_->LeaseRevoke(0x1234);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
}

TEST_F(EtcdKvTest, ReadOfCompactedRevisionIsOutOfRange) {
  auto p1 = client_->Put("c", "1");
  ASSERT_TRUE(client_->Put("c", "2").ok());
  auto p3 = client_->Put("c", "3");
  ASSERT_TRUE(p1.ok() && p3.ok());
  ASSERT_TRUE(client_->Compact(p3->revision).ok());
  auto old = client_->Range("c", {.revision = p1->revision});
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange) << old.status();
}

// A write sent to an etcd that then freezes has an unknown outcome: not "failed".
TEST_F(EtcdKvTest, WriteToFrozenEtcdHasUnknownOutcome) {
  ASSERT_TRUE(client_->Put("warm", "up").ok());  // connection established
  ASSERT_TRUE(cluster_->Pause(0).ok());
  auto r = client_->Put("frozen", "x", {}, Deadline::In(std::chrono::milliseconds(300)));
  ASSERT_TRUE(cluster_->Resume(0).ok());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsOutcomeUnknown(r.status())) << r.status();
  // Once etcd is back the client works again.
  EXPECT_TRUE(client_->Get("warm").ok());
}

TEST(EtcdConnect, UnreachableEtcdGivesAClearErrorNotAHang) {
  etcd::ClientOptions o;
  o.endpoints = {"127.0.0.1:" + std::to_string(FreeLoopbackPort()),
                 "127.0.0.1:" + std::to_string(FreeLoopbackPort())};
  o.dial_timeout = std::chrono::milliseconds(200);
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("cannot reach etcd at " + o.endpoints[0]),
            absl::string_view::npos)
      << c.status();
}

TEST(EtcdConnect, BadEndpointIsInvalidArgument) {
  etcd::ClientOptions o;
  o.endpoints = {"localhost:notaport"};
  auto c = Client::Connect(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("localhost:notaport"), absl::string_view::npos);
}

TEST(EtcdConnect, ReportsTheVersionOfEtcd) {
  auto cluster = EtcdCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto client = Client::Connect(OptionsFor(**cluster));
  ASSERT_TRUE(client.ok()) << client.status();
  auto status = (*client)->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->version.rfind("3.", 0), 0u) << status->version;
  EXPECT_NE(status->leader_id, 0u);
}

// Every endpoint is tried: with the preferred member killed, reads and writes go on through the
// other two.
TEST(EtcdCluster3, ClientKeepsWorkingWhenOneMemberIsKilled) {
  auto cluster = EtcdCluster::Start({.members = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto client = Client::Connect(OptionsFor(**cluster));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Put("before", "1").ok());
  // Member 0 is the first endpoint, so the client is talking to it now.
  ASSERT_TRUE((*cluster)->Kill(0).ok());
  for (int i = 0; i < 20; ++i) {
    auto put = (*client)->Put("after" + std::to_string(i), "v");
    ASSERT_TRUE(put.ok() || IsOutcomeUnknown(put.status())) << put.status();
    auto get = (*client)->Get("before");
    ASSERT_TRUE(get.ok()) << get.status();
    EXPECT_EQ((*get)->value, "1");
  }
  // Every write settled: the last one is certainly applied.
  auto last = (*client)->Put("last", "v");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_GE((*client)->stats().endpoint_switches, 1);
  // The killed member rejoins and serves again.
  ASSERT_TRUE((*cluster)->Restart(0).ok());
  etcd::ClientOptions only0 = OptionsFor(**cluster);
  only0.endpoints = {(*cluster)->ClientEndpoint(0)};
  auto client0 = Client::Connect(only0);
  ASSERT_TRUE(client0.ok()) << client0.status();
  auto got = (*client0)->Get("last");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_value());
}

}  // namespace
}  // namespace coordha::testing
