// `coordha bench takeover --collections N` (DESIGN.md §10, L5): the failover gap of rootcoord with
// N collections in its catalog. A hot standby keeps its copy current by watching, so the gap
// should not grow with N.
//
// Fill the catalog through the client library (16 concurrent callers, one quick-form collection
// per call), wait until the standby's copy has caught up, then run kill -9 and SIGTERM trials
// (bench_cluster.h) while two callers allocate timestamps. After the trials the active must still
// list all N collections.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/bench.h"
#include "cli/bench_cluster.h"
#include "common/status.h"
#include "nlohmann/json.hpp"
#include "rootcoord/schema.h"

namespace coordha::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
constexpr int kFillers = 16;
constexpr int64_t kDim = 8;
constexpr auto kFillProgressInterval = std::chrono::seconds(5);
// How long the standby may take to report its copy current.
constexpr auto kCatchUpTimeout = std::chrono::minutes(2);
constexpr int kMaxConsecutiveFailures = 3;

double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

int Fail(const std::string& what, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kCancelled) return kExitRuntimeError;
  std::fprintf(stderr, "coordha: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return kExitRuntimeError;
}

std::string CollectionName(int64_t i) { return absl::StrCat("bench_c", i); }

// The first error of any filler.
class FirstError {
 public:
  void Set(const absl::Status& status) {
    MutexLock lock(&mu_);
    if (status_.ok()) status_ = status;
  }
  absl::Status Get() const {
    MutexLock lock(&mu_);
    return status_;
  }

 private:
  mutable Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// Creates collections bench_c0 .. bench_c<n-1> from kFillers threads (owned and joined here).
absl::Status Fill(client::Client& client, int64_t n, Interrupt* interrupt, Duration* took) {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop{false};
  FirstError error;
  const BootTime start = BootClock::now();
  {
    std::vector<std::jthread> fillers;
    for (int f = 0; f < kFillers; ++f) {
      fillers.emplace_back([&] {
        for (int64_t i; !stop.load() && (i = next.fetch_add(1)) < n;) {
          absl::StatusOr<client::DdlOutcome> created =
              client.CreateCollection("", rootcoord::QuickSchema(CollectionName(i), kDim), 1);
          if (!created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) {
            error.Set(Annotate(created.status(), absl::StrCat("creating ", CollectionName(i))));
            stop = true;
            return;
          }
          done.fetch_add(1);
        }
      });
    }
    BootTime reported = start;
    int64_t reported_done = 0;
    while (done.load() < n && !stop.load()) {
      if (interrupt->Sleep(std::chrono::milliseconds(200))) {
        error.Set(absl::CancelledError("interrupted"));
        stop = true;
        break;
      }
      const BootTime now = BootClock::now();
      if (now - reported >= kFillProgressInterval) {
        const int64_t d = done.load();
        std::fprintf(stderr, "filled %lld/%lld collections (%.0f/s)\n", static_cast<long long>(d),
                     static_cast<long long>(n),
                     static_cast<double>(d - reported_done) / Seconds(now - reported));
        reported = now;
        reported_done = d;
      }
    }
  }  // the fillers end after their current call and are joined
  *took = BootClock::now() - start;
  return error.Get();
}

// Waits until the standby's copy of the catalog is current: its /status field
// standbyLagRevisions reaches 0, or — when /status has no such field — for a fixed time that
// grows with the catalog (noted once on stderr).
absl::Status AwaitStandbyCopy(BenchCluster& cluster, size_t standby, int64_t collections,
                              Interrupt* interrupt, bool* noted) {
  const Deadline deadline = Deadline::In(kCatchUpTimeout);
  while (true) {
    absl::StatusOr<std::string> body = cluster.StatusJson(standby);
    if (body.ok()) {
      const nlohmann::json status = nlohmann::json::parse(*body, nullptr, false);
      if (!status.is_discarded() && status.contains("standbyLagRevisions")) {
        if (status["standbyLagRevisions"].is_number() &&
            status["standbyLagRevisions"].get<int64_t>() == 0) {
          return absl::OkStatus();
        }
      } else if (!status.is_discarded()) {
        const auto wait = std::chrono::seconds(5 + collections / 10000);
        if (!*noted) {
          std::fprintf(stderr,
                       "note: the standby's /status has no standbyLagRevisions; waiting a fixed "
                       "%lld s for its copy before each trial\n",
                       static_cast<long long>(wait.count()));
          *noted = true;
        }
        if (interrupt->Sleep(wait)) return absl::CancelledError("interrupted");
        return absl::OkStatus();
      }
    }
    if (deadline.Expired()) {
      return absl::DeadlineExceededError(
          absl::StrCat("the standby's copy did not catch up within 2 min (last /status: ",
                       body.ok() ? *body : std::string(body.status().message()), ")"));
    }
    if (interrupt->Sleep(std::chrono::milliseconds(100))) {
      return absl::CancelledError("interrupted");
    }
  }
}

struct KindResult {
  FailoverKind kind;
  std::vector<Duration> gaps;  // sorted
  int failed = 0;
};

}  // namespace

