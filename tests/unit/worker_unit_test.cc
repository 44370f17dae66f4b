// Unit tests of worker/: the Sync set semantics, S4 epoch fencing, epoch learning from active
// keys, and the simulated executor.
#include "worker/worker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "worker/epoch_watch.h"
#include "worker/executor.h"
#include "worker/worker_service.h"

namespace coordha::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kWorkerId = 7;

// Records every Start and Release; the test drives the reports.
class FakeExecutor final : public Executor {
 public:
  struct Log {
    Mutex mu;
    std::vector<std::string> started ABSL_GUARDED_BY(mu);           // "coordinator:id"
    std::vector<std::string> released ABSL_GUARDED_BY(mu);          // "coordinator:id"
    std::map<std::string, Reporter> reporters ABSL_GUARDED_BY(mu);  // the latest per key
  };
  explicit FakeExecutor(Log* log) : log_(log) {}

  void Start(const std::string& coordinator, const v1::WorkItem& item, Reporter report) override {
    MutexLock lock(&log_->mu);
    log_->started.push_back(coordinator + ":" + item.id());
    log_->reporters[coordinator + ":" + item.id()] = std::move(report);
  }
  void Release(const std::string& coordinator, const std::string& id) override {
    MutexLock lock(&log_->mu);
    log_->released.push_back(coordinator + ":" + id);
  }

 private:
  Log* const log_;
};

v1::SyncRequest Request(const std::string& coordinator, int64_t epoch,
                        const std::vector<std::string>& ids, int64_t worker_id = kWorkerId) {
  v1::SyncRequest request;
  request.set_coordinator(coordinator);
  request.set_server_id(1);
  request.set_epoch(epoch);
  request.set_worker_id(worker_id);
  for (const std::string& id : ids) request.add_items()->set_id(id);
  return request;
}

// id -> (state, epoch) of what the worker holds for `coordinator`.
std::map<std::string, std::pair<v1::ItemState, int64_t>> Held(const Worker& worker,
                                                              const std::string& coordinator) {
  std::map<std::string, std::pair<v1::ItemState, int64_t>> out;
  const v1::GetDistributionResponse distribution = worker.Distribution(coordinator);
  for (const v1::CoordinatorItems& c : distribution.coordinators()) {
    for (const v1::WorkItemStatus& item : c.items()) out[item.id()] = {item.state(), item.epoch()};
  }
  return out;
}

class WorkerTest : public ::testing::Test {
 protected:
  WorkerTest() : worker_("querynode", std::make_unique<FakeExecutor>(&log_)) {
    worker_.SetServerId(kWorkerId);
    worker_.MarkEpochsLearned();
    worker_.SetMayHoldWork(true, "");
  }

  std::vector<std::string> Started() {
    MutexLock lock(&log_.mu);
    return log_.started;
  }
  std::vector<std::string> Released() {
    MutexLock lock(&log_.mu);
    return log_.released;
  }
  void Report(const std::string& key, v1::ItemState state) {
    Reporter report;
    {
      MutexLock lock(&log_.mu);
      report = log_.reporters.at(key);
    }
    report(state, "");
  }

  FakeExecutor::Log log_;
  Worker worker_;
};

TEST_F(WorkerTest, Sync_AddsNewDropsUnlistedKeepsTheRest) {
  auto first = worker_.Sync(Request("querycoord", 5, {"channel/a", "segment/1"}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->server_id(), kWorkerId);
  ASSERT_EQ(first->items_size(), 2);
  EXPECT_EQ(first->items(0).state(), v1::ITEM_PENDING);
  EXPECT_EQ(first->items(0).epoch(), 5);
  EXPECT_THAT(Started(), ElementsAre("querycoord:channel/a", "querycoord:segment/1"));

  Report("querycoord:channel/a", v1::ITEM_READY);
  auto second = worker_.Sync(Request("querycoord", 5, {"channel/a", "segment/2"}));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->items_size(), 2);
  EXPECT_EQ(second->items(0).id(), "channel/a");
  EXPECT_EQ(second->items(0).state(), v1::ITEM_READY);  // kept as it was
  EXPECT_EQ(second->items(1).state(), v1::ITEM_PENDING);
  EXPECT_THAT(Released(), ElementsAre("querycoord:segment/1"));
  EXPECT_THAT(Started(),
              ElementsAre("querycoord:channel/a", "querycoord:segment/1", "querycoord:segment/2"));
  EXPECT_EQ(Held(worker_, "querycoord").count("segment/1"), 0u);

  // The same Sync again (the active repeats it every ~200 ms): nothing starts or stops.
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {"channel/a", "segment/2"})).ok());
  EXPECT_EQ(Started().size(), 3u);
  EXPECT_EQ(Released().size(), 1u);

  // An empty set drops everything.
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {})).ok());
  EXPECT_THAT(Held(worker_, "querycoord"), IsEmpty());
}

