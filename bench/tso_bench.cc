// AllocTimestamp throughput and latency (DESIGN.md §10 "bench tso").
//
// Starts a real etcd and one `coordha run rootcoord` (the one this build made), then, for 1..64
// concurrent callers, measures AllocTimestamp through coordha::client::Client with batching off
// (one RPC per call) and on (concurrent calls merged into one RPC, PD-style), and the peer a TSO
// is often built from: a plain etcd transaction per timestamp (compare-and-swap on one key).
//
//   build/bench/coordha_tso_bench [--seconds S] [--max-callers N]
//
// Prints one line per (mode, callers): calls/s, p50, p99 and max latency.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "client/client.h"
#include "etcd/client.h"
#include "support/coordha_process.h"
#include "support/etcd_cluster.h"

namespace {

using coordha::BootClock;
using coordha::Deadline;
using std::chrono::duration_cast;
using std::chrono::microseconds;

struct Result {
  int64_t calls = 0;
  double seconds = 0;
  std::vector<int64_t> latencies_us;
  int64_t errors = 0;
};

// Runs `call` from `callers` threads for `seconds`; each call's latency is recorded.
template <typename Call>
Result Measure(int callers, double seconds, Call call) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<int64_t>> per_thread(callers);
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> threads;
  const auto start = BootClock::now();
  for (int t = 0; t < callers; ++t) {
    threads.emplace_back([&, t] {
      while (!stop.load(std::memory_order_relaxed)) {
        const auto begin = BootClock::now();
        if (!call()) errors.fetch_add(1);
        per_thread[t].push_back(duration_cast<microseconds>(BootClock::now() - begin).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measuring period
  stop = true;
  for (auto& t : threads) t.join();
  Result r;
  r.seconds = std::chrono::duration<double>(BootClock::now() - start).count();
  for (auto& v : per_thread) r.latencies_us.insert(r.latencies_us.end(), v.begin(), v.end());
  r.calls = static_cast<int64_t>(r.latencies_us.size());
  r.errors = errors.load();
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  return r;
}

void Print(const char* mode, int callers, const Result& r, int64_t rpcs) {
  auto pct = [&](double p) -> double {
    if (r.latencies_us.empty()) return 0;
    size_t i = std::min(r.latencies_us.size() - 1,
                        static_cast<size_t>(p * static_cast<double>(r.latencies_us.size())));
    return static_cast<double>(r.latencies_us[i]) / 1000.0;
  };
  std::printf("tso %-22s callers=%-3d calls/s=%-9.0f p50=%.3fms p99=%.3fms max=%.3fms", mode,
              callers, static_cast<double>(r.calls) / r.seconds, pct(0.50), pct(0.99),
              r.latencies_us.empty() ? 0.0 : static_cast<double>(r.latencies_us.back()) / 1000);
  if (rpcs >= 0) std::printf(" rpcs/s=%.0f", static_cast<double>(rpcs) / r.seconds);
  if (r.errors > 0) std::printf(" errors=%lld", static_cast<long long>(r.errors));
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  int max_callers = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (flag == "--max-callers") {
      max_callers = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: coordha_tso_bench [--seconds S] [--max-callers N]\n");
      return 2;
    }
  }
  auto etcd = coordha::testing::EtcdCluster::Start({});
  if (!etcd.ok()) {
    std::fprintf(stderr, "coordha_tso_bench: cannot start etcd: %s\n",
                 std::string(etcd.status().message()).c_str());
    return 1;
  }
  auto rootcoord = coordha::testing::CoordhaProcess::Start(
      {.role = "rootcoord", .etcd_endpoints = (*etcd)->ClientEndpoints(), .dir = (*etcd)->dir()});
  if (!rootcoord.ok() || !(*rootcoord)
                              ->AwaitState(
                                  [](const coordha::v1::GetComponentStatesResponse& r) {
                                    return r.state().state() == coordha::v1::Healthy;
                                  },
                                  Deadline::In(std::chrono::seconds(30)))) {
    std::fprintf(stderr, "coordha_tso_bench: rootcoord did not become active\n");
    return 1;
  }
  coordha::etcd::ClientOptions etcd_options;
  etcd_options.endpoints = (*etcd)->ClientEndpoints();
  auto kv = coordha::etcd::Client::Connect(etcd_options);
  if (!kv.ok()) return 1;

  std::printf("# %s, etcd %s, rootcoord pid %d, %.1f s per point\n", "coordha_tso_bench",
              (*etcd)->ClientEndpoint(0).c_str(), (*rootcoord)->pid(), seconds);
  std::vector<int> callers_list;
  for (int c = 1; c <= max_callers; c *= 2) callers_list.push_back(c);

  for (bool batched : {false, true}) {
    coordha::client::ClientOptions options;
    options.etcd = etcd_options;
    options.batch_timestamps = batched;
    auto client = coordha::client::Client::Create(options);
    if (!client.ok()) return 1;
    (void)(*client)->AllocTimestamp(1);  // discover the active before measuring
    for (int callers : callers_list) {
      const int64_t rpcs_before = (*client)->stats().timestamp_rpcs;
      Result r = Measure(callers, seconds, [&] { return (*client)->AllocTimestamp(1).ok(); });
      Print(batched ? "coordha-batched" : "coordha-unbatched", callers, r,
            (*client)->stats().timestamp_rpcs - rpcs_before);
    }
  }
  // The peer: one etcd transaction per timestamp (read, then compare-and-swap the counter).
  const std::string key = "bench/plain-etcd-tso";
  for (int callers : callers_list) {
    Result r = Measure(callers, seconds, [&] {
      for (int attempt = 0; attempt < 100; ++attempt) {
        auto current = (*kv)->Get(key);
        if (!current.ok()) return false;
        int64_t value = 0;
        coordha::etcd::Txn txn;
        if (current->has_value()) {
          if (!absl::SimpleAtoi((*current)->value, &value)) return false;
          txn.compares.push_back(coordha::etcd::Compare::ModRevision(
              key, coordha::etcd::Compare::Op::kEqual, (*current)->mod_revision));
        } else {
          txn.compares.push_back(
              coordha::etcd::Compare::Version(key, coordha::etcd::Compare::Op::kEqual, 0));
        }
        txn.success.push_back(coordha::etcd::TxnOp::Put(key, std::to_string(value + 1)));
        auto done = (*kv)->Commit(txn);
        if (done.ok() && done->succeeded) return true;
      }
      return false;
    });
    Print("plain-etcd-txn", callers, r, -1);
  }
  (void)(*rootcoord)->Signal(SIGTERM);
  (void)(*rootcoord)->process().WaitForExit(Deadline::In(std::chrono::seconds(10)));
  return 0;
}
