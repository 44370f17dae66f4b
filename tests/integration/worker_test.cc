// Workers (querynode, datanode, indexnode) as real `coordha run` processes against real etcd:
// registration (non-exclusive sessions), epoch-fenced Syncs (S4), epochs learned from etcd's
// active keys after a restart, and the graceful stop. Tests await events (a Healthy answer, a
// distribution in some state, an exit) by polling the process; they never sleep to synchronise.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "config/config.h"
#include "coordha.grpc.pb.h"
#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/coordha_process.h"
#include "worker.grpc.pb.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kSessionPrefix[] = "by-dev/meta/session/";

bool Healthy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::Healthy; }

class WorkerTest : public RealEtcdTest {
 protected:
  CoordhaProcess* StartWorker(const std::string& role = "querynode") {
    auto p = CoordhaProcess::Start(CoordhaProcess::Options{
        .role = role,
        .etcd_endpoints = cluster_->ClientEndpoints(),
        .dir = cluster_->dir(),
        .active_standby = false,
        .sets = {config::RoleKeyPrefix(*config::ParseRole(role)) + ".workDuration=0.05"}});
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    processes_.push_back(*std::move(p));
    return processes_.back().get();
  }

  // Waits until `p` answers Healthy; returns its server ID (0 on timeout).
  int64_t AwaitRegistered(CoordhaProcess* p) {
    if (!p->AwaitState(Healthy, TestDeadline())) {
      ADD_FAILURE() << "never Healthy:\n" << p->LogText();
      return 0;
    }
    auto r = p->Query(Deadline::In(seconds(5)));
    return r.ok() ? r->state().server_id() : 0;
  }

  std::unique_ptr<v1::Worker::Stub> Stub(const CoordhaProcess* p) {
    return v1::Worker::NewStub(
        grpc::CreateChannel(p->address(), grpc::InsecureChannelCredentials()));
  }

  static grpc::Status Sync(v1::Worker::Stub& stub, int64_t worker_id, int64_t epoch,
                           const std::vector<std::string>& ids,
                           const std::string& coordinator = "querycoord",
                           v1::SyncResponse* response = nullptr) {
    v1::SyncRequest request;
    request.set_coordinator(coordinator);
    request.set_server_id(100);
    request.set_epoch(epoch);
    request.set_worker_id(worker_id);
    for (const std::string& id : ids) request.add_items()->set_id(id);
    grpc::ClientContext context;
    context.set_deadline(WallDeadlineIn(seconds(5)));
    v1::SyncResponse ignored;
    return stub.Sync(&context, request, response != nullptr ? response : &ignored);
  }

  // id -> state of what the worker holds for `coordinator`; empty on an RPC error.
  static std::map<std::string, v1::ItemState> Distribution(
      v1::Worker::Stub& stub, const std::string& coordinator = "querycoord",
      int64_t* highest_epoch = nullptr) {
    v1::GetDistributionRequest request;
    request.set_coordinator(coordinator);
    v1::GetDistributionResponse response;
    grpc::ClientContext context;
    context.set_deadline(WallDeadlineIn(seconds(5)));
    std::map<std::string, v1::ItemState> out;
    if (!stub.GetDistribution(&context, request, &response).ok()) return out;
    for (const v1::CoordinatorItems& c : response.coordinators()) {
      if (highest_epoch != nullptr) *highest_epoch = c.highest_epoch();
      for (const v1::WorkItemStatus& item : c.items()) out[item.id()] = item.state();
    }
    return out;
  }

  // Polls GetDistribution until it equals `want` or the deadline passes.
  static bool AwaitDistribution(v1::Worker::Stub& stub,
                                const std::map<std::string, v1::ItemState>& want) {
    for (Deadline d = TestDeadline(); !d.Expired();) {
      if (Distribution(stub) == want) return true;
      std::this_thread::sleep_for(milliseconds(10));  // the pace of the poll
    }
    return false;
  }

  std::optional<etcd::KeyValue> GetKey(const std::string& key) {
    auto kv = client_->Get(key, Deadline::In(seconds(5)));
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() ? *kv : std::nullopt;
  }

  std::vector<std::unique_ptr<CoordhaProcess>> processes_;
};

