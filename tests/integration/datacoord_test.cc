// datacoord through failovers: real datacoord replicas and datanodes, a real rootcoord, real etcd,
// the real client, real signals (DESIGN.md §5; issue "datacoord, querycoord, indexcoord ...").
//
// While callers assign segment rows without pause, the active datacoord is killed (SIGKILL),
// stopped (SIGTERM) and frozen (SIGSTOP). Afterwards no row of any segment was handed out twice
// (S1: every grant is a fenced Txn on the segment's mod revision), every channel is watched by
// exactly one live datanode, flushes finish once, and a deposed active's command is refused by
// the datanodes (S4).
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "client/client.h"
#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "rootcoord/schema.h"
#include "support/coordha_process.h"
#include "worker.grpc.pb.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Healthy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::Healthy; }
bool StandBy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::StandBy; }

struct Grant {
  int64_t segment = 0;
  int64_t offset = 0;
  int64_t count = 0;
};

class DataCoordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    etcd_ = *std::move(cluster);
    auto etcd_client = etcd::Client::Connect(OptionsFor(*etcd_));
    ASSERT_TRUE(etcd_client.ok()) << etcd_client.status();
    kv_ = *std::move(etcd_client);
    auto root = Start("rootcoord", true);
    ASSERT_NE(root, nullptr);
    rootcoord_ = std::move(root);
    for (int i = 0; i < 2; ++i) {
      auto p = Start("datacoord", true, {"dataCoord.segment.maxRows=100"});
      ASSERT_NE(p, nullptr);
      replicas_.push_back(std::move(p));
    }
    for (int i = 0; i < 2; ++i) {
      auto p = Start("datanode", false);
      ASSERT_NE(p, nullptr);
      datanodes_.push_back(std::move(p));
    }
    client::ClientOptions options;
    options.etcd = OptionsFor(*etcd_);
    options.call_timeout = seconds(30);
    auto root_client = client::Client::Create(options);
    ASSERT_TRUE(root_client.ok()) << root_client.status();
    auto made = (*root_client)->CreateCollection("", rootcoord::QuickSchema("c", 8), 4);
    ASSERT_TRUE(made.ok()) << made.status();
    auto described = (*root_client)->DescribeCollection("", "c");
    ASSERT_TRUE(described.ok()) << described.status();
    collection_ = described->value.collection_id();
    for (const std::string& ch : described->value.virtual_channel_names()) channels_.push_back(ch);
    ASSERT_EQ(channels_.size(), 4u);
    (*root_client)->Stop();
    options.role = "datacoord";
    auto c = client::Client::Create(options);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
  }

  void TearDown() override {
    if (client_ != nullptr) client_->Stop();
    if (!HasFailure()) return;
    std::vector<CoordhaProcess*> all = {rootcoord_.get()};
    for (auto& p : replicas_) all.push_back(p.get());
    for (auto& p : datanodes_) all.push_back(p.get());
    for (CoordhaProcess* p : all) {
      if (p != nullptr)
        std::fprintf(stderr, "---- log of %s\n%s", p->address().c_str(), p->LogText().c_str());
    }
  }

  std::unique_ptr<CoordhaProcess> Start(const std::string& role, bool active_standby,
                                        std::vector<std::string> sets = {}) {
    auto p =
        CoordhaProcess::Start(CoordhaProcess::Options{.role = role,
                                                      .etcd_endpoints = etcd_->ClientEndpoints(),
                                                      .dir = etcd_->dir(),
                                                      .active_standby = active_standby,
                                                      .ttl_seconds = 3,
                                                      .serve_grant = "500ms",
                                                      .sets = std::move(sets)});
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

  absl::StatusOr<v1::GetDistributionResponse> Distribution(const CoordhaProcess& node) {
    auto stub = v1::Worker::NewStub(
        grpc::CreateChannel(node.address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(2));
    v1::GetDistributionRequest request;
    request.set_coordinator("datacoord");
    v1::GetDistributionResponse response;
    grpc::Status status = stub->GetDistribution(&context, request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return response;
  }

  // channel -> the datanodes (server IDs) that hold it, over the running datanodes.
  std::map<std::string, std::set<int64_t>> Holders() {
    std::map<std::string, std::set<int64_t>> out;
    for (auto& node : datanodes_) {
      if (!node->Running()) continue;
      auto d = Distribution(*node);
      if (!d.ok()) continue;
      for (const auto& c : d->coordinators()) {
        if (c.coordinator() != "datacoord") continue;
        for (const auto& item : c.items()) {
          if (item.id().starts_with("channel/") && item.state() == v1::ITEM_READY) {
            out[item.id().substr(8)].insert(d->server_id());
          }
        }
      }
    }
    return out;
  }

  // Every known channel held by exactly one running datanode (and the predicate on the counts).
  bool AwaitExactlyOneHolder(const std::function<bool(const std::map<int64_t, int>&)>& balance,
                             Deadline deadline) {
    while (!deadline.Expired()) {
      auto holders = Holders();
      bool ok = holders.size() == channels_.size();
      std::map<int64_t, int> per_node;
      for (const auto& [ch, nodes] : holders) {
        if (nodes.size() != 1) ok = false;
        for (int64_t n : nodes) ++per_node[n];
      }
      if (ok && balance(per_node)) return true;
      std::this_thread::sleep_for(milliseconds(50));  // poll interval
    }
    return false;
  }

  absl::StatusOr<Grant> AssignOnce(int caller, int i) {
    v1::AssignSegmentIDRequest request;
    auto* r = request.add_requests();
    r->set_collection_id(collection_);
    r->set_channel(channels_[(caller + i) % channels_.size()]);
    r->set_count(7);
    auto got = client_->AssignSegmentID(request);
    if (!got.ok()) return got.status();
    const auto& a = got->value.assignments(0);
    return Grant{a.segment_id(), a.row_offset(), a.count()};
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<etcd::Client> kv_;
  std::unique_ptr<CoordhaProcess> rootcoord_;
  std::vector<std::unique_ptr<CoordhaProcess>> replicas_;
  std::vector<std::unique_ptr<CoordhaProcess>> datanodes_;
  std::unique_ptr<client::Client> client_;
  int64_t collection_ = 0;
  std::vector<std::string> channels_;
};

TEST_F(DataCoordTest, SegmentRowsNeverHandedOutTwiceAcrossFailovers_S1) {
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int64_t> calls{0};
  Mutex mu;
  std::vector<Grant> grants;
  std::string first_error;
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&, c] {
      for (int i = 0; !stop.load(); ++i) {
        absl::StatusOr<Grant> g = AssignOnce(c, i);
        MutexLock lock(&mu);
        if (!g.ok()) {
          if (first_error.empty()) first_error = g.status().ToString();
          ++failures;
          continue;
        }
        grants.push_back(*g);
        ++calls;
      }
    });
  }
  auto await_calls = [&](int64_t more) {
    const int64_t target = calls.load() + more;
    for (Deadline d = TestDeadline(); !d.Expired() && calls.load() < target;) {
      std::this_thread::sleep_for(milliseconds(20));  // poll interval
    }
    return calls.load() >= target;
  };
  ASSERT_TRUE(await_calls(20));
  for (int kind : {SIGKILL, SIGTERM, SIGSTOP}) {
    CoordhaProcess* active = AwaitActive();
    ASSERT_NE(active, nullptr);
    CoordhaProcess* other = active == replicas_[0].get() ? replicas_[1].get() : replicas_[0].get();
    ASSERT_TRUE(active->Signal(kind).ok());
    ASSERT_TRUE(other->AwaitState(Healthy, TestDeadline())) << other->LogText();
    if (kind == SIGSTOP) {
      ASSERT_TRUE(active->Signal(SIGCONT).ok());
    } else {
      ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
      ASSERT_TRUE(active->Restart().ok());
    }
    ASSERT_TRUE(active->AwaitState(StandBy, TestDeadline())) << active->LogText();
    ASSERT_TRUE(await_calls(20)) << first_error;
  }
  stop = true;
  for (auto& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0) << first_error;

  // No row of any segment granted twice.
  std::map<int64_t, std::vector<std::pair<int64_t, int64_t>>> by_segment;
  for (const Grant& g : grants) by_segment[g.segment].push_back({g.offset, g.offset + g.count});
  for (auto& [segment, ranges] : by_segment) {
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
      EXPECT_LE(ranges[i - 1].second, ranges[i].first)
          << "segment " << segment << ": rows [" << ranges[i].first << ", " << ranges[i].second
          << ") granted twice";
    }
  }
  // At most one growing segment per channel, and segments sealed on the way (max 100 rows).
  v1::GetSegmentInfoRequest request;
  request.set_collection_id(collection_);
  auto segments = client_->GetSegmentInfo(request);
  ASSERT_TRUE(segments.ok()) << segments.status();
  std::map<std::string, int> growing;
  int sealed_or_flushed = 0;
  for (const auto& s : segments->value.segments()) {
    if (s.state() == v1::Growing) ++growing[s.channel()];
    if (s.state() == v1::Sealed || s.state() == v1::Flushed) ++sealed_or_flushed;
    EXPECT_LE(s.num_rows(), s.max_rows()) << "segment " << s.segment_id();
  }
  for (const auto& [ch, n] : growing) EXPECT_EQ(n, 1) << ch;
  EXPECT_GT(sealed_or_flushed, 0);
}

