// mixcoord: rootcoord, datacoord, querycoord and indexcoord in one process under one election
// (issue "datacoord, querycoord, indexcoord ..."; DESIGN.md §2). Real etcd, real processes, real
// signals.
//
// Two mixcoord replicas and one of each worker. The active is killed (SIGKILL) in the middle of
// the work; the standby takes all four roles over at once: timestamps keep rising (S5), no segment
// ID comes back (S1), the loaded collection stays loaded and the index finishes. A separate
// coordinator refuses to start while a mixcoord is active over the same rootPath, and the other way
// round: two layouts over one state would be two writers with separate epochs.
#include <signal.h>
#include <sys/wait.h>

#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

class MixCoordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    etcd_ = *std::move(cluster);
    for (int i = 0; i < 2; ++i) {
      auto p = Start("mixcoord", true);
      ASSERT_NE(p, nullptr);
      replicas_.push_back(std::move(p));
    }
    for (const char* role : {"querynode", "datanode", "indexnode"}) {
      auto p = Start(role, false,
                     {"queryNode.workDuration=0.05", "dataNode.workDuration=0.05",
                      "indexNode.workDuration=0.05"});
      ASSERT_NE(p, nullptr);
      workers_.push_back(std::move(p));
    }
    client::ClientOptions options;
    options.etcd = OptionsFor(*etcd_);
    options.role = "mixcoord";
    options.call_timeout = seconds(30);
    auto c = client::Client::Create(options);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
  }

  void TearDown() override {
    if (client_ != nullptr) client_->Stop();
    if (!HasFailure()) return;
    for (auto* group : {&replicas_, &workers_}) {
      for (auto& p : *group) {
        std::fprintf(stderr, "---- log of %s %s\n%s", p->options().role.c_str(),
                     p->address().c_str(), p->LogText().c_str());
      }
    }
  }

  std::unique_ptr<CoordhaProcess> Start(const std::string& role, bool active_standby,
                                        std::vector<std::string> sets = {},
                                        const std::string& root_path = "") {
    auto p =
        CoordhaProcess::Start(CoordhaProcess::Options{.role = role,
                                                      .etcd_endpoints = etcd_->ClientEndpoints(),
                                                      .dir = etcd_->dir(),
                                                      .active_standby = active_standby,
                                                      .ttl_seconds = 3,
                                                      .serve_grant = "500ms",
                                                      .sets = std::move(sets),
                                                      .root_path = root_path});
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return nullptr;
    }
    return *std::move(p);
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
      std::this_thread::sleep_for(milliseconds(20));  // poll interval
    }
    return nullptr;
  }

  // Polls `done` (a call to the active) until it holds or the test deadline passes.
  static bool Await(const std::function<bool()>& done) {
    for (Deadline d = TestDeadline(); !d.Expired();) {
      if (done()) return true;
      std::this_thread::sleep_for(milliseconds(50));  // poll interval
    }
    return false;
  }

  int64_t AssignSegment(const std::string& channel) {
    v1::AssignSegmentIDRequest request;
    auto* r = request.add_requests();
    r->set_collection_id(collection_);
    r->set_channel(channel);
    r->set_count(10);
    auto got = client_->AssignSegmentID(request);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? got->value.assignments(0).segment_id() : 0;
  }

  bool Loaded() {
    v1::GetLoadStateRequest request;
    request.set_collection_id(collection_);
    auto got = client_->GetLoadState(request);
    return got.ok() && got->value.state() == v1::LoadStateLoaded;
  }

  bool IndexFinished(int64_t segments) {
    v1::GetIndexStateRequest request;
    request.set_collection_id(collection_);
    auto got = client_->GetIndexState(request);
    return got.ok() && got->value.state() == v1::Finished &&
           got->value.finished_segments() == segments;
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<CoordhaProcess>> replicas_;
  std::vector<std::unique_ptr<CoordhaProcess>> workers_;
  std::unique_ptr<client::Client> client_;
  int64_t collection_ = 0;
};

