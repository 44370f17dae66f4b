// rootcoord through failovers: real rootcoord processes, real etcd, the real client, real signals.
//
// While callers allocate timestamps and IDs without pause, the active is killed (SIGKILL),
// stopped (SIGTERM) or frozen past its TTL (SIGSTOP) again and again. Timestamps must strictly
// increase for every caller and across failovers (S5), IDs must never repeat, and a DDL retried
// across a failover must apply exactly once.
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "client/client.h"
#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "rootcoord/schema.h"
#include "support/coordha_process.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Healthy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::Healthy; }
bool StandBy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::StandBy; }

// Failovers per kind; COORDHA_FAILOVER_ROUNDS overrides (the issue asks for 20).
int Rounds() {
  const char* env = std::getenv("COORDHA_FAILOVER_ROUNDS");
  return env != nullptr ? std::max(1, std::atoi(env)) : 20;
}

// Counts each caller's successful calls so the test can wait for all of them to make progress.
class Progress {
 public:
  explicit Progress(int callers) : counts_(callers, 0) {}
  void Done(int caller) {
    MutexLock lock(&mu_);
    ++counts_[caller];
    changed_.SignalAll();
  }
  std::vector<int64_t> Snapshot() {
    MutexLock lock(&mu_);
    return counts_;
  }
  // True once every caller completed a call after `since`, or one gave up (`failed`).
  bool AwaitEveryCallerPast(const std::vector<int64_t>& since, const std::atomic<bool>& failed,
                            Deadline deadline) {
    MutexLock lock(&mu_);
    return changed_.Await(
        &mu_,
        [&] {
          mu_.AssertHeld();
          if (failed.load()) return true;
          for (size_t i = 0; i < counts_.size(); ++i) {
            if (counts_[i] <= since[i]) return false;
          }
          return true;
        },
        deadline);
  }
  void Wake() { changed_.SignalAll(); }

 private:
  Mutex mu_;
  CondVar changed_;
  std::vector<int64_t> counts_ ABSL_GUARDED_BY(mu_);
};

class RootCoordFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    etcd_ = *std::move(cluster);
    for (int i = 0; i < 2; ++i) {
      auto p =
          CoordhaProcess::Start(CoordhaProcess::Options{.role = "rootcoord",
                                                        .etcd_endpoints = etcd_->ClientEndpoints(),
                                                        .dir = etcd_->dir(),
                                                        .ttl_seconds = 2,
                                                        .serve_grant = "500ms"});
      ASSERT_TRUE(p.ok()) << p.status();
      replicas_.push_back(*std::move(p));
    }
    client::ClientOptions options;
    options.etcd = OptionsFor(*etcd_);
    options.call_timeout = seconds(30);
    auto c = client::Client::Create(options);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
  }

  void TearDown() override {
    if (client_ != nullptr) client_->Stop();
  }

  // The replica answering Healthy, once exactly one does and the other is StandBy.
  CoordhaProcess* AwaitActive() {
    for (Deadline d = TestDeadline(); !d.Expired();) {
      CoordhaProcess* active = nullptr;
      int healthy = 0, standby = 0;
      for (auto& p : replicas_) {
        auto r = p->Query(Deadline::In(seconds(1)));
        if (!r.ok()) continue;
        if (Healthy(*r)) {
          ++healthy;
          active = p.get();
        } else if (StandBy(*r)) {
          ++standby;
        }
      }
      if (healthy == 1 && standby == 1) return active;
    }
    return nullptr;
  }

  // One failover of `kind`: the active goes away, the other takes over, the old one comes back
  // as standby.
  void Failover(int kind) {
    CoordhaProcess* active = AwaitActive();
    ASSERT_NE(active, nullptr);
    CoordhaProcess* other = active == replicas_[0].get() ? replicas_[1].get() : replicas_[0].get();
    switch (kind) {
      case SIGKILL:
      case SIGTERM:
        ASSERT_TRUE(active->Signal(kind).ok());
        ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
        ASSERT_TRUE(other->AwaitState(Healthy, TestDeadline())) << other->LogText();
        ASSERT_TRUE(active->Restart().ok());
        break;
      case SIGSTOP:
        ASSERT_TRUE(active->Signal(SIGSTOP).ok());
        ASSERT_TRUE(other->AwaitState(Healthy, TestDeadline())) << other->LogText();
        ASSERT_TRUE(active->Signal(SIGCONT).ok());
        break;
    }
    ASSERT_TRUE(active->AwaitState(StandBy, TestDeadline())) << active->LogText();
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<CoordhaProcess>> replicas_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(RootCoordFailoverTest, MonotonicTime_TimestampsIncreaseAndIdsNeverRepeatAcrossFailovers_S5) {
  ASSERT_NE(AwaitActive(), nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> timestamp_calls{0};
  std::vector<std::string> failures(5);
  std::vector<std::vector<uint64_t>> stamps(4);
  std::set<int64_t> ids;  // before join_all: the ID caller uses it until joined
  std::vector<std::thread> callers;
  // Stops and joins the callers however the test body ends (an ASSERT returns early).
  struct JoinAll {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinAll() {
      stop = true;
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_all{stop, callers};
  Progress progress(5);
  std::atomic<bool> any_failed{false};
  auto fail = [&](int caller, std::string why) {
    failures[caller] = std::move(why);
    any_failed = true;
    progress.Wake();
  };
  // Four timestamp callers: each one's timestamps strictly increase.
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      uint64_t last = 0;
      while (!stop.load()) {
        auto ts = client_->AllocTimestamp(1 + t);
        if (!ts.ok()) return fail(t, std::string(ts.status().message()));
        if (ts->first <= last) {
          return fail(t,
                      "timestamp " + std::to_string(ts->first) + " after " + std::to_string(last));
        }
        last = ts->first + ts->count - 1;
        for (uint32_t i = 0; i < ts->count; ++i) stamps[t].push_back(ts->at(i));
        ++timestamp_calls;
        progress.Done(t);
      }
    });
  }
  // One ID caller: no ID twice.
  callers.emplace_back([&] {
    while (!stop.load()) {
      auto range = client_->AllocID(3);
      if (!range.ok()) return fail(4, std::string(range.status().message()));
      for (int64_t id = range->begin; id < range->end; ++id) {
        if (!ids.insert(id).second) return fail(4, "ID " + std::to_string(id) + " twice");
      }
      progress.Done(4);
    }
  });

  // Failovers one after another, each once every caller has been served since the last one: the
  // callers see every failover, and a caller that never gets through fails the test.
  const int rounds = Rounds();
  for (int kind : {SIGKILL, SIGTERM, SIGSTOP}) {
    for (int i = 0; i < rounds && !HasFatalFailure() && !any_failed.load(); ++i) {
      const std::vector<int64_t> before = progress.Snapshot();
      Failover(kind);
      ASSERT_TRUE(progress.AwaitEveryCallerPast(before, any_failed, TestDeadline()));
    }
  }
  // A failed caller stopped the failovers; its reason is reported below, once all are joined.
  EXPECT_FALSE(any_failed.load());
  stop = true;
  for (auto& t : callers) t.join();  // JoinAll finds them joined
  for (const std::string& f : failures) EXPECT_EQ(f, "");
  // Every timestamp handed out, by any caller, is distinct.
  std::set<uint64_t> all;
  for (const auto& s : stamps)
    for (uint64_t ts : s) EXPECT_TRUE(all.insert(ts).second) << "timestamp " << ts << " twice";
  EXPECT_GT(timestamp_calls.load(), 0);
  EXPECT_GT(ids.size(), 0u);
  const client::ClientStats stats = client_->stats();
  std::printf("%d failovers x 3 kinds: %lld timestamp calls in %lld RPCs, %zu IDs, %lld retries\n",
              rounds, static_cast<long long>(stats.timestamp_calls),
              static_cast<long long>(stats.timestamp_rpcs), ids.size(),
              static_cast<long long>(stats.retries));
}

TEST_F(RootCoordFailoverTest, IdempotentDdl_CollectionCreatedBeforeFailoverExistsOnceAfterRetry) {
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  const std::string request_id = client::Client::NewRequestId();
  auto created = client_->CreateCollection("", rootcoord::QuickSchema("before_failover", 8), 2,
                                           client::CallOptions{.request_id = request_id});
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(active->Signal(SIGKILL).ok());

  // The client did not see the reply (say) and retries with the same request ID on the new
  // active: the create is not applied twice and the same collection ID comes back.
  auto retried = client_->CreateCollection("", rootcoord::QuickSchema("before_failover", 8), 2,
                                           client::CallOptions{.request_id = request_id});
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->replayed);
  EXPECT_EQ(retried->id, created->id);
  EXPECT_GT(retried->from.epoch, created->from.epoch);

  // L5: the new active describes it at once from its standby copy.
  auto described = client_->DescribeCollection("", "before_failover");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->value.collection_id(), created->id);
  EXPECT_EQ(described->value.virtual_channel_names_size(), 2);
  auto listed = client_->ListCollections("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(std::count(listed->value.begin(), listed->value.end(), "before_failover"), 1);

  // A fresh request ID for the same name is a real second create: ALREADY_EXISTS.
  auto again = client_->CreateCollection("", rootcoord::QuickSchema("before_failover", 8), 2);
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
}

}  // namespace
}  // namespace coordha::testing
