// Fast, safe failover with real `coordha run` processes, real etcd and real signals (DESIGN.md §4
// S2, S3, L2, L6, L7; issue "Fast, safe failover").
//
// Every test records what clients see: a poller calls GetComponentStates on every replica all the
// time, bypassing any client-side epoch filtering, and keeps each Healthy answer with the time
// the call was made and answered. The invariant checked everywhere: once the new active has
// answered, no call made after that gets a Healthy answer from the old one. How fast takeovers
// happen is measured by `coordha bench failover`, not asserted here; the tests check *which*
// path took the role over (the cause the winner reports in /status).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/mutex.h"
#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/coordha_process.h"
#include "support/tcp_proxy.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Healthy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::Healthy; }
bool StandBy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::StandBy; }

// Polls every process's GetComponentStates from its own thread and records Healthy answers.
class AnswerRecorder {
 public:
  struct Answer {
    size_t process = 0;
    BootTime invoked{};
    BootTime answered{};
    int64_t epoch = 0;
  };

  explicit AnswerRecorder(std::vector<const CoordhaProcess*> processes)
      : processes_(std::move(processes)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~AnswerRecorder() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::vector<Answer> answers() const {
    MutexLock lock(&mu_);
    return answers_;
  }

  // S2/S3: "" when no call invoked after the first Healthy answer of a higher epoch got a Healthy
  // answer of a lower epoch; otherwise what happened.
  std::string StaleAnswers() const {
    const std::vector<Answer> all = answers();
    for (const Answer& newer : all) {
      for (const Answer& older : all) {
        if (older.epoch < newer.epoch && older.invoked > newer.answered) {
          return absl::StrCat(
              "process ", older.process, " answered Healthy with epoch ", older.epoch,
              " to a call made ",
              std::chrono::duration_cast<milliseconds>(older.invoked - newer.answered).count(),
              " ms after process ", newer.process, " answered epoch ", newer.epoch);
        }
      }
    }
    return "";
  }

 private:
  void Run() {
    while (!stop_) {
      for (size_t i = 0; i < processes_.size(); ++i) {
        const BootTime invoked = BootClock::now();
        auto r = processes_[i]->Query(Deadline::In(milliseconds(200)));
        if (!r.ok() || !Healthy(*r)) continue;
        MutexLock lock(&mu_);
        answers_.push_back(Answer{.process = i,
                                  .invoked = invoked,
                                  .answered = BootClock::now(),
                                  .epoch = r->state().epoch()});
      }
      std::this_thread::sleep_for(milliseconds(2));  // pacing of a poll loop, not a wait
    }
  }

  const std::vector<const CoordhaProcess*> processes_;
  std::atomic<bool> stop_{false};
  mutable Mutex mu_;
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

class FastFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    etcd_ = *std::move(cluster);
  }

  CoordhaProcess::Options Options() {
    return CoordhaProcess::Options{
        .role = "rootcoord", .etcd_endpoints = etcd_->ClientEndpoints(), .dir = etcd_->dir()};
  }

  CoordhaProcess* Start(CoordhaProcess::Options options) {
    auto p = CoordhaProcess::Start(std::move(options));
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    processes_.push_back(*std::move(p));
    return processes_.back().get();
  }

  // /status of `p` as JSON (empty object when unreachable).
  nlohmann::json StatusOf(const CoordhaProcess* p) {
    auto page = p->HttpGet("/status");
    if (!page.ok()) return nlohmann::json::object();
    return nlohmann::json::parse(page->second, nullptr, false);
  }

  std::string LastTakeoverCause(const CoordhaProcess* p) {
    nlohmann::json s = StatusOf(p);
    return s.is_object() && s.contains("lastTakeoverCause")
               ? s["lastTakeoverCause"].get<std::string>()
               : "";
  }

  int64_t ServerId(const CoordhaProcess* p) {
    auto r = p->Query(TestDeadline());
    return r.ok() ? r->state().server_id() : 0;
  }