TEST_F(WorkerTest, QuerynodeRegistersNonExclusiveSessionAndAnswersHealthy) {
  CoordhaProcess* p = StartWorker();
  ASSERT_NE(p, nullptr);
  const int64_t id = AwaitRegistered(p);
  ASSERT_NE(id, 0);
  auto state = p->Query(Deadline::In(seconds(5)));
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->state().role(), "querynode");
  EXPECT_EQ(state->state().address(), p->address());

  std::optional<etcd::KeyValue> kv = GetKey(absl::StrCat(kSessionPrefix, "querynode-", id));
  ASSERT_TRUE(kv.has_value()) << "no session key for server " << id;
  EXPECT_NE(kv->lease, 0);
  nlohmann::json j = nlohmann::json::parse(kv->value);
  EXPECT_EQ(j["ServerID"], id);
  EXPECT_EQ(j["ServerName"], "querynode");
  EXPECT_EQ(j["Address"], p->address());
  EXPECT_EQ(j["Exclusive"], false);
  EXPECT_EQ(j["State"], "Healthy");
  EXPECT_EQ(j["Pid"], p->pid());
  // Workers have no active key.
  EXPECT_FALSE(GetKey(absl::StrCat(kSessionPrefix, "querynode")).has_value());

  auto ready = p->HttpGet("/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->first, 200);
  auto status = p->HttpGet("/status");
  ASSERT_TRUE(status.ok()) << status.status();
  nlohmann::json s = nlohmann::json::parse(status->second);
  EXPECT_EQ(s["role"], "querynode");
  EXPECT_EQ(s["serverId"], id);

  // `coordha status` shows it as a worker row.
  auto table = RunCoordha({"status", "--set", "etcd.endpoints=" + cluster_->ClientEndpoint(0)},
                          TestDeadline());
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(absl::StrContains(table->out, "worker")) << table->out;
}

TEST_F(WorkerTest, SyncedItemsReachTheirStateAndUnlistedOnesAreDropped) {
  CoordhaProcess* p = StartWorker();
  ASSERT_NE(p, nullptr);
  const int64_t id = AwaitRegistered(p);
  ASSERT_NE(id, 0);
  auto stub = Stub(p);
  v1::SyncResponse response;
  grpc::Status s =
      Sync(*stub, id, 5, {"channel/c1", "segment/1", "segment/2"}, "querycoord", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.server_id(), id);
  EXPECT_EQ(response.items_size(), 3);
  ASSERT_TRUE(AwaitDistribution(*stub, {{"channel/c1", v1::ITEM_READY},
                                        {"segment/1", v1::ITEM_READY},
                                        {"segment/2", v1::ITEM_READY}}))
      << p->LogText();

  s = Sync(*stub, id, 5, {"channel/c1", "segment/2"});
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Distribution(*stub),
            (std::map<std::string, v1::ItemState>{{"channel/c1", v1::ITEM_READY},
                                                  {"segment/2", v1::ITEM_READY}}));

  auto metrics = p->HttpGet("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_TRUE(absl::StrContains(
      metrics->second,
      R"(coordha_worker_items{coordinator="querycoord",role="querynode",state="ready"} 2)"))
      << metrics->second;
}

TEST_F(WorkerTest, WorkerRefusesLowerEpoch_S4) {
  CoordhaProcess* p = StartWorker();
  ASSERT_NE(p, nullptr);
  const int64_t id = AwaitRegistered(p);
  ASSERT_NE(id, 0);
  auto stub = Stub(p);
  ASSERT_TRUE(Sync(*stub, id, 6, {"segment/1"}).ok());
  ASSERT_TRUE(AwaitDistribution(*stub, {{"segment/1", v1::ITEM_READY}}));

  grpc::Status refused = Sync(*stub, id, 5, {"segment/9"});
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::ErrorDetail detail;
  ASSERT_TRUE(detail.ParseFromString(refused.error_details()));
  EXPECT_EQ(detail.code(), v1::FENCED);
  EXPECT_EQ(detail.epoch(), 6);
  // Nothing changed.
  int64_t highest = 0;
  EXPECT_EQ(Distribution(*stub, "querycoord", &highest),
            (std::map<std::string, v1::ItemState>{{"segment/1", v1::ITEM_READY}}));
  EXPECT_EQ(highest, 6);

  // A Sync meant for another worker is refused too.
  grpc::Status mismatch = Sync(*stub, id + 1000, 6, {});
  EXPECT_EQ(mismatch.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(detail.ParseFromString(mismatch.error_details()));
  EXPECT_EQ(detail.code(), v1::SERVER_ID_MISMATCH);

  auto metrics = p->HttpGet("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_TRUE(absl::StrContains(
      metrics->second,
      R"(coordha_sync_refused_total{coordinator="querycoord",role="querynode"} 1)"))
      << metrics->second;
}

