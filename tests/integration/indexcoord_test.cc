// indexcoord end to end: two real indexcoord replicas (active-standby), two real indexnodes, real
// etcd with datacoord's Flushed segments written into it directly (the key layout is the
// contract). CreateIndex must end with every task Finished exactly once — watched in the task
// records' whole etcd history — through a kill -9, SIGTERM or SIGSTOP of the active during the
// builds, and through the loss of an indexnode; a deposed active's command is refused by the
// indexnodes (S4). Tests await events by polling; they never sleep to synchronise.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "coordinator/gate.h"
#include "datacoord.pb.h"
#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "indexcoord.grpc.pb.h"
#include "support/coordha_process.h"
#include "worker.grpc.pb.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kMeta[] = "by-dev/meta";
constexpr int64_t kCollection = 100;

bool Healthy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::Healthy; }
bool StandBy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::StandBy; }

std::string TaskPrefix() { return absl::StrCat(kMeta, "/indexcoord/task/"); }
std::string AssignmentPrefix() { return absl::StrCat(kMeta, "/indexcoord/assignment/task/"); }
std::string TaskKey(int64_t index_id, int64_t segment) {
  return absl::StrCat(TaskPrefix(), index_id, "/", segment);
}

// Every Put of a task key since revision 1, in order.
class TaskHistory {
 public:
  void Start(etcd::Client* client) {
    etcd::WatchOptions options;
    options.prefix = true;
    options.start_revision = 1;
    etcd::Watcher::Callbacks callbacks;
    callbacks.on_events = [this](const std::vector<etcd::WatchEvent>& events) {
      MutexLock lock(&mu_);
      for (const etcd::WatchEvent& e : events) {
        if (e.type != etcd::WatchEvent::Type::kPut) continue;
        v1::SegmentIndexState state;
        EXPECT_TRUE(state.ParseFromString(e.kv.value)) << e.kv.key;
        puts_[e.kv.key].push_back(state);
      }
    };
    watcher_ = etcd::Watcher::Start(client, TaskPrefix(), options, std::move(callbacks));
  }
  void Stop() {
    if (watcher_ != nullptr) watcher_->Stop();
  }
  // True once every change up to `revision` was delivered.
  bool AwaitRevision(int64_t revision) {
    for (Deadline d = TestDeadline(); !d.Expired();) {
      if (watcher_->next_revision() > revision) return true;
      std::this_thread::sleep_for(milliseconds(10));  // the pace of the poll
    }
    return false;
  }
  std::map<std::string, std::vector<v1::SegmentIndexState>> Puts() {
    MutexLock lock(&mu_);
    return puts_;
  }

 private:
  Mutex mu_;
  std::map<std::string, std::vector<v1::SegmentIndexState>> puts_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<etcd::Watcher> watcher_;
};

class IndexCoordTest : public RealEtcdTest {
 protected:
  void SetUp() override {
    RealEtcdTest::SetUp();
    if (HasFatalFailure()) return;
    history_.Start(client_.get());
    for (int i = 0; i < 2; ++i) {
      auto p = CoordhaProcess::Start(
          CoordhaProcess::Options{.role = "indexcoord",
                                  .etcd_endpoints = cluster_->ClientEndpoints(),
                                  .dir = cluster_->dir(),
                                  .ttl_seconds = 2,
                                  .serve_grant = "500ms",
                                  .sets = {"indexCoord.enableActiveStandby=true"}});
      ASSERT_TRUE(p.ok()) << p.status();
      replicas_.push_back(*std::move(p));
    }
  }

  void TearDown() override { history_.Stop(); }