  absl::StatusOr<CommandResult> Coordha(std::vector<std::string> args) {
    args.push_back("--set");
    args.push_back("etcd.endpoints=" + etcd_->ClientEndpoint(0));
    return RunCoordha(args, TestDeadline());
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<CoordhaProcess>> processes_;
};

TEST_F(FastFailoverTest, KillNine_SameMachineProof_TakesOverWithoutWait_S3) {
  CoordhaProcess* a = Start(Options());
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess* b = Start(Options());
  ASSERT_TRUE(b->AwaitState(StandBy, TestDeadline())) << b->LogText();
  AnswerRecorder recorder({a, b});

  ASSERT_TRUE(a->Signal(SIGKILL).ok());
  ASSERT_TRUE(b->AwaitState(Healthy, TestDeadline())) << b->LogText();
  recorder.Stop();
  // S3: same boot ID and pid namespace, PID gone: proof, so no serve-grant wait.
  EXPECT_EQ(LastTakeoverCause(b), "proof") << b->LogText();
  EXPECT_NE(b->LogText().find("is dead on this host"), std::string::npos) << b->LogText();
  EXPECT_EQ(recorder.StaleAnswers(), "");

  // DESIGN §9: the winner exports every HA metric, labelled with its role.
  auto metrics = b->HttpGet("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  for (const char* name :
       {"coordha_role_active", "coordha_epoch", "coordha_failovers_total",
        "coordha_takeover_seconds", "coordha_campaigns_total", "coordha_revokes_issued_total",
        "coordha_serve_grant_remaining_seconds", "coordha_lease_remaining_seconds",
        "coordha_keepalive_rtt_seconds", "coordha_standby_lag_revisions",
        "coordha_tso_lead_seconds", "coordha_fenced_writes_total", "coordha_watch_restarts_total",
        "coordha_etcd_request_seconds", "coordha_requests_total", "coordha_request_seconds"}) {
    EXPECT_NE(metrics->second.find(absl::StrCat("# TYPE ", name, " ")), std::string::npos)
        << name << " missing from\n"
        << metrics->second;
  }
  EXPECT_NE(metrics->second.find("coordha_failovers_total{cause=\"proof\",role=\"rootcoord\"} 1"),
            std::string::npos)
      << metrics->second;
  EXPECT_NE(
      metrics->second.find("coordha_requests_total{code=\"OK\",method=\"GetComponentStates\""),
      std::string::npos)
      << metrics->second;
}

TEST_F(FastFailoverTest, WrongTrigger_PortRefusesStandby_TakeoverWithoutStaleAnswers_S3) {
  // The active stays alive and keeps renewing its lease; only its port, as the standby sees it,
  // starts refusing (the proxy is the standby's path to it). The trigger is wrong, and S3 makes it
  // harmless: the old epoch is ended by a fenced delete + revoke, the old active stops within its
  // serve grant, and the new one serves only after waiting that grant out.
  CoordhaProcess* a = Start(Options());
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  auto proxy = TcpProxy::Start(a->address());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  CoordhaProcess::Options b_options = Options();
  b_options.env = {"COORDHA_TEST_HOOKS=1", "COORDHA_TEST_LIVENESS_ADDRESS=" + (*proxy)->address()};
  CoordhaProcess* b = Start(b_options);
  ASSERT_TRUE(b->AwaitState(StandBy, TestDeadline())) << b->LogText();
  // The standby's liveness stream runs through the proxy.
  for (Deadline d = TestDeadline(); (*proxy)->connections() == 0 && !d.Expired();) {
    ASSERT_TRUE(b->AwaitState(StandBy, Deadline::In(seconds(1))));
  }
  ASSERT_GT((*proxy)->connections(), 0) << b->LogText();
  const int64_t old_epoch = a->Query(TestDeadline())->state().epoch();
  AnswerRecorder recorder({a, b});

  (*proxy)->Refuse();
  ASSERT_TRUE(b->AwaitState(Healthy, TestDeadline())) << b->LogText();
  EXPECT_GT(b->Query(TestDeadline())->state().epoch(), old_epoch);
  // The old active was alive all along: it loses the role and stands by; it never exits (S6).
  ASSERT_TRUE(a->AwaitState(StandBy, TestDeadline())) << a->LogText();
  EXPECT_TRUE(a->Running());
  recorder.Stop();

  EXPECT_EQ(LastTakeoverCause(b), "refused") << b->LogText();
  EXPECT_EQ(recorder.StaleAnswers(), "") << a->LogText() << b->LogText();
  auto metrics = b->HttpGet("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(
      metrics->second.find("coordha_revokes_issued_total{reason=\"refused\",role=\"rootcoord\"} 1"),
      std::string::npos)
      << metrics->second;
}

TEST_F(FastFailoverTest, SuspectAfter_PausedActiveLosesRoleBeforeItsTtl_AndAnswersNothing_S2) {
  // TTL 10 s: a takeover through lease expiry would say "expired"; suspectAfter says "suspect".
  CoordhaProcess::Options options = Options();
  options.ttl_seconds = 10;
  options.sets = {"common.session.suspectAfter=1s"};
  CoordhaProcess* a = Start(options);
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess* b = Start(options);
  ASSERT_TRUE(b->AwaitState(StandBy, TestDeadline())) << b->LogText();
  AnswerRecorder recorder({a, b});

  ASSERT_TRUE(a->Signal(SIGSTOP).ok());
  ASSERT_TRUE(a->process().WaitForStop(TestDeadline()).ok());
  ASSERT_TRUE(b->AwaitState(Healthy, TestDeadline())) << b->LogText();
  EXPECT_EQ(LastTakeoverCause(b), "suspect") << b->LogText();

  // Resumed, the old active answers nothing as active (its grant ran out while paused) and
  // becomes a standby by itself.
  ASSERT_TRUE(a->Signal(SIGCONT).ok());
  ASSERT_TRUE(a->AwaitState(StandBy, TestDeadline())) << a->LogText();
  recorder.Stop();
  EXPECT_EQ(recorder.StaleAnswers(), "") << a->LogText();
}

TEST_F(FastFailoverTest, SuspectAfter_EtcdStallLongerThanSuspectAfterDoesNotMoveTheRole_L7) {
  // etcd itself stalls: nobody can renew, nobody can look. When it answers again the active's
  // lease looks unrenewed for longer than suspectAfter, but the standby has not watched that with
  // etcd answering, and the active renews at once: the role stays where it is.
  CoordhaProcess::Options options = Options();
  options.ttl_seconds = 10;
  options.sets = {"common.session.suspectAfter=1s"};
  CoordhaProcess* a = Start(options);
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess* b = Start(options);
  ASSERT_TRUE(b->AwaitState(StandBy, TestDeadline())) << b->LogText();
  const int64_t epoch = a->Query(TestDeadline())->state().epoch();

  ASSERT_TRUE(etcd_->Pause(0).ok());
  // The fault lasts a fixed time on purpose: longer than suspectAfter, shorter than the TTL.
  std::this_thread::sleep_for(seconds(3));
  ASSERT_TRUE(etcd_->Resume(0).ok());
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  EXPECT_EQ(a->Query(TestDeadline())->state().epoch(), epoch) << b->LogText();
  EXPECT_TRUE(b->AwaitState(StandBy, TestDeadline()));
  EXPECT_EQ(b->LogText().find("has not renewed its lease"), std::string::npos) << b->LogText();
}

TEST_F(FastFailoverTest, Watchdog_HungServingPathLosesTheRole_L6) {
  CoordhaProcess::Options options = Options();
  options.ttl_seconds = 10;
  options.sets = {"common.session.suspectAfter=1s"};
  CoordhaProcess::Options hooked = options;
  hooked.env = {"COORDHA_TEST_HOOKS=1"};
  CoordhaProcess* a = Start(hooked);
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess* b = Start(options);
  ASSERT_TRUE(b->AwaitState(StandBy, TestDeadline())) << b->LogText();
  AnswerRecorder recorder({a, b});

  // The active's serving path hangs (as a deadlocked handler pool would); its keepalive thread is
  // fine. L6: the watchdog's probe fails, renewals stop, and the role moves.
  ASSERT_TRUE(a->Signal(SIGUSR1).ok());
  ASSERT_TRUE(b->AwaitState(Healthy, TestDeadline())) << a->LogText() << b->LogText();
  ASSERT_TRUE(a->AwaitState([](const auto& r) { return !Healthy(r); }, TestDeadline()));
  recorder.Stop();
  EXPECT_NE(a->LogText().find("watchdog: check failed"), std::string::npos) << a->LogText();
  EXPECT_EQ(LastTakeoverCause(b), "suspect") << b->LogText();
  EXPECT_EQ(recorder.StaleAnswers(), "");
  EXPECT_TRUE(a->Running());
}

TEST_F(FastFailoverTest, Switchover_ToNamedStandby_LandsThere_L7) {
  CoordhaProcess* a = Start(Options());
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess* b = Start(Options());
  CoordhaProcess* c = Start(Options());
  ASSERT_TRUE(b->AwaitState(StandBy, TestDeadline()));
  ASSERT_TRUE(c->AwaitState(StandBy, TestDeadline()));
  const int64_t a_id = ServerId(a);
  const int64_t c_id = ServerId(c);
  AnswerRecorder recorder({a, b, c});

  // Twice, so the other standby's (b's) deferral is seen as well.
  auto moved = Coordha({"switchover", "rootcoord", "--to", std::to_string(c_id)});
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_TRUE(moved->succeeded()) << moved->DescribeExit() << moved->err;
  EXPECT_NE(moved->out.find(absl::StrCat("server ", c_id, " is active")), std::string::npos)
      << moved->out;
  ASSERT_TRUE(c->AwaitState(Healthy, TestDeadline())) << c->LogText();
  EXPECT_EQ(LastTakeoverCause(c), "switchover");
  ASSERT_TRUE(a->AwaitState(StandBy, TestDeadline())) << a->LogText();

  auto back = Coordha({"switchover", "rootcoord", "--to", std::to_string(a_id), "--json"});
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->succeeded()) << back->DescribeExit() << back->err;
  nlohmann::json j = nlohmann::json::parse(back->out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << back->out;
  EXPECT_EQ(j["to"]["serverId"].get<int64_t>(), a_id);
  EXPECT_EQ(j["from"]["serverId"].get<int64_t>(), c_id);
  EXPECT_TRUE(j["landed"].get<bool>());
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline()));
  ASSERT_TRUE(b->AwaitState(StandBy, TestDeadline()));
  recorder.Stop();
  EXPECT_EQ(recorder.StaleAnswers(), "");

  // Refusals: one line naming the cause, exit 1, nothing moved.
  auto unknown = Coordha({"switchover", "rootcoord", "--to", "99999"});
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->DescribeExit(), "exited with code 1") << unknown->err;
  EXPECT_NE(unknown->err.find("server 99999 has no live rootcoord session"), std::string::npos)
      << unknown->err;
  auto self = Coordha({"switchover", "rootcoord", "--to", std::to_string(a_id)});
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->DescribeExit(), "exited with code 1") << self->err;
  EXPECT_NE(self->err.find("is already the active"), std::string::npos) << self->err;
  auto worker = Coordha({"switchover", "querynode"});
  ASSERT_TRUE(worker.ok());
  EXPECT_EQ(worker->DescribeExit(), "exited with code 2") << worker->err;
  EXPECT_TRUE(a->AwaitState(Healthy, TestDeadline()));

  // `resign`: no target; another standby takes over, without the S3 wait.
  auto resigned = Coordha({"resign", "rootcoord"});
  ASSERT_TRUE(resigned.ok());
  ASSERT_TRUE(resigned->succeeded()) << resigned->err;
  EXPECT_NE(resigned->out.find(absl::StrCat("was server ", a_id)), std::string::npos)
      << resigned->out;
}

