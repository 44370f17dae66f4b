// Active-standby with real `coordha run` processes, real etcd and real signals.
//
// Each test names the rule it checks: S1–S3, S6, L1, L3, exclusive mode. Tests await events
// (a process answering Healthy, an exit); how fast things happen is measured by the benchmarks,
// not asserted here.
#include <signal.h>

#include <set>

#include "absl/strings/str_split.h"
#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/coordha_process.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Healthy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::Healthy; }
bool StandBy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::StandBy; }

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    etcd_ = *std::move(cluster);
  }

  CoordhaProcess::Options Options(const std::string& role = "rootcoord") {
    return CoordhaProcess::Options{
        .role = role, .etcd_endpoints = etcd_->ClientEndpoints(), .dir = etcd_->dir()};
  }

  CoordhaProcess* Start(CoordhaProcess::Options options) {
    auto p = CoordhaProcess::Start(std::move(options));
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    processes_.push_back(*std::move(p));
    return processes_.back().get();
  }

  // The processes answering Healthy right now.
  std::vector<CoordhaProcess*> ServingActives() {
    std::vector<CoordhaProcess*> out;
    for (auto& p : processes_) {
      if (p->IsServingActive(Deadline::In(seconds(1)))) out.push_back(p.get());
    }
    return out;
  }

  // Waits until exactly one process answers Healthy and every other live one StandBy.
  CoordhaProcess* AwaitOneActive(const std::vector<CoordhaProcess*>& live) {
    for (Deadline d = TestDeadline(); !d.Expired();) {
      CoordhaProcess* active = nullptr;
      int actives = 0, standbys = 0;
      for (CoordhaProcess* p : live) {
        auto r = p->Query(Deadline::In(seconds(1)));
        if (!r.ok()) continue;
        if (Healthy(*r)) {
          ++actives;
          active = p;
        } else if (StandBy(*r)) {
          ++standbys;
        }
      }
      if (actives == 1 && actives + standbys == static_cast<int>(live.size())) return active;
    }
    return nullptr;
  }

  // `coordha status --json` against this etcd.
  nlohmann::json StatusJson() {
    auto r = RunCoordha({"status", "--json", "--set", "etcd.endpoints=" + etcd_->ClientEndpoint(0)},
                        TestDeadline());
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    EXPECT_TRUE(r->succeeded()) << r->DescribeExit() << r->err;
    return nlohmann::json::parse(r->out, nullptr, false);
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<CoordhaProcess>> processes_;
};