int RunTakeoverBench(const BenchRun& run) {
  const BenchOptions& o = run.options;
  const int64_t n = o.collections;
  absl::StatusOr<std::unique_ptr<BenchCluster>> started =
      BenchCluster::Start(BenchClusterOptions{.self_binary = run.self_binary,
                                              .dir = run.dir,
                                              .ttl_seconds = o.ttl_seconds,
                                              .serve_grant = o.serve_grant,
                                              .cross_host = false,
                                              .replica_sets = o.replica_sets},
                          run.interrupt);
  if (!started.ok()) {
    return Fail("bench takeover: starting etcd and two replicas", started.status());
  }
  BenchCluster& cluster = **started;

  Duration fill_took{};
  if (absl::Status s = Fill(cluster.client(), n, run.interrupt, &fill_took); !s.ok()) {
    return Fail("bench takeover: filling the catalog", s);
  }
  const double fill_rate = static_cast<double>(n) / std::max(Seconds(fill_took), 1e-9);
  std::fprintf(stderr, "filled %lld collections in %.1f s (%.0f/s)\n", static_cast<long long>(n),
               Seconds(fill_took), fill_rate);
  cluster.StartLoad();

  std::vector<KindResult> results;
  bool noted = false;
  bool interrupted = false;
  std::vector<Duration> catchups;  // a restarted standby: StandBy -> copy current
  for (FailoverKind kind : {FailoverKind::kKill9, FailoverKind::kTerm}) {
    KindResult& result = results.emplace_back(KindResult{.kind = kind});
    int failed_in_a_row = 0;
    for (int t = 1; t <= run.trials && !interrupted; ++t) {
      absl::StatusOr<BenchCluster::Roles> roles =
          cluster.AwaitRoles(Deadline::In(3 * cluster.ttl() + std::chrono::seconds(10)));
      const BootTime copy_wait = BootClock::now();
      absl::Status ready = roles.ok()
                               ? AwaitStandbyCopy(cluster, roles->standby, n, run.interrupt, &noted)
                               : roles.status();
      // Every standby but the first was restarted by the previous trial: this is its full load.
      if (ready.ok() && !(kind == FailoverKind::kKill9 && t == 1)) {
        catchups.push_back(BootClock::now() - copy_wait);
      }
      absl::StatusOr<TrialResult> r = ready.ok() ? cluster.RunTrial(kind) : ready;
      if (!r.ok()) {
        if (r.status().code() == absl::StatusCode::kCancelled) {
          interrupted = true;
          break;
        }
        ++result.failed;
        std::fprintf(stderr, "trial %d/%d: takeover %s failed: %s\n", t, run.trials,
                     FailoverKindName(kind), std::string(r.status().message()).c_str());
        if (++failed_in_a_row >= kMaxConsecutiveFailures) break;
        continue;
      }
      failed_in_a_row = 0;
      result.gaps.push_back(r->gap);
      std::fprintf(stderr, "trial %d/%d: takeover %s %s\n", t, run.trials, FailoverKindName(kind),
                   TrialSummary(*r).c_str());
    }
    std::sort(result.gaps.begin(), result.gaps.end());
  }

  // L5: nothing of the catalog was lost on the way.
  bool catalog_ok = false;
  if (!interrupted) {
    auto listed = cluster.client().ListCollections("");
    if (listed.ok()) {
      catalog_ok = static_cast<int64_t>(listed->value.size()) == n;
      std::fprintf(stderr, "after the trials server %lld lists %zu collections (%s)\n",
                   static_cast<long long>(listed->from.server_id), listed->value.size(),
                   catalog_ok ? "all of them" : "MISSING SOME");
    } else {
      std::fprintf(stderr, "after the trials ListCollections failed: %s\n",
                   std::string(listed.status().message()).c_str());
    }
  }
  std::sort(catchups.begin(), catchups.end());
  if (!catchups.empty() && !noted) {
    std::fprintf(stderr,
                 "a restarted standby's copy was current %.1f s (p50) / %.1f s (max) after it "
                 "answered StandBy (the replica reports its lag once a second)\n",
                 QuantileMs(catchups, 0.5) / 1000, Seconds(catchups.back()));
  }
  const int64_t stale = cluster.poller().stale_answers();
  if (stale > 0) std::fprintf(stderr, "stale answer: %s\n", cluster.poller().first_stale().c_str());
  cluster.Stop();

  bool complete = !interrupted && catalog_ok;
  nlohmann::json json_results = nlohmann::json::array();
  for (const KindResult& r : results) {
    complete = complete && r.failed == 0 && static_cast<int>(r.gaps.size()) == run.trials;
    const double max_ms = r.gaps.empty() ? 0 : Ms(r.gaps.back());
    if (o.json) {
      json_results.push_back({{"kind", FailoverKindName(r.kind)},
                              {"trials", r.gaps.size()},
                              {"failed", r.failed},
                              {"p50_ms", QuantileMs(r.gaps, 0.5)},
                              {"p99_ms", QuantileMs(r.gaps, 0.99)},
                              {"max_ms", max_ms}});
    } else {
      std::printf(
          "takeover collections=%lld kind=%s trials=%zu p50=%.1fms p99=%.1fms max=%.1fms "
          "stale=%lld ttl=%llds serve_grant=%s%s\n",
          static_cast<long long>(n), FailoverKindName(r.kind), r.gaps.size(),
          QuantileMs(r.gaps, 0.5), QuantileMs(r.gaps, 0.99), max_ms, static_cast<long long>(stale),
          static_cast<long long>(o.ttl_seconds), o.serve_grant.c_str(),
          r.failed > 0 ? absl::StrCat(" failed=", r.failed).c_str() : "");
    }
  }
  if (o.json) {
    nlohmann::json out = {
        {"collections", n},
        {"fill_s", Seconds(fill_took)},
        {"fill_per_s", fill_rate},
        {"catalog_intact", catalog_ok},
        {"stale", stale},
        {"ttl_s", o.ttl_seconds},
        {"serve_grant_s", Seconds(run.serve_grant)},
        {"standby_catchup_max_s", catchups.empty() || noted ? 0.0 : Seconds(catchups.back())},
        {"results", std::move(json_results)}};
    std::printf("%s\n", out.dump().c_str());
  }
  std::fflush(stdout);
  return complete ? kExitOk : kExitRuntimeError;
}

}  // namespace coordha::cli