TEST_F(DataCoordTest, ChannelsOnExactlyOneLiveDatanodeAndMoveWhenOneDies) {
  for (int i = 0; i < 4; ++i) {
    auto g = AssignOnce(0, i);
    ASSERT_TRUE(g.ok()) << g.status();
  }
  auto both = [](const std::map<int64_t, int>& n) {
    return n.size() == 2 && n.begin()->second == 2 && n.rbegin()->second == 2;
  };
  ASSERT_TRUE(AwaitExactlyOneHolder(both, TestDeadline()));

  // Kill one datanode: its channels move to the other (once its session is gone).
  ASSERT_TRUE(datanodes_[0]->Signal(SIGKILL).ok());
  ASSERT_TRUE(datanodes_[0]->process().WaitForExit(TestDeadline()).ok());
  auto one = [](const std::map<int64_t, int>& n) { return n.size() == 1; };
  ASSERT_TRUE(AwaitExactlyOneHolder(one, TestDeadline()));

  // Bring it back: balance resumes.
  ASSERT_TRUE(datanodes_[0]->Restart().ok());
  ASSERT_TRUE(AwaitExactlyOneHolder(both, TestDeadline()));

  // A failover keeps every channel where it is or moves it, never doubles it.
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  ASSERT_TRUE(active->Signal(SIGKILL).ok());
  ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
  ASSERT_TRUE(AwaitExactlyOneHolder(both, TestDeadline()));
}