  void StartIndexNodes(const std::string& work_duration) {
    for (int i = 0; i < 2; ++i) {
      auto p = CoordhaProcess::Start(
          CoordhaProcess::Options{.role = "indexnode",
                                  .etcd_endpoints = cluster_->ClientEndpoints(),
                                  .dir = cluster_->dir(),
                                  .active_standby = false,
                                  .ttl_seconds = 2,
                                  .sets = {"indexNode.workDuration=" + work_duration}});
      ASSERT_TRUE(p.ok()) << p.status();
      ASSERT_TRUE(p.value()->AwaitState(Healthy, TestDeadline())) << p.value()->LogText();
      auto state = p.value()->Query(Deadline::In(seconds(5)));
      ASSERT_TRUE(state.ok()) << state.status();
      node_ids_.push_back(state->state().server_id());
      nodes_.push_back(*std::move(p));
    }
  }

  // datacoord's record of a segment, as datacoord writes it.
  void WriteSegment(int64_t id, v1::SegmentState state, int64_t collection = kCollection) {
    v1::SegmentInfo s;
    s.set_segment_id(id);
    s.set_collection_id(collection);
    s.set_channel("by-dev-rootcoord-dml_0_100v0");
    s.set_state(state);
    s.set_num_rows(1000);
    auto put = client_->Put(absl::StrCat(kMeta, "/datacoord/segment/", id), s.SerializeAsString());
    ASSERT_TRUE(put.ok()) << put.status();
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

  // Calls `method` on whichever replica is active, retrying the retriable refusals (UNAVAILABLE:
  // NOT_ACTIVE, INITIALIZING, FENCED, a failover in progress) until the test deadline.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (v1::IndexCoord::Stub::*method)(grpc::ClientContext*,
                                                                 const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::Status last;
    for (Deadline d = TestDeadline(); !d.Expired();) {
      for (size_t i = 0; i < replicas_.size(); ++i) {
        // The one that answered last first: a frozen (SIGSTOP) replica costs a timeout per call.
        const size_t which = (preferred_ + i) % replicas_.size();
        CoordhaProcess* p = replicas_[which].get();
        auto& stub = stubs_[p->address()];
        if (stub == nullptr) {
          stub = v1::IndexCoord::NewStub(
              grpc::CreateChannel(p->address(), grpc::InsecureChannelCredentials()));
        }
        grpc::ClientContext context;
        context.set_deadline(WallDeadlineIn(seconds(2)));
        response->Clear();
        last = ((*stub).*method)(&context, request, response);
        if (last.error_code() != grpc::StatusCode::UNAVAILABLE &&
            last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
          preferred_ = which;
          return last;
        }
      }
      std::this_thread::sleep_for(milliseconds(20));  // the pace of the retry
    }
    return last;
  }