TEST_F(WorkerTest, Sync_CoordinatorsAreIndependent) {
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {"channel/a"})).ok());
  ASSERT_TRUE(worker_.Sync(Request("datacoord", 3, {"channel/a", "flush/9"})).ok());
  // datacoord's empty set does not touch querycoord's items.
  ASSERT_TRUE(worker_.Sync(Request("datacoord", 3, {})).ok());
  EXPECT_EQ(Held(worker_, "querycoord").size(), 1u);
  EXPECT_THAT(Held(worker_, "datacoord"), IsEmpty());
  EXPECT_THAT(Released(), UnorderedElementsAre("datacoord:channel/a", "datacoord:flush/9"));
}

TEST_F(WorkerTest, RefusesLowerEpoch_S4) {
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 6, {"channel/a"})).ok());
  auto refused = worker_.Sync(Request("querycoord", 5, {"segment/1"}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  const v1::ErrorDetail detail = RefusalDetail(refused.status());
  EXPECT_EQ(detail.code(), v1::FENCED);
  EXPECT_EQ(detail.epoch(), 6);
  // Nothing changed.
  EXPECT_THAT(Started(), ElementsAre("querycoord:channel/a"));
  EXPECT_THAT(Released(), IsEmpty());
  EXPECT_EQ(Held(worker_, "querycoord").size(), 1u);
  EXPECT_EQ(worker_.HighestEpoch("querycoord"), 6);
  EXPECT_EQ(worker_.Snapshot().at("querycoord").refused_syncs, 1);

  // The gRPC form carries the detail.
  const grpc::Status status = ToGrpcRefusal(refused.status());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::ErrorDetail parsed;
  ASSERT_TRUE(parsed.ParseFromString(status.error_details()));
  EXPECT_EQ(parsed.code(), v1::FENCED);
  EXPECT_EQ(parsed.epoch(), 6);
}

TEST_F(WorkerTest, HigherEpoch_KeepsItemsAndTheirAssigningEpoch_S4) {
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {"channel/a"})).ok());
  Report("querycoord:channel/a", v1::ITEM_READY);
  // A new active re-syncs what the old one assigned, plus one of its own.
  auto r = worker_.Sync(Request("querycoord", 9, {"channel/a", "segment/3"}));
  ASSERT_TRUE(r.ok()) << r.status();
  auto held = Held(worker_, "querycoord");
  EXPECT_EQ(held["channel/a"], std::make_pair(v1::ITEM_READY, int64_t{5}));
  EXPECT_EQ(held["segment/3"], std::make_pair(v1::ITEM_PENDING, int64_t{9}));
  EXPECT_EQ(Started().size(), 2u);
  EXPECT_EQ(worker_.HighestEpoch("querycoord"), 9);
  EXPECT_FALSE(worker_.Sync(Request("querycoord", 5, {})).ok());
}