TEST_F(DataCoordTest, FlushSealsAndDatanodesFlushOnce) {
  for (int i = 0; i < 8; ++i) {
    auto g = AssignOnce(0, i);
    ASSERT_TRUE(g.ok()) << g.status();
  }
  v1::FlushRequest flush;
  flush.set_collection_id(collection_);
  auto sealed = client_->Flush(flush);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  ASSERT_EQ(sealed->value.sealed_segment_ids_size(), 4);
  // Every sealed segment becomes Flushed.
  bool flushed = false;
  for (Deadline d = TestDeadline(); !d.Expired() && !flushed;) {
    v1::GetSegmentInfoRequest request;
    request.set_collection_id(collection_);
    auto segments = client_->GetSegmentInfo(request);
    ASSERT_TRUE(segments.ok()) << segments.status();
    flushed = segments->value.segments_size() == 4;
    for (const auto& s : segments->value.segments()) flushed = flushed && s.state() == v1::Flushed;
    if (!flushed) std::this_thread::sleep_for(milliseconds(50));  // poll interval
  }
  EXPECT_TRUE(flushed);
  // New rows go to new segments.
  auto g = AssignOnce(0, 0);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_GT(g->segment, 4);
}

TEST_F(DataCoordTest, DeposedActiveCommandRefusedByWorker_S4) {
  ASSERT_TRUE(AssignOnce(0, 0).ok());
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  auto state = active->Query(Deadline::In(seconds(2)));
  ASSERT_TRUE(state.ok());
  const int64_t old_epoch = state->state().epoch();
  ASSERT_GT(old_epoch, 0);
  CoordhaProcess* other = active == replicas_[0].get() ? replicas_[1].get() : replicas_[0].get();
  ASSERT_TRUE(active->Signal(SIGKILL).ok());
  ASSERT_TRUE(other->AwaitState(Healthy, TestDeadline()));
  // The old epoch's command, sent straight to a datanode, changes nothing.
  auto d = Distribution(*datanodes_[0]);
  ASSERT_TRUE(d.ok()) << d.status();
  auto stub = v1::Worker::NewStub(
      grpc::CreateChannel(datanodes_[0]->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::SyncRequest sync;
  sync.set_coordinator("datacoord");
  sync.set_epoch(old_epoch);
  sync.set_worker_id(d->server_id());  // and no items: "drop everything"
  v1::SyncResponse response;
  grpc::Status refused = stub->Sync(&context, sync, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  v1::ErrorDetail detail;
  ASSERT_TRUE(detail.ParseFromString(refused.error_details()));
  EXPECT_EQ(detail.code(), v1::FENCED);
  EXPECT_GT(detail.epoch(), old_epoch);
  auto ids = [](const v1::GetDistributionResponse& r) {
    std::set<std::string> out;
    for (const auto& c : r.coordinators()) {
      for (const auto& item : c.items()) out.insert(c.coordinator() + ":" + item.id());
    }
    return out;
  };
  auto after = Distribution(*datanodes_[0]);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(ids(*after), ids(*d));
}

}  // namespace
}  // namespace coordha::testing