TEST_F(FailoverTest, TwoThenThreeReplicas_ExactlyOneActiveInStatus) {
  CoordhaProcess* a = Start(Options());
  CoordhaProcess* b = Start(Options());
  ASSERT_NE(AwaitOneActive({a, b}), nullptr);
  CoordhaProcess* c = Start(Options());
  ASSERT_NE(AwaitOneActive({a, b, c}), nullptr);

  nlohmann::json status = StatusJson();
  ASSERT_TRUE(status.contains("sessions")) << status.dump();
  int active = 0, rootcoords = 0;
  std::set<int64_t> ids;
  for (const auto& s : status["sessions"]) {
    if (s["role"] != "rootcoord") continue;
    ++rootcoords;
    ids.insert(s["serverId"].get<int64_t>());
    if (s["active"].get<bool>()) {
      ++active;
      EXPECT_GT(s["epoch"].get<int64_t>(), 0);
      EXPECT_EQ(s["state"], "Healthy");
    }
  }
  EXPECT_EQ(rootcoords, 3);

  // The HTTP endpoints agree: only the active answers /active; all are ready and healthy.
  CoordhaProcess* active_process = AwaitOneActive({a, b, c});
  ASSERT_NE(active_process, nullptr);
  for (CoordhaProcess* p : {a, b, c}) {
    const bool is_active = p == active_process;
    auto active_page = p->HttpGet("/active");
    ASSERT_TRUE(active_page.ok()) << active_page.status();
    EXPECT_EQ(active_page->first, is_active ? 200 : 503);
    // Ready: the active, and each standby once its copy is current (checked every second).
    bool ready = false;
    for (Deadline d = TestDeadline(); !ready && !d.Expired();) {
      auto readyz = p->HttpGet("/readyz");
      ready = readyz.ok() && readyz->first == 200;
    }
    EXPECT_TRUE(ready);
    EXPECT_EQ(p->HttpGet("/healthz")->first, 200);
    auto page = p->HttpGet("/status");
    ASSERT_TRUE(page.ok());
    nlohmann::json own = nlohmann::json::parse(page->second, nullptr, false);
    ASSERT_TRUE(own.is_object()) << page->second;
    EXPECT_EQ(own["active"].get<bool>(), is_active);
    auto metrics = p->HttpGet("/metrics");
    ASSERT_TRUE(metrics.ok());
    EXPECT_NE(metrics->second.find(is_active ? "coordha_role_active{role=\"rootcoord\"} 1"
                                             : "coordha_role_active{role=\"rootcoord\"} 0"),
              std::string::npos)
        << metrics->second;
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(active, 1) << status.dump();
}

TEST_F(FailoverTest, KillNineActive_StandbyTakesOverWithHigherEpoch_L3) {
  CoordhaProcess* a = Start(Options());
  CoordhaProcess* b = Start(Options());
  CoordhaProcess* active = AwaitOneActive({a, b});
  ASSERT_NE(active, nullptr);
  CoordhaProcess* standby = active == a ? b : a;
  const int64_t old_epoch = active->Query(TestDeadline())->state().epoch();

  const BootTime killed_at = BootClock::now();
  ASSERT_TRUE(active->Signal(SIGKILL).ok());
  ASSERT_TRUE(standby->AwaitState(Healthy, TestDeadline())) << standby->LogText();
  const Duration took = BootClock::now() - killed_at;
  EXPECT_GT(standby->Query(TestDeadline())->state().epoch(), old_epoch);
  // Reported, not asserted: speed lives in the benchmarks.
  std::printf("kill -9 takeover observed after %lld ms (TTL %lld s)\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()),
              static_cast<long long>(active->options().ttl_seconds));
}

TEST_F(FailoverTest, SigtermActive_ResignsCleanlyAndStandbyTakesOverWithoutWait_L1) {
  CoordhaProcess* a = Start(Options());
  CoordhaProcess* b = Start(Options());
  CoordhaProcess* active = AwaitOneActive({a, b});
  ASSERT_NE(active, nullptr);
  CoordhaProcess* standby = active == a ? b : a;

  ASSERT_TRUE(active->Signal(SIGTERM).ok());
  auto exited = active->process().WaitForExit(TestDeadline());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0) << DescribeWaitStatus(*exited);
  EXPECT_NE(active->LogText().find("resigned epoch"), std::string::npos) << active->LogText();
  ASSERT_TRUE(standby->AwaitState(Healthy, TestDeadline()));
  // L1: the marker told the standby the epoch ended cleanly, so it skipped the S3 wait.
  EXPECT_NE(standby->LogText().find("resigned cleanly"), std::string::npos) << standby->LogText();
}

TEST_F(FailoverTest, ServeGrant_PausedActiveAnswersNothingAsActiveAfterNewActive_S2) {
  CoordhaProcess* a = Start(Options());
  CoordhaProcess* b = Start(Options());
  CoordhaProcess* active = AwaitOneActive({a, b});
  ASSERT_NE(active, nullptr);
  CoordhaProcess* standby = active == a ? b : a;
  const int64_t old_epoch = active->Query(TestDeadline())->state().epoch();

  ASSERT_TRUE(active->Signal(SIGSTOP).ok());
  ASSERT_TRUE(active->process().WaitForStop(TestDeadline()).ok());
  // The paused active's lease expires; the standby takes over and answers.
  ASSERT_TRUE(standby->AwaitState(Healthy, TestDeadline())) << standby->LogText();
  const int64_t new_epoch = standby->Query(TestDeadline())->state().epoch();
  EXPECT_GT(new_epoch, old_epoch);

  // From the moment it resumes, the old active never answers as active again (S2), and steps
  // down to standby by itself.
  ASSERT_TRUE(active->Signal(SIGCONT).ok());
  bool stepped_down = false;
  for (Deadline d = TestDeadline(); !d.Expired() && !stepped_down;) {
    auto r = active->Query(Deadline::In(seconds(2)));
    if (!r.ok()) continue;
    ASSERT_NE(r->state().state(), v1::Healthy)
        << "old active (epoch " << old_epoch << ") answered Healthy after epoch " << new_epoch;
    EXPECT_FALSE(r->has_header() && r->header().epoch() == old_epoch);
    stepped_down = StandBy(*r);
  }
  EXPECT_TRUE(stepped_down) << active->LogText();
  EXPECT_TRUE(standby->IsServingActive(TestDeadline()));
}