TEST_F(WorkerTest, RaiseEpoch_FromEtcdRefusesAnOlderActive_S4) {
  worker_.RaiseEpoch("querycoord", 40);
  worker_.RaiseEpoch("querycoord", 12);  // never lowers
  EXPECT_EQ(worker_.HighestEpoch("querycoord"), 40);
  auto refused = worker_.Sync(Request("querycoord", 39, {"channel/a"}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(RefusalDetail(refused.status()).code(), v1::FENCED);
  EXPECT_TRUE(worker_.Sync(Request("querycoord", 40, {"channel/a"})).ok());
  EXPECT_TRUE(worker_.Sync(Request("datacoord", 1, {"flush/1"})).ok());  // other roles unaffected
}

TEST_F(WorkerTest, RefusesAnotherWorkersSync) {
  auto refused = worker_.Sync(Request("querycoord", 5, {"channel/a"}, kWorkerId + 1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RefusalDetail(refused.status()).code(), v1::SERVER_ID_MISMATCH);
  EXPECT_THAT(Started(), IsEmpty());
  EXPECT_EQ(worker_.HighestEpoch("querycoord"), 0);  // a misdirected Sync teaches nothing
}

TEST_F(WorkerTest, RejectsMalformedSyncs) {
  EXPECT_EQ(worker_.Sync(Request("rootcoord", 5, {})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(worker_.Sync(Request("querycoord", 0, {})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(worker_.Sync(Request("querycoord", 5, {"a", "a"})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(worker_.Sync(Request("querycoord", 5, {""})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Started(), IsEmpty());
}

TEST_F(WorkerTest, ReportOfAnEarlierAssignmentIsIgnored) {
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {"segment/1"})).ok());
  Reporter stale;
  {
    MutexLock lock(&log_.mu);
    stale = log_.reporters.at("querycoord:segment/1");
  }
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {})).ok());             // dropped
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {"segment/1"})).ok());  // assigned again
  stale(v1::ITEM_READY, "");
  EXPECT_EQ(Held(worker_, "querycoord")["segment/1"].first, v1::ITEM_PENDING);
  Report("querycoord:segment/1", v1::ITEM_READY);
  EXPECT_EQ(Held(worker_, "querycoord")["segment/1"].first, v1::ITEM_READY);
}

TEST(WorkerStartup, RefusesSyncsUntilRegisteredAndEpochsLearned) {
  FakeExecutor::Log log;
  Worker worker("datanode", std::make_unique<FakeExecutor>(&log));
  auto r = worker.Sync(Request("datacoord", 5, {"flush/1"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(RefusalDetail(r.status()).code(), v1::INITIALIZING);
  worker.SetServerId(kWorkerId);
  EXPECT_FALSE(worker.Sync(Request("datacoord", 5, {"flush/1"})).ok());
  EXPECT_FALSE(worker.AwaitEpochsLearned(Deadline::In(std::chrono::milliseconds(1))));
  worker.MarkEpochsLearned();
  EXPECT_TRUE(worker.AwaitEpochsLearned(Deadline::In(std::chrono::seconds(1))));
  // Its session key is not in etcd yet: no coordinator may count on it.
  EXPECT_EQ(RefusalDetail(worker.Sync(Request("datacoord", 5, {"flush/1"})).status()).code(),
            v1::INITIALIZING);
  worker.SetMayHoldWork(true, "");
  EXPECT_TRUE(worker.Sync(Request("datacoord", 5, {"flush/1"})).ok());
}

TEST_F(WorkerTest, LeaseLapse_ReleasesEverythingAndRefusesSyncs_S2) {
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {"channel/a", "segment/1"})).ok());
  ASSERT_TRUE(worker_.Sync(Request("datacoord", 6, {"channel/b"})).ok());
  // No renewal for TTL - serveGrant: stop everything before a coordinator can see this worker
  // gone and place its items elsewhere.
  worker_.SetMayHoldWork(false, "test: lease not renewed");
  EXPECT_THAT(Released(), UnorderedElementsAre("querycoord:channel/a", "querycoord:segment/1",
                                               "datacoord:channel/b"));
  EXPECT_THAT(Held(worker_, "querycoord"), IsEmpty());
  EXPECT_THAT(Held(worker_, "datacoord"), IsEmpty());
  auto refused = worker_.Sync(Request("querycoord", 5, {"channel/a"}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(RefusalDetail(refused.status()).code(), v1::INITIALIZING);
  EXPECT_THAT(Held(worker_, "querycoord"), IsEmpty());
  // The epochs seen are kept: a deposed active is still refused once work resumes.
  EXPECT_EQ(worker_.HighestEpoch("datacoord"), 6);
  // Renewed again: the active's next Sync starts the items anew.
  worker_.SetMayHoldWork(true, "");
  ASSERT_TRUE(worker_.Sync(Request("querycoord", 5, {"channel/a"})).ok());
  EXPECT_EQ(Held(worker_, "querycoord").count("channel/a"), 1u);
  EXPECT_EQ(worker_.Sync(Request("datacoord", 5, {"channel/b"})).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(EpochLearning, ActiveKeysAndMixcoord_S4) {
  EXPECT_THAT(RolesFencedByActiveKey("querycoord"), ElementsAre("querycoord"));
  EXPECT_THAT(RolesFencedByActiveKey("datacoord"), ElementsAre("datacoord"));
  EXPECT_THAT(RolesFencedByActiveKey("indexcoord"), ElementsAre("indexcoord"));
  EXPECT_THAT(RolesFencedByActiveKey("rootcoord"), ElementsAre("rootcoord"));
  EXPECT_THAT(RolesFencedByActiveKey("mixcoord"),
              ElementsAre("datacoord", "querycoord", "indexcoord"));
  EXPECT_THAT(RolesFencedByActiveKey("querycoord-3"), IsEmpty());
  EXPECT_THAT(RolesFencedByActiveKey("querynode-4"), IsEmpty());
  EXPECT_THAT(RolesFencedByActiveKey("id"), IsEmpty());
  EXPECT_THAT(RolesFencedByActiveKey(""), IsEmpty());
}

TEST(SimulatedExecutor, FinalStateByKind) {
  EXPECT_EQ(SimulatedFinalState("channel/by-dev-dml_0_1v0"), v1::ITEM_READY);
  EXPECT_EQ(SimulatedFinalState("segment/42"), v1::ITEM_READY);
  EXPECT_EQ(SimulatedFinalState("flush/42"), v1::ITEM_FINISHED);
  EXPECT_EQ(SimulatedFinalState("task/1/42/0"), v1::ITEM_FINISHED);
  EXPECT_EQ(SimulatedFinalState("something"), v1::ITEM_FAILED);
}

// Polls the worker (its state changes on the executor's thread) until `id` is in `state`.
bool AwaitItemState(const Worker& worker, const std::string& coordinator, const std::string& id,
                    v1::ItemState state, Deadline deadline) {
  while (!deadline.Expired()) {
    auto held = Held(worker, coordinator);
    if (held.count(id) != 0 && held[id].first == state) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the pace of the poll
  }
  return false;
}

TEST(SimulatedExecutor, ItemsReachReadyOrFinished) {
  Worker worker("querynode", std::make_unique<SimulatedExecutor>(std::chrono::milliseconds(20)));
  worker.SetServerId(kWorkerId);
  worker.MarkEpochsLearned();
  worker.SetMayHoldWork(true, "");
  ASSERT_TRUE(worker.Sync(Request("querycoord", 3, {"channel/a", "segment/1", "x"})).ok());
  ASSERT_TRUE(worker.Sync(Request("datacoord", 2, {"flush/1"})).ok());
  const Deadline deadline = Deadline::In(std::chrono::seconds(10));
  EXPECT_TRUE(AwaitItemState(worker, "querycoord", "channel/a", v1::ITEM_READY, deadline));
  EXPECT_TRUE(AwaitItemState(worker, "querycoord", "segment/1", v1::ITEM_READY, deadline));
  EXPECT_TRUE(AwaitItemState(worker, "querycoord", "x", v1::ITEM_FAILED, deadline));
  EXPECT_TRUE(AwaitItemState(worker, "datacoord", "flush/1", v1::ITEM_FINISHED, deadline));
}

TEST(SimulatedExecutor, ZeroDurationAndReleaseWhileRunning) {
  Worker worker("indexnode", std::make_unique<SimulatedExecutor>(Duration::zero()));
  worker.SetServerId(kWorkerId);
  worker.MarkEpochsLearned();
  worker.SetMayHoldWork(true, "");
  ASSERT_TRUE(worker.Sync(Request("indexcoord", 3, {"task/1/2/0"})).ok());
  EXPECT_TRUE(AwaitItemState(worker, "indexcoord", "task/1/2/0", v1::ITEM_FINISHED,
                             Deadline::In(std::chrono::seconds(10))));
  // A long task released before it ends: gone, and the destructor does not wait for it.
  Worker slow("indexnode", std::make_unique<SimulatedExecutor>(std::chrono::hours(1)));
  slow.SetServerId(kWorkerId);
  slow.MarkEpochsLearned();
  slow.SetMayHoldWork(true, "");
  ASSERT_TRUE(slow.Sync(Request("indexcoord", 3, {"task/1/3/0"})).ok());
  EXPECT_TRUE(AwaitItemState(slow, "indexcoord", "task/1/3/0", v1::ITEM_RUNNING,
                             Deadline::In(std::chrono::seconds(10))));
  ASSERT_TRUE(slow.Sync(Request("indexcoord", 3, {})).ok());
  EXPECT_THAT(Held(slow, "indexcoord"), IsEmpty());
}

}  // namespace
}  // namespace coordha::worker
