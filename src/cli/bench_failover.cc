// `coordha bench failover` (DESIGN.md §10): the client-observed failover gap of coordha for one
// kind of failure, and the same kill -9 measurement for etcd's reference election (`etcdctl
// elect`, the peer). The harness is bench_cluster.h.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/bench.h"
#include "cli/bench_cluster.h"
#include "cli/local_etcd.h"
#include "common/status.h"
#include "etcd/client.h"
#include "nlohmann/json.hpp"

namespace coordha::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
// Failed trials in a row after which the cluster is taken to be broken.
constexpr int kMaxConsecutiveFailures = 3;
// etcdctl's concurrency.NewSession default (etcdctl 3.4 has no flag for it).
constexpr auto kElectSessionTtl = std::chrono::seconds(60);
constexpr auto kElectStartTimeout = std::chrono::seconds(30);

double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

int Fail(const std::string& what, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kCancelled) return kExitRuntimeError;
  std::fprintf(stderr, "coordha: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return kExitRuntimeError;
}

// ---- etcdctl elect ----

// One `etcdctl elect <election> <proposal>` process. It prints its proposal once it leads.
struct Elector {
  std::string proposal;
  std::string log_file;  // a fresh one per start
  std::unique_ptr<ChildProcess> process;
  int starts = 0;
};

class ElectPeer {
 public:
  ElectPeer(const BenchRun& run, std::string etcdctl, std::string endpoint, etcd::Client* client)
      : run_(run),
        etcdctl_(std::move(etcdctl)),
        endpoint_(std::move(endpoint)),
        client_(client),
        election_(absl::StrCat("bench-elect-", getpid())) {
    electors_[0].proposal = "proposal-a";
    electors_[1].proposal = "proposal-b";
  }

  // Leader a, then candidate b waiting behind it.
  absl::Status Prepare() {
    COORDHA_RETURN_IF_ERROR(StartElector(electors_[0]));
    COORDHA_RETURN_IF_ERROR(AwaitLeads(electors_[0], Deadline::In(kElectStartTimeout)));
    COORDHA_RETURN_IF_ERROR(StartElector(electors_[1]));
    return AwaitCandidates(2, Deadline::In(kElectStartTimeout));
  }

  // kill -9 of the leader; the gap lasts until the other prints its proposal. Then the killed one
  // is started again as the next candidate.
  absl::StatusOr<Duration> Trial() {
    Elector& leader = electors_[leader_];
    Elector& next = electors_[1 - leader_];
    const BootTime killed = BootClock::now();
    leader.process->Signal(SIGKILL);
    const Deadline deadline = Deadline::In(3 * kElectSessionTtl);
    COORDHA_RETURN_IF_ERROR(AwaitLeads(next, deadline));
    const Duration gap = BootClock::now() - killed;
    while (leader.process->Running()) {
      if (run_.interrupt->Sleep(std::chrono::milliseconds(1))) return Cancelled();
    }
    COORDHA_RETURN_IF_ERROR(StartElector(leader));
    COORDHA_RETURN_IF_ERROR(AwaitCandidates(2, Deadline::In(kElectStartTimeout)));
    leader_ = 1 - leader_;
    return gap;
  }

  const std::string& proposal(int i) const { return electors_[i].proposal; }
  int leader() const { return leader_; }

 private:
  static absl::Status Cancelled() { return absl::CancelledError("interrupted"); }

  absl::Status StartElector(Elector& e) {
    e.log_file = absl::StrCat(run_.dir, "/elect-", e.proposal, "-", ++e.starts, ".log");
    absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(
        {etcdctl_, "--endpoints=" + endpoint_, "elect", election_, e.proposal}, e.log_file);
    if (!process.ok()) return process.status();
    e.process = *std::move(process);
    return absl::OkStatus();
  }

  // etcdctl prints "<election>/<lease>" and then the proposal when it becomes the leader.
  static bool Leads(const Elector& e) {
    std::ifstream in(e.log_file);
    for (std::string line; std::getline(in, line);) {
      if (line == e.proposal) return true;
    }
    return false;
  }

  absl::Status AwaitLeads(Elector& e, Deadline deadline) {
    while (!Leads(e)) {
      if (!e.process->Running()) {
        return absl::UnavailableError(absl::StrCat(
            "etcdctl elect ", DescribeWaitStatus(*e.process->wait_status()), "; see ", e.log_file));
      }
      if (deadline.Expired()) {
        return absl::DeadlineExceededError(
            absl::StrCat(e.proposal, " did not become the leader in time; see ", e.log_file));
      }
      // Reading a small log file: the pace of the poll, 1 ms resolution on a ~1 min gap.
      if (run_.interrupt->Sleep(std::chrono::milliseconds(1))) return Cancelled();
    }
    return absl::OkStatus();
  }

