// rootcoord's TSO and ID allocator against a real etcd, with the wall clock injected (S5).
#include <atomic>

#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "rootcoord/id_allocator.h"
#include "rootcoord/tso.h"
#include "session/election.h"
#include "session/session.h"

namespace coordha::rootcoord {
namespace {

using coordha::testing::EtcdCluster;
using coordha::testing::OptionsFor;
using coordha::testing::TestDeadline;
using std::chrono::milliseconds;

constexpr char kActiveKey[] = "by-dev/meta/session/rootcoord";
constexpr char kResignedKey[] = "by-dev/meta/coordha/resigned/rootcoord";
constexpr char kTsKey[] = "by-dev/kv/gid/timestamp";
constexpr char kIdKey[] = "by-dev/kv/gid/idTimestamp";

class TsoTest : public coordha::testing::RealEtcdTest {
 protected:
  // A new active: the previous one's lease is revoked (deposed), a new session wins.
  session::Leadership Failover() {
    if (session_ != nullptr) {
      EXPECT_TRUE(client_->LeaseRevoke(session_->lease_id(), TestDeadline()).ok());
      session_.reset();
    }
    auto session = session::Session::Create(
        client_.get(), {.ttl_seconds = 5, .serve_grant = milliseconds(500)}, TestDeadline());
    EXPECT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
    auto won = session::Campaign(*client_, kActiveKey, kResignedKey, "x", session_->lease_id(),
                                 TestDeadline());
    EXPECT_TRUE(won.ok() && won->leadership) << won.status();
    return *won->leadership;
  }

  TsoOptions Options() {
    return TsoOptions{.save_window = std::chrono::seconds(3),
                      .wall_clock_ms = [this] { return wall_ms_.load(); }};
  }

  std::atomic<int64_t> wall_ms_{1'700'000'000'000};
  std::unique_ptr<session::Session> session_;
};

TEST_F(TsoTest, MonotonicTime_IncreasesAcrossFailoversEvenWithTheClockBehind_S5) {
  uint64_t last = 0;
  for (int round = 0; round < 5; ++round) {
    const session::Leadership leadership = Failover();
    TimestampOracle tso(client_.get(), kTsKey, Options());
    ASSERT_TRUE(tso.Recover(leadership, TestDeadline()).ok());
    for (int i = 0; i < 100; ++i) {
      auto ts = tso.Allocate(1 + i % 7, TestDeadline());
      ASSERT_TRUE(ts.ok()) << ts.status();
      ASSERT_GT(*ts, last) << "round " << round;
      last = *ts + i % 7;  // the last of the batch
    }
    // The new active's wall clock is behind the old one's: timestamps still only grow.
    wall_ms_ -= 10'000;
  }
}

TEST_F(TsoTest, MonotonicTime_LeadOverWallClockStaysBoundedAcrossManyFailovers_S5) {
  // 50 failovers with the wall clock standing still: the saved bound's lead must not grow by a
  // window per failover (the ratchet this design avoids).
  for (int round = 0; round < 50; ++round) {
    const session::Leadership leadership = Failover();
    TimestampOracle tso(client_.get(), kTsKey, Options());
    ASSERT_TRUE(tso.Recover(leadership, TestDeadline()).ok());
    ASSERT_TRUE(tso.Allocate(1, TestDeadline()).ok());
    EXPECT_LE(tso.LeadSeconds(), 3.0 + 0.001 * (round + 1)) << "round " << round;
  }
}

TEST_F(TsoTest, MonotonicTime_LogicalNeverOverflowsItRollsToTheNextMillisecond_S5) {
  const session::Leadership leadership = Failover();
  TimestampOracle tso(client_.get(), kTsKey, Options());
  ASSERT_TRUE(tso.Recover(leadership, TestDeadline()).ok());
  uint64_t last = 0;
  // Far more than one millisecond holds, with the clock standing still.
  for (int i = 0; i < 40; ++i) {
    auto ts = tso.Allocate(100'000, TestDeadline());
    ASSERT_TRUE(ts.ok()) << ts.status();
    ASSERT_GT(*ts, last);
    ASSERT_LE(LogicalOf(*ts) + 100'000, kMaxLogical) << "batch crosses a millisecond";
    last = *ts + 100'000 - 1;
  }
  EXPECT_GT(PhysicalOf(last), wall_ms_.load());
}

TEST_F(TsoTest, MonotonicTime_NeverIssuesAtOrPastTheSavedBound_S5) {
  const session::Leadership leadership = Failover();
  TimestampOracle tso(client_.get(), kTsKey, Options());
  ASSERT_TRUE(tso.Recover(leadership, TestDeadline()).ok());
  for (int i = 0; i < 30; ++i) {
    wall_ms_ += 500;  // time passes; Tick follows and saves ahead
    ASSERT_TRUE(tso.Tick(TestDeadline()).ok());
    auto ts = tso.Allocate(1, TestDeadline());
    ASSERT_TRUE(ts.ok());
    auto saved = client_->Get(kTsKey, TestDeadline());
    ASSERT_TRUE(saved.ok() && saved->has_value());
    EXPECT_LT(PhysicalOf(*ts), std::stoll((*saved)->value));
  }
}

TEST_F(TsoTest, OneWriter_DeposedTsoCannotMoveTheBound_S1) {
  const session::Leadership old = Failover();
  TimestampOracle old_tso(client_.get(), kTsKey, Options());
  ASSERT_TRUE(old_tso.Recover(old, TestDeadline()).ok());
  const session::Leadership current = Failover();
  TimestampOracle tso(client_.get(), kTsKey, Options());
  ASSERT_TRUE(tso.Recover(current, TestDeadline()).ok());
  const std::string bound = (*client_->Get(kTsKey, TestDeadline()))->value;

  wall_ms_ += 60'000;  // the old one needs a new window and tries to save it
  absl::Status refused = old_tso.Tick(TestDeadline());
  EXPECT_TRUE(session::IsFenced(refused)) << refused;
  EXPECT_FALSE(old_tso.Allocate(1, TestDeadline()).ok());
  EXPECT_EQ((*client_->Get(kTsKey, TestDeadline()))->value, bound);
}

TEST_F(TsoTest, UniqueIds_NeverRepeatAcrossFailovers) {
  std::set<int64_t> seen;
  for (int round = 0; round < 5; ++round) {
    const session::Leadership leadership = Failover();
    IdAllocator ids(client_.get(), kIdKey, {.window = 50});
    ASSERT_TRUE(ids.Recover(leadership, TestDeadline()).ok());
    for (int i = 0; i < 20; ++i) {
      auto range = ids.Allocate(1 + i % 9, TestDeadline());
      ASSERT_TRUE(range.ok()) << range.status();
      ASSERT_EQ(range->second - range->first, 1 + i % 9);
      for (int64_t id = range->first; id < range->second; ++id) {
        ASSERT_TRUE(seen.insert(id).second) << "ID " << id << " handed out twice";
      }
    }
  }
  EXPECT_EQ(*seen.begin(), 1);
}

}  // namespace
}  // namespace coordha::rootcoord