TEST_F(FastFailoverTest, Priority_HigherPriorityStandbyWinsAfterResign_L7) {
  CoordhaProcess* a = Start(Options());
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess* low = Start(Options());
  CoordhaProcess::Options high_options = Options();
  high_options.sets = {"rootCoord.priority=10"};
  CoordhaProcess* high = Start(high_options);
  ASSERT_TRUE(low->AwaitState(StandBy, TestDeadline()));
  ASSERT_TRUE(high->AwaitState(StandBy, TestDeadline()));
  // A clean resign names no successor: the standby of higher priority goes first, the other
  // defers to it (no automatic fail-back later).
  ASSERT_TRUE(a->Signal(SIGTERM).ok());
  ASSERT_TRUE(a->process().WaitForExit(TestDeadline()).ok());
  ASSERT_TRUE(high->AwaitState(Healthy, TestDeadline())) << high->LogText() << low->LogText();
  EXPECT_TRUE(low->AwaitState(StandBy, TestDeadline()));
  EXPECT_NE(low->LogText().find("(priority 10)"), std::string::npos) << low->LogText();
}

TEST_F(FastFailoverTest, KillNineCrossHost_RefusedTriggerThenServeGrantWait_S3) {
  // Each replica in its own pid namespace: the same-machine proof cannot apply, so the standby
  // must use the liveness stream (refused connection) and wait out the serve grant.
  if (geteuid() != 0 || access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs root and unshare(1) for pid namespaces";
  }
  CoordhaProcess::Options options = Options();
  options.wrapper = {"/usr/bin/unshare", "--pid", "--fork", "--kill-child"};
  CoordhaProcess* a = Start(options);
  ASSERT_TRUE(a->AwaitState(Healthy, TestDeadline())) << a->LogText();
  CoordhaProcess* b = Start(options);
  ASSERT_TRUE(b->AwaitState(StandBy, TestDeadline())) << b->LogText();
  AnswerRecorder recorder({a, b});

  // SIGKILL to unshare: --kill-child makes the kernel SIGKILL coordha with it.
  ASSERT_TRUE(a->Signal(SIGKILL).ok());
  ASSERT_TRUE(b->AwaitState(Healthy, TestDeadline())) << b->LogText();
  recorder.Stop();
  EXPECT_EQ(LastTakeoverCause(b), "refused") << b->LogText();
  EXPECT_NE(b->LogText().find("serving after"), std::string::npos);
  EXPECT_EQ(recorder.StaleAnswers(), "");
}

}  // namespace
}  // namespace coordha::testing