TEST_F(MixCoordTest, KillNineActive_StandbyServesAllFourRoles) {
  // rootcoord's part: a collection with two shards, and a timestamp.
  auto made = client_->CreateCollection("", rootcoord::QuickSchema("c", 8), 2);
  ASSERT_TRUE(made.ok()) << made.status();
  auto described = client_->DescribeCollection("", "c");
  ASSERT_TRUE(described.ok()) << described.status();
  collection_ = described->value.collection_id();
  const std::string channel = described->value.virtual_channel_names(0);
  auto ts_before = client_->AllocTimestamp();
  ASSERT_TRUE(ts_before.ok()) << ts_before.status();

  // datacoord's: a segment, flushed by the datanode. querycoord's: the collection loaded.
  // indexcoord's: an index built on the flushed segment.
  std::set<int64_t> segments = {AssignSegment(channel)};
  v1::FlushRequest flush;
  flush.set_collection_id(collection_);
  ASSERT_TRUE(client_->Flush(flush).ok());
  v1::LoadCollectionRequest load;
  load.set_collection_id(collection_);
  ASSERT_TRUE(client_->LoadCollection(load).ok());
  v1::CreateIndexRequest index;
  index.set_collection_id(collection_);
  index.set_field_name("vec");
  index.set_index_name("idx");
  ASSERT_TRUE(client_->CreateIndex(index).ok());
  ASSERT_TRUE(Await([&] { return Loaded() && IndexFinished(1); }));

  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  const int64_t old_epoch = client_->known_epoch();
  CoordhaProcess* other = active == replicas_[0].get() ? replicas_[1].get() : replicas_[0].get();
  ASSERT_TRUE(active->Signal(SIGKILL).ok());
  ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
  ASSERT_TRUE(other->AwaitState(Healthy, TestDeadline())) << other->LogText();

  // The new active answers for all four, from the state the old one left.
  auto ts_after = client_->AllocTimestamp();
  ASSERT_TRUE(ts_after.ok()) << ts_after.status();
  EXPECT_GT(ts_after->first, ts_before->first);  // S5
  EXPECT_GT(client_->known_epoch(), old_epoch);
  auto again = client_->DescribeCollection("", "c");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->value.collection_id(), collection_);
  const int64_t next = AssignSegment(channel);
  EXPECT_FALSE(segments.contains(next)) << "segment " << next << " handed out twice";  // S1
  segments.insert(next);
  ASSERT_TRUE(client_->Flush(flush).ok());
  EXPECT_TRUE(Loaded());
  // The segment flushed after the failover gets its index built too.
  EXPECT_TRUE(Await([&] { return IndexFinished(2); }));

  // The killed replica comes back as the standby.
  ASSERT_TRUE(active->Restart().ok());
  EXPECT_TRUE(active->AwaitState(StandBy, TestDeadline())) << active->LogText();
}

TEST_F(MixCoordTest, SeparateCoordinatorRefusedWhileMixcoordActive) {
  ASSERT_NE(AwaitActive(), nullptr);
  auto datacoord = Start("datacoord", true);
  ASSERT_NE(datacoord, nullptr);
  absl::StatusOr<int> exited = datacoord->process().WaitForExit(TestDeadline());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 1) << *exited;
  EXPECT_NE(datacoord->LogText().find("mixcoord is active"), std::string::npos)
      << datacoord->LogText();
}

TEST_F(MixCoordTest, MixcoordRefusedWhileSeparateCoordinatorActive) {
  // Another rootPath: a separate rootcoord holds its role there.
  auto rootcoord = Start("rootcoord", true, {}, "other");
  ASSERT_NE(rootcoord, nullptr);
  ASSERT_TRUE(rootcoord->AwaitState(Healthy, TestDeadline())) << rootcoord->LogText();
  auto mix = Start("mixcoord", true, {}, "other");
  ASSERT_NE(mix, nullptr);
  absl::StatusOr<int> exited = mix->process().WaitForExit(TestDeadline());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 1) << *exited;
  EXPECT_NE(mix->LogText().find("rootcoord is active"), std::string::npos) << mix->LogText();
}

}  // namespace
}  // namespace coordha::testing