  int64_t CreateIndex(const std::string& name = "vec_idx", v1::CreateIndexResponse* out = nullptr) {
    v1::CreateIndexRequest request;
    request.set_collection_id(kCollection);
    request.set_field_name("vec");
    request.set_index_name(name);
    (*request.mutable_params())["index_type"] = "HNSW";
    (*request.mutable_params())["M"] = "16";
    v1::CreateIndexResponse response;
    grpc::Status s = Call(&v1::IndexCoord::Stub::CreateIndex, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (out != nullptr) *out = response;
    return response.index_id();
  }

  v1::GetIndexStateResponse State(const std::string& name = "vec_idx") {
    v1::GetIndexStateRequest request;
    request.set_collection_id(kCollection);
    request.set_index_name(name);
    v1::GetIndexStateResponse response;
    grpc::Status s = Call(&v1::IndexCoord::Stub::GetIndexState, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  // Polls GetIndexState until every one of `total` tasks is Finished.
  bool AwaitAllFinished(int64_t total) {
    v1::GetIndexStateResponse last;
    for (Deadline d = TestDeadline(); !d.Expired();) {
      last = State();
      if (last.state() == v1::Finished && last.total_segments() == total &&
          last.finished_segments() == total) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(20));  // the pace of the poll
    }
    ADD_FAILURE() << "not all finished: " << last.DebugString();
    return false;
  }

  // The task records now (linearizable read), by key; *revision = the newest record's mod
  // revision (the watch of the task prefix sees no event past it, whatever else changed since).
  std::map<std::string, v1::SegmentIndexState> Tasks(int64_t* revision = nullptr) {
    etcd::RangeOptions all;
    all.prefix = true;
    auto read = client_->Range(TaskPrefix(), all, Deadline::In(seconds(5)));
    EXPECT_TRUE(read.ok()) << read.status();
    std::map<std::string, v1::SegmentIndexState> out;
    if (!read.ok()) return out;
    for (const etcd::KeyValue& kv : read->kvs) {
      EXPECT_TRUE(out[kv.key].ParseFromString(kv.value));
      if (revision != nullptr) *revision = std::max(*revision, kv.mod_revision);
    }
    return out;
  }

  // Placement records now: task key suffix "<index>/<segment>" -> worker.
  std::map<std::string, int64_t> Placements() {
    etcd::RangeOptions all;
    all.prefix = true;
    auto read = client_->Range(AssignmentPrefix(), all, Deadline::In(seconds(5)));
    EXPECT_TRUE(read.ok()) << read.status();
    std::map<std::string, int64_t> out;
    if (!read.ok()) return out;
    for (const etcd::KeyValue& kv : read->kvs) {
      out[kv.key.substr(AssignmentPrefix().size())] = std::stoll(kv.value);
    }
    return out;
  }

  // Every task of `index_id` over `segments` is Finished now, by a node in `nodes`, and its
  // record's history holds exactly one transition to Finished, with nothing written after it.
  void ExpectEachFinishedExactlyOnce(int64_t index_id, const std::vector<int64_t>& segments,
                                     const std::set<int64_t>& nodes) {
    int64_t revision = 0;
    std::map<std::string, v1::SegmentIndexState> tasks = Tasks(&revision);
    EXPECT_EQ(tasks.size(), segments.size());
    ASSERT_TRUE(history_.AwaitRevision(revision));
    std::map<std::string, std::vector<v1::SegmentIndexState>> puts = history_.Puts();
    for (int64_t segment : segments) {
      const std::string key = TaskKey(index_id, segment);
      ASSERT_TRUE(tasks.contains(key)) << key;
      const v1::SegmentIndexState& now = tasks[key];
      EXPECT_EQ(now.state(), v1::Finished) << key;
      EXPECT_EQ(now.segment_id(), segment);
      EXPECT_GE(now.attempt(), 1) << key;
      EXPECT_TRUE(nodes.contains(now.node_id())) << key << " built by " << now.node_id();
      const std::vector<v1::SegmentIndexState>& h = puts[key];
      int finished = 0;
      for (const auto& s : h) finished += s.state() == v1::Finished ? 1 : 0;
      EXPECT_EQ(finished, 1) << key << ": accepted " << finished << " times";
      ASSERT_FALSE(h.empty());
      EXPECT_EQ(h.back().state(), v1::Finished) << key << ": written after it finished";
    }
  }

  int64_t ServerId(CoordhaProcess* p) {
    auto r = p->Query(Deadline::In(seconds(5)));
    return r.ok() ? r->state().server_id() : 0;
  }

  // The other replica takes over after `signo` hits the active; `segments` more Flushed
  // segments appear after the failover; every task ends Finished exactly once.
  void FailoverDuringBuilds(int signo) {
    StartIndexNodes("2");
    if (HasFatalFailure()) return;
    std::vector<int64_t> segments;
    for (int64_t id = 1; id <= 12; ++id) {
      WriteSegment(id, v1::Flushed);
      segments.push_back(id);
    }
    WriteSegment(50, v1::Growing);  // no task for it
    CoordhaProcess* active = AwaitActive();
    ASSERT_NE(active, nullptr);
    CoordhaProcess* other = active == replicas_[0].get() ? replicas_[1].get() : replicas_[0].get();
    const int64_t index_id = CreateIndex();
    ASSERT_GT(index_id, 0);

    // During the builds: some task is in progress on an indexnode.
    bool building = false;
    for (Deadline d = TestDeadline(); !d.Expired() && !building;) {
      for (const auto& [key, s] : Tasks()) building |= s.state() == v1::InProgress;
      if (!building) std::this_thread::sleep_for(milliseconds(5));  // the pace of the poll
    }
    ASSERT_TRUE(building);

    ASSERT_TRUE(active->Signal(signo).ok());
    if (signo != SIGSTOP) {
      ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
    }
    ASSERT_TRUE(other->AwaitState(Healthy, TestDeadline())) << other->LogText();

    // New flushed segments after the failover get tasks from the new active.
    for (int64_t id = 13; id <= 16; ++id) {
      WriteSegment(id, v1::Flushed);
      segments.push_back(id);
    }
    ASSERT_TRUE(AwaitAllFinished(16));
    if (signo == SIGSTOP) {
      // The old active wakes up deposed: it must not write anything (its Txns fail the fence).
      ASSERT_TRUE(active->Signal(SIGCONT).ok());
      ASSERT_TRUE(active->AwaitState(StandBy, TestDeadline())) << active->LogText();
    }
    ExpectEachFinishedExactlyOnce(index_id, segments, {node_ids_[0], node_ids_[1]});
  }

  TaskHistory history_;
  std::vector<std::unique_ptr<CoordhaProcess>> replicas_;
  std::vector<std::unique_ptr<CoordhaProcess>> nodes_;
  std::vector<int64_t> node_ids_;
  std::map<std::string, std::unique_ptr<v1::IndexCoord::Stub>> stubs_;
  size_t preferred_ = 0;
};

TEST_F(IndexCoordTest, CreateIndex_EveryFlushedSegmentBuiltOnceAndDropRemovesTasks) {
  StartIndexNodes("0.2");
  ASSERT_FALSE(HasFatalFailure());
  std::vector<int64_t> segments;
  for (int64_t id = 1; id <= 6; ++id) {
    WriteSegment(id, v1::Flushed);
    segments.push_back(id);
  }
  WriteSegment(7, v1::Growing);
  WriteSegment(8, v1::Sealed);
  WriteSegment(9, v1::Flushed, /*collection=*/200);  // no index on 200
  ASSERT_NE(AwaitActive(), nullptr);

  // Validation and idempotency.
  {
    v1::CreateIndexRequest bad;
    bad.set_collection_id(kCollection);
    v1::CreateIndexResponse response;
    grpc::Status s = Call(&v1::IndexCoord::Stub::CreateIndex, bad, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find("field_name"), std::string::npos) << s.error_message();
  }
  v1::CreateIndexResponse first;
  const int64_t index_id = CreateIndex("vec_idx", &first);
  ASSERT_GT(index_id, 0);
  EXPECT_FALSE(first.existed());
  EXPECT_GT(first.header().epoch(), 0);
  v1::CreateIndexResponse again;
  EXPECT_EQ(CreateIndex("vec_idx", &again), index_id);
  EXPECT_TRUE(again.existed());
  {
    v1::CreateIndexRequest other;
    other.set_collection_id(kCollection);
    other.set_field_name("vec");
    other.set_index_name("vec_idx");
    (*other.mutable_params())["index_type"] = "IVF_FLAT";
    v1::CreateIndexResponse response;
    grpc::Status s = Call(&v1::IndexCoord::Stub::CreateIndex, other, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  }
  {
    v1::DescribeIndexRequest request;
    request.set_collection_id(kCollection);
    v1::DescribeIndexResponse response;
    ASSERT_TRUE(Call(&v1::IndexCoord::Stub::DescribeIndex, request, &response).ok());
    ASSERT_EQ(response.indexes_size(), 1);
    EXPECT_EQ(response.indexes(0).index_id(), index_id);
    EXPECT_EQ(response.indexes(0).params().at("index_type"), "HNSW");
  }

  ASSERT_TRUE(AwaitAllFinished(6));
  // A segment flushed later gets its task; a growing one that flushes too.
  WriteSegment(10, v1::Flushed);
  WriteSegment(7, v1::Flushed);
  segments.push_back(7);
  segments.push_back(10);
  ASSERT_TRUE(AwaitAllFinished(8));
  ExpectEachFinishedExactlyOnce(index_id, segments, {node_ids_[0], node_ids_[1]});
  // Finished tasks are released: no placement record remains.
  for (Deadline d = TestDeadline(); !d.Expired() && !Placements().empty();) {
    std::this_thread::sleep_for(milliseconds(20));  // the pace of the poll
  }
  EXPECT_TRUE(Placements().empty());

  // DropIndex: gone with its tasks; again is fine.
  for (int i = 0; i < 2; ++i) {
    v1::DropIndexRequest request;
    request.set_collection_id(kCollection);
    request.set_index_name("vec_idx");
    v1::DropIndexResponse response;
    grpc::Status s = Call(&v1::IndexCoord::Stub::DropIndex, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_TRUE(Tasks().empty());
  {
    v1::GetIndexStateRequest request;
    request.set_collection_id(kCollection);
    request.set_index_name("vec_idx");
    v1::GetIndexStateResponse response;
    grpc::Status s = Call(&v1::IndexCoord::Stub::GetIndexState, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  }
  // No task comes back for the dropped index when more segments flush.
  WriteSegment(11, v1::Flushed);
  // A new index of the same name gets a new id and builds everything again.
  const int64_t second = CreateIndex("vec_idx");
  EXPECT_NE(second, index_id);
  ASSERT_TRUE(AwaitAllFinished(9));
  for (const auto& [key, s] : Tasks()) {
    EXPECT_EQ(key.rfind(absl::StrCat(TaskPrefix(), second, "/"), 0), 0u) << key;
  }
}

TEST_F(IndexCoordTest, KillNineActiveDuringBuilds_EveryTaskFinishedExactlyOnce) {
  FailoverDuringBuilds(SIGKILL);
}

TEST_F(IndexCoordTest, SigtermActiveDuringBuilds_EveryTaskFinishedExactlyOnce) {
  FailoverDuringBuilds(SIGTERM);
}

TEST_F(IndexCoordTest, SigstopActiveDuringBuilds_EveryTaskFinishedExactlyOnce) {
  FailoverDuringBuilds(SIGSTOP);
}

TEST_F(IndexCoordTest, KillNineIndexNode_ItsTasksMoveToTheOtherAndFinish) {
  // Long builds, so the victim still has tasks running when it dies.
  StartIndexNodes("5");
  ASSERT_FALSE(HasFatalFailure());
  std::vector<int64_t> segments;
  for (int64_t id = 1; id <= 8; ++id) {
    WriteSegment(id, v1::Flushed);
    segments.push_back(id);
  }
  ASSERT_NE(AwaitActive(), nullptr);
  const int64_t index_id = CreateIndex();
  ASSERT_GT(index_id, 0);
  // Every task placed, on both indexnodes.
  std::map<std::string, int64_t> placed;
  for (Deadline d = TestDeadline(); !d.Expired();) {
    placed = Placements();
    std::set<int64_t> workers;
    for (const auto& [task, w] : placed) workers.insert(w);
    if (placed.size() == segments.size() && workers.size() == 2) break;
    std::this_thread::sleep_for(milliseconds(10));  // the pace of the poll
  }
  ASSERT_EQ(placed.size(), segments.size());
  const int64_t victim = node_ids_[0], survivor = node_ids_[1];
  std::set<std::string> victims_tasks;
  for (const auto& [task, w] : placed) {
    if (w == victim) victims_tasks.insert(absl::StrCat(TaskPrefix(), task));
  }
  ASSERT_FALSE(victims_tasks.empty());
  std::map<std::string, v1::SegmentIndexState> before = Tasks();
  ASSERT_TRUE(nodes_[0]->Signal(SIGKILL).ok());
  ASSERT_TRUE(nodes_[0]->process().WaitForExit(TestDeadline()).ok());

  ASSERT_TRUE(AwaitAllFinished(8));
  ExpectEachFinishedExactlyOnce(index_id, segments, {victim, survivor});
  int moved = 0;
  for (const auto& [key, s] : Tasks()) {
    if (!victims_tasks.contains(key)) continue;
    if (before[key].state() == v1::Finished) continue;  // done before the kill
    if (s.node_id() == victim) continue;                // its result was on its way when it died
    EXPECT_EQ(s.node_id(), survivor) << key;
    EXPECT_GE(s.attempt(), 2) << key;  // placed again: the attempt grew
    ++moved;
  }
  EXPECT_GT(moved, 0) << "no task of the killed indexnode was re-placed";
}

TEST_F(IndexCoordTest, DeposedActiveCommandRefusedByWorker_S4) {
  // Builds outlast the test, so what the workers hold does not change by itself.
  StartIndexNodes("600");
  ASSERT_FALSE(HasFatalFailure());
  for (int64_t id = 1; id <= 4; ++id) WriteSegment(id, v1::Flushed);
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  CoordhaProcess* other = active == replicas_[0].get() ? replicas_[1].get() : replicas_[0].get();
  v1::CreateIndexResponse created;
  ASSERT_GT(CreateIndex("vec_idx", &created), 0);
  const int64_t old_epoch = created.header().epoch();
  const int64_t old_server = created.header().server_id();
  ASSERT_GT(old_epoch, 0);

  auto stub = v1::Worker::NewStub(
      grpc::CreateChannel(nodes_[0]->address(), grpc::InsecureChannelCredentials()));
  auto distribution = [&](int64_t* highest_epoch) {
    v1::GetDistributionRequest request;
    request.set_coordinator("indexcoord");
    v1::GetDistributionResponse response;
    grpc::ClientContext context;
    context.set_deadline(WallDeadlineIn(seconds(5)));
    std::set<std::string> ids;
    if (!stub->GetDistribution(&context, request, &response).ok()) return ids;
    for (const v1::CoordinatorItems& c : response.coordinators()) {
      if (c.coordinator() != "indexcoord") continue;
      *highest_epoch = c.highest_epoch();
      for (const v1::WorkItemStatus& s : c.items()) ids.insert(s.id());
    }
    return ids;
  };

  ASSERT_TRUE(active->Signal(SIGKILL).ok());
  ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
  ASSERT_TRUE(other->AwaitState(Healthy, TestDeadline())) << other->LogText();
  v1::GetIndexStateResponse state = State();
  const int64_t new_epoch = state.header().epoch();
  ASSERT_GT(new_epoch, old_epoch);
  EXPECT_EQ(state.total_segments(), 4);

  // The indexnode has heard from the new active (or learned its epoch from etcd) and holds its
  // share of the builds.
  std::set<std::string> held;
  int64_t highest = 0;
  for (Deadline d = TestDeadline(); !d.Expired();) {
    held = distribution(&highest);
    if (highest >= new_epoch && !held.empty()) break;
    std::this_thread::sleep_for(milliseconds(10));  // the pace of the poll
  }
  ASSERT_GE(highest, new_epoch);
  ASSERT_FALSE(held.empty());

  // The deposed active's command: drop everything. Refused, and nothing changed.
  v1::SyncRequest request;
  request.set_coordinator("indexcoord");
  request.set_server_id(old_server);
  request.set_epoch(old_epoch);
  request.set_worker_id(node_ids_[0]);
  grpc::ClientContext context;
  context.set_deadline(WallDeadlineIn(seconds(5)));
  v1::SyncResponse response;
  grpc::Status refused = stub->Sync(&context, request, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_EQ(coordinator::DetailOf(refused).code(), v1::FENCED);
  int64_t after_epoch = 0;
  EXPECT_EQ(distribution(&after_epoch), held);
  EXPECT_EQ(after_epoch, highest);
}

}  // namespace
}  // namespace coordha::testing