TEST_F(WorkerTest, WorkerLearnsEpochFromEtcd_S4) {
  CoordhaProcess* p = StartWorker();
  ASSERT_NE(p, nullptr);
  ASSERT_NE(AwaitRegistered(p), 0);
  // A querycoord active key appears: its CreateRevision is the epoch.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client_->Put("filler", "x").ok());
  auto put = client_->Put(absl::StrCat(kSessionPrefix, "querycoord"),
                          R"({"ServerID": 99, "ServerName": "querycoord", "State": "Healthy"})");
  ASSERT_TRUE(put.ok()) << put.status();
  const int64_t epoch = put->revision;  // a fresh key: create revision == this revision
  std::optional<etcd::KeyValue> kv = GetKey(absl::StrCat(kSessionPrefix, "querycoord"));
  ASSERT_TRUE(kv.has_value());
  ASSERT_EQ(kv->create_revision, epoch);

  // Restart (kill -9): the new process has never been synced, yet refuses an older epoch.
  ASSERT_TRUE(p->Signal(SIGKILL).ok());
  ASSERT_TRUE(p->process().WaitForExit(TestDeadline()).ok());
  ASSERT_TRUE(p->Restart().ok());
  const int64_t id = AwaitRegistered(p);
  ASSERT_NE(id, 0);
  auto stub = Stub(p);
  grpc::Status refused = Sync(*stub, id, epoch - 1, {"segment/1"});
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  v1::ErrorDetail detail;
  ASSERT_TRUE(detail.ParseFromString(refused.error_details()));
  EXPECT_EQ(detail.code(), v1::FENCED);
  EXPECT_EQ(detail.epoch(), epoch);
  EXPECT_TRUE(Distribution(*stub).empty());
  EXPECT_TRUE(Sync(*stub, id, epoch, {"segment/1"}).ok());

  // While running: a mixcoord active key fences datacoord (and querycoord, indexcoord) too.
  auto mix = client_->Put(absl::StrCat(kSessionPrefix, "mixcoord"), R"({"ServerID": 98})");
  ASSERT_TRUE(mix.ok()) << mix.status();
  bool fenced = false;
  for (Deadline d = TestDeadline(); !d.Expired() && !fenced;) {
    grpc::Status s = Sync(*stub, id, mix->revision - 1, {}, "datacoord");
    fenced = s.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
    if (!fenced) std::this_thread::sleep_for(milliseconds(10));  // the watch is asynchronous
  }
  EXPECT_TRUE(fenced);
  EXPECT_EQ(Sync(*stub, id, mix->revision - 1, {}, "querycoord").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Sync(*stub, id, mix->revision, {}, "indexcoord").ok());
}

TEST_F(WorkerTest, SigtermRemovesTheSessionAndExitsZero) {
  CoordhaProcess* p = StartWorker("datanode");
  ASSERT_NE(p, nullptr);
  const int64_t id = AwaitRegistered(p);
  ASSERT_NE(id, 0);
  const std::string key = absl::StrCat(kSessionPrefix, "datanode-", id);
  ASSERT_TRUE(GetKey(key).has_value());
  ASSERT_TRUE(p->Signal(SIGTERM).ok());
  auto exited = p->process().WaitForExit(TestDeadline());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0) << DescribeWaitStatus(*exited);
  // The lease was revoked at once, not left to expire.
  EXPECT_FALSE(GetKey(key).has_value()) << p->LogText();
}

TEST_F(WorkerTest, TwoWorkersOfOneRoleRunSideBySide) {
  CoordhaProcess* a = StartWorker("indexnode");
  CoordhaProcess* b = StartWorker("indexnode");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const int64_t id_a = AwaitRegistered(a);
  const int64_t id_b = AwaitRegistered(b);
  ASSERT_NE(id_a, 0);
  ASSERT_NE(id_b, 0);
  EXPECT_NE(id_a, id_b);
  EXPECT_TRUE(GetKey(absl::StrCat(kSessionPrefix, "indexnode-", id_a)).has_value());
  EXPECT_TRUE(GetKey(absl::StrCat(kSessionPrefix, "indexnode-", id_b)).has_value());
  EXPECT_TRUE(a->Running());
  EXPECT_TRUE(b->Running());
  auto stub = Stub(b);
  ASSERT_TRUE(Sync(*stub, id_b, 1, {"task/1/2/0"}, "indexcoord").ok());
  bool finished = false;
  for (Deadline d = TestDeadline(); !d.Expired() && !finished;) {
    finished = Distribution(*stub, "indexcoord") ==
               std::map<std::string, v1::ItemState>{{"task/1/2/0", v1::ITEM_FINISHED}};
    if (!finished) std::this_thread::sleep_for(milliseconds(10));  // the pace of the poll
  }
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace coordha::testing