TEST_F(FailoverTest, NeverExitOnEtcdLoss_OneActivePerRoleAfterEtcdReturns_S6) {
  std::vector<CoordhaProcess*> rootcoords = {Start(Options()), Start(Options())};
  std::vector<CoordhaProcess*> datacoords = {Start(Options("datacoord")),
                                             Start(Options("datacoord"))};
  ASSERT_NE(AwaitOneActive(rootcoords), nullptr);
  ASSERT_NE(AwaitOneActive(datacoords), nullptr);

  // etcd gone for longer than the TTL: every lease is lost.
  ASSERT_TRUE(etcd_->Stop(0).ok());
  for (Deadline d = TestDeadline(); !ServingActives().empty();) {
    ASSERT_FALSE(d.Expired()) << "an active kept serving without etcd";
  }
  // Wait out the TTL (lease loss is declared by the keepalive once its deadline passed).
  for (auto& p : processes_) {
    ASSERT_TRUE(p->AwaitState(
        [](const v1::GetComponentStatesResponse& r) {
          return r.state().state() == v1::Initializing;  // lease lost: registering again
        },
        TestDeadline()))
        << p->LogText();
  }
  ASSERT_TRUE(etcd_->Restart(0).ok());
  ASSERT_NE(AwaitOneActive(rootcoords), nullptr);
  ASSERT_NE(AwaitOneActive(datacoords), nullptr);
  for (auto& p : processes_) EXPECT_TRUE(p->Running()) << p->LogText();
}

TEST_F(FailoverTest, Exclusive_SecondReplicaExitsOneNamingTheHolder) {
  CoordhaProcess::Options o = Options();
  o.active_standby = false;
  CoordhaProcess* a = Start(o);
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess* b = Start(o);
  auto exited = b->process().WaitForExit(TestDeadline());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 1) << DescribeWaitStatus(*exited);
  const std::string log = b->LogText();
  EXPECT_NE(log.find("rootcoord is already running: server"), std::string::npos) << log;
  EXPECT_NE(log.find(a->address()), std::string::npos) << log;
  EXPECT_NE(log.find("rootCoord.enableActiveStandby=true"), std::string::npos) << log;
  EXPECT_EQ(log.find("terminate called"), std::string::npos) << log;
  EXPECT_TRUE(a->IsServingActive(TestDeadline()));
}

TEST_F(FailoverTest, Exclusive_RestartAfterKillNineAtSameAddressSucceeds_S3) {
  CoordhaProcess::Options o = Options();
  o.active_standby = false;
  o.ttl_seconds = 30;  // the restart must not wait for this
  CoordhaProcess* a = Start(o);
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  const int64_t old_epoch = a->Query(TestDeadline())->state().epoch();
  ASSERT_TRUE(a->Signal(SIGKILL).ok());
  ASSERT_TRUE(a->process().WaitForExit(TestDeadline()).ok());
  ASSERT_TRUE(a->Restart().ok());
  // Same machine: proof that the old process is dead, no wait for its 30 s lease.
  ASSERT_TRUE(a->AwaitState(Healthy, Deadline::In(seconds(20)))) << a->LogText();
  EXPECT_GT(a->Query(TestDeadline())->state().epoch(), old_epoch);
  EXPECT_NE(a->LogText().find("is dead on this host"), std::string::npos) << a->LogText();
}

TEST_F(FailoverTest, ListenerWithoutReusePort_SecondProcessOnTheActivesPortExitsOne_L2) {
  CoordhaProcess* a = Start(Options());
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess::Options same_port = Options();
  same_port.grpc_port = a->grpc_port();
  same_port.name = "same-port";
  CoordhaProcess* b = Start(same_port);
  auto exited = b->process().WaitForExit(TestDeadline());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 1) << DescribeWaitStatus(*exited);
  EXPECT_NE(b->LogText().find("cannot listen on"), std::string::npos) << b->LogText();
  EXPECT_TRUE(a->IsServingActive(TestDeadline()));
}

// Bad inputs: exit 2 and one line that names the key.
TEST_F(FailoverTest, BadConfig_ExitsTwoWithOneLineNamingTheKey) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--set", "etcd.endpoint=127.0.0.1:2379"}, "etcd.endpoint"},
      {{"--set", "rootCoord.enableActiveStandby=maybe"}, "rootCoord.enableActiveStandby"},
      {{"--set", "common.session.ttl=-5"}, "common.session.ttl"},
      {{"--set", "etcd.endpoints=no-port-here"}, "etcd.endpoints"},
  };
  for (const auto& [flags, key] : cases) {
    std::vector<std::string> args = {"run", "rootcoord"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = RunCoordha(args, TestDeadline());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(WIFEXITED(r->wait_status) && WEXITSTATUS(r->wait_status) == 2)
        << flags.back() << ": " << r->DescribeExit();
    std::string err = r->err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    EXPECT_EQ(err.find('\n'), std::string::npos) << flags.back() << " gave:\n" << r->err;
    EXPECT_NE(err.find(key), std::string::npos) << flags.back() << " gave: " << err;
  }
}

}  // namespace
}  // namespace coordha::testing