  // Every campaigning etcdctl holds one key under "<election>/".
  absl::Status AwaitCandidates(int64_t n, Deadline deadline) {
    etcd::RangeOptions count;
    count.prefix = true;
    count.count_only = true;
    while (true) {
      absl::StatusOr<etcd::RangeResult> keys =
          client_->Range(election_ + "/", count, Deadline::In(std::chrono::seconds(2)));
      if (keys.ok() && keys->count == n) return absl::OkStatus();
      if (deadline.Expired()) {
        return absl::DeadlineExceededError(absl::StrCat(
            "expected ", n, " candidates under ", election_, "/, found ",
            keys.ok() ? absl::StrCat(keys->count) : std::string(keys.status().message())));
      }
      if (run_.interrupt->Sleep(std::chrono::milliseconds(10))) return Cancelled();
    }
  }

  const BenchRun& run_;
  const std::string etcdctl_;
  const std::string endpoint_;
  etcd::Client* const client_;
  const std::string election_;
  Elector electors_[2];
  int leader_ = 0;
};

}  // namespace

int RunFailoverBench(const BenchRun& run) {
  const BenchOptions& o = run.options;
  absl::StatusOr<FailoverKind> kind = ParseFailoverKind(o.kind);
  if (!kind.ok()) return Fail("bench failover", kind.status());
  absl::StatusOr<std::unique_ptr<BenchCluster>> started =
      BenchCluster::Start(BenchClusterOptions{.self_binary = run.self_binary,
                                              .dir = run.dir,
                                              .ttl_seconds = o.ttl_seconds,
                                              .serve_grant = o.serve_grant,
                                              .cross_host = o.cross_host,
                                              .replica_sets = o.replica_sets},
                          run.interrupt);
  if (!started.ok()) {
    return Fail("bench failover: starting etcd and two replicas", started.status());
  }
  BenchCluster& cluster = **started;
  cluster.StartLoad();

  std::vector<Duration> gaps;
  std::vector<Duration> poller_gaps;
  int failed = 0;
  int failed_in_a_row = 0;
  bool interrupted = false;
  for (int t = 1; t <= run.trials; ++t) {
    absl::StatusOr<TrialResult> r = cluster.RunTrial(*kind);
    if (!r.ok()) {
      if (r.status().code() == absl::StatusCode::kCancelled) {
        interrupted = true;
        break;
      }
      ++failed;
      std::fprintf(stderr, "trial %d/%d: %s failed: %s\n", t, run.trials, o.kind.c_str(),
                   std::string(r.status().message()).c_str());
      if (++failed_in_a_row >= kMaxConsecutiveFailures) {
        std::fprintf(stderr, "%d trials in a row failed: giving up\n", failed_in_a_row);
        break;
      }
      continue;
    }
    failed_in_a_row = 0;
    gaps.push_back(r->gap);
    if (r->poller_gap.has_value()) poller_gaps.push_back(*r->poller_gap);
    std::fprintf(stderr, "trial %d/%d: %s %s\n", t, run.trials, o.kind.c_str(),
                 TrialSummary(*r).c_str());
  }
  const int64_t stale = cluster.poller().stale_answers();
  if (stale > 0) std::fprintf(stderr, "stale answer: %s\n", cluster.poller().first_stale().c_str());
  std::fprintf(stderr, "clients: %lld answers, %lld failed calls\n",
               static_cast<long long>(cluster.answers().answers()),
               static_cast<long long>(cluster.answers().errors()));
  if (cluster.answers().errors() > 0) {
    std::fprintf(stderr, "%lld client calls failed; last: %s\n",
                 static_cast<long long>(cluster.answers().errors()),
                 cluster.answers().last_error().c_str());
  }
  cluster.Stop();

  std::sort(gaps.begin(), gaps.end());
  std::sort(poller_gaps.begin(), poller_gaps.end());
  const double max_ms = gaps.empty() ? 0 : Ms(gaps.back());
  std::fprintf(stderr, "poller-observed gap: p50=%.1fms p99=%.1fms max=%.1fms (%zu trials)\n",
               QuantileMs(poller_gaps, 0.5), QuantileMs(poller_gaps, 0.99),
               poller_gaps.empty() ? 0.0 : Ms(poller_gaps.back()), poller_gaps.size());
  if (o.json) {
    nlohmann::json out = {{"kind", o.kind},
                          {"trials", gaps.size()},
                          {"failed", failed},
                          {"p50_ms", QuantileMs(gaps, 0.50)},
                          {"p99_ms", QuantileMs(gaps, 0.99)},
                          {"max_ms", max_ms},
                          {"stale", stale},
                          {"ttl_s", o.ttl_seconds},
                          {"serve_grant_s", Seconds(run.serve_grant)},
                          {"cross_host", o.cross_host},
                          {"poller_p50_ms", QuantileMs(poller_gaps, 0.50)},
                          {"poller_p99_ms", QuantileMs(poller_gaps, 0.99)}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf(
        "failover kind=%s cross_host=%s trials=%zu p50=%.1fms p99=%.1fms max=%.1fms stale=%lld "
        "ttl=%llds serve_grant=%s%s\n",
        o.kind.c_str(), o.cross_host ? "true" : "false", gaps.size(), QuantileMs(gaps, 0.50),
        QuantileMs(gaps, 0.99), max_ms, static_cast<long long>(stale),
        static_cast<long long>(o.ttl_seconds), o.serve_grant.c_str(),
        failed > 0 ? absl::StrCat(" failed=", failed).c_str() : "");
  }
  std::fflush(stdout);
  const bool complete = !interrupted && failed == 0 && static_cast<int>(gaps.size()) == run.trials;
  return complete ? kExitOk : kExitRuntimeError;
}

int RunElectPeerBench(const BenchRun& run) {
  std::optional<std::string> etcdctl = FindInPath("etcdctl", {"/usr/bin", "/usr/local/bin"});
  if (!etcdctl.has_value()) {
    return Fail("bench failover --peer etcdctl-elect",
                absl::NotFoundError("etcdctl not found: install etcd-client"));
  }
  PortPicker ports;
  absl::StatusOr<std::unique_ptr<LocalEtcd>> etcd =
      LocalEtcd::Start(LocalEtcdOptions{.data_dir = absl::StrCat(run.dir, "/etcd-", getpid()),
                                        .log_file = run.dir + "/etcd.log"},
                       &ports, [&run] { return run.interrupt->Received(); });
  if (!etcd.ok()) return Fail("bench failover: starting etcd", etcd.status());
  etcd::ClientOptions client_options;
  client_options.endpoints = {(*etcd)->endpoint()};
  absl::StatusOr<std::unique_ptr<etcd::Client>> client = etcd::Client::Connect(client_options);
  if (!client.ok()) return Fail("bench failover: etcd", client.status());

  std::vector<Duration> gaps;
  int failed = 0;
  bool interrupted = false;
  {
    ElectPeer peer(run, *etcdctl, (*etcd)->endpoint(), client->get());
    if (absl::Status s = peer.Prepare(); !s.ok()) return Fail("bench failover: etcdctl elect", s);
    for (int t = 1; t <= run.trials; ++t) {
      const int leader = peer.leader();
      absl::StatusOr<Duration> gap = peer.Trial();
      if (!gap.ok()) {
        if (gap.status().code() == absl::StatusCode::kCancelled) {
          interrupted = true;
          break;
        }
        ++failed;
        std::fprintf(stderr, "trial %d/%d: etcdctl elect kill9 failed: %s\n", t, run.trials,
                     std::string(gap.status().message()).c_str());
        break;  // the two electors are in an unknown state
      }
      gaps.push_back(*gap);
      std::fprintf(stderr, "trial %d/%d: etcdctl elect kill9 %s -> %s, gap %.1f ms\n", t,
                   run.trials, peer.proposal(leader).c_str(), peer.proposal(1 - leader).c_str(),
                   Ms(*gap));
    }
  }  // the electors are killed here, before etcd
  client->reset();
  (*etcd)->Stop();

  std::sort(gaps.begin(), gaps.end());
  const double max_ms = gaps.empty() ? 0 : Ms(gaps.back());
  if (run.options.json) {
    nlohmann::json out = {{"peer", "etcdctl-elect"},
                          {"kind", "kill9"},
                          {"trials", gaps.size()},
                          {"failed", failed},
                          {"p50_ms", QuantileMs(gaps, 0.5)},
                          {"p99_ms", QuantileMs(gaps, 0.99)},
                          {"max_ms", max_ms},
                          {"session_ttl_s", 60}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf(
        "failover peer=etcdctl-elect kind=kill9 trials=%zu p50=%.1fms p99=%.1fms max=%.1fms "
        "session_ttl=60s%s\n",
        gaps.size(), QuantileMs(gaps, 0.5), QuantileMs(gaps, 0.99), max_ms,
        failed > 0 ? absl::StrCat(" failed=", failed).c_str() : "");
  }
  std::fflush(stdout);
  const bool complete = !interrupted && failed == 0 && static_cast<int>(gaps.size()) == run.trials;
  return complete ? kExitOk : kExitRuntimeError;
}

}  // namespace coordha::cli
