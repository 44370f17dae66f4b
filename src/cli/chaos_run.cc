// `coordha chaos`: a chaos run against rootcoord (issue "Chaos and correctness"). A private etcd
// (3 members when an etcd nemesis is on) and two `coordha run rootcoord` replicas (the bench
// harness, bench_cluster.h; each in a network namespace of its own when a network nemesis is on,
// chaos_net.h); clients that call AllocTimestamp, AllocID and CreateCollection without pause and
// record every operation (chaos/history.h); a nemesis that, one fault at a time at seeded random
// times, does one of
//   kill9 / term / stop   SIGKILL, SIGTERM, or SIGSTOP then SIGCONT of the active or the standby
//   etcd-restart          every etcd member killed (SIGKILL or SIGTERM), started again 0.5-3 s
//   later etcd-member-kill      the etcd leader SIGKILLed (the leadership moves), started again 1-4
//   s later partition / reject    the active or the standby cut off from etcd and its peer for 2-8
//   s:
//                         packets dropped / answered with TCP resets; the clients still reach it
// and brings the cluster back. At the end the catalog is read, the history written to
// DIR/history.jsonl with a timeline picture (DIR/timeline.svg, DIR/timeline.html), the takeovers
// counted by cause, and the checker (chaos/checker.h) run over the history.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "chaos/checker.h"
#include "chaos/history.h"
#include "chaos/timeline.h"
#include "cli/bench_cluster.h"
#include "cli/commands.h"
#include "common/mutex.h"
#include "common/status.h"
#include "config/config.h"
#include "nlohmann/json.hpp"
#include "rootcoord/schema.h"
#include "session/keys.h"

namespace coordha::cli {
namespace {

using chaos::Fault;
using chaos::Operation;

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
constexpr int kExitUsage = 2;
// A fault of the active must be followed by an answer within this (same machine: proof or a
// clean resign takes milliseconds; a frozen or cut-off active is ended after suspectAfter +
// serveGrant, at worst when its lease expires: TTL (10 s) + 1 s (L3)). An etcd outage adds its
// own length.
constexpr int64_t kCrashBoundMs = 5000;
constexpr int64_t kSlowBoundMs = 12000;

const std::vector<std::string>& AllNemeses() {
  static const std::vector<std::string> all = {
      "kill9", "term", "stop", "etcd-restart", "etcd-member-kill", "partition", "reject"};
  return all;
}
bool IsEtcdNemesis(const std::string& n) { return n == "etcd-restart" || n == "etcd-member-kill"; }
bool IsNetworkNemesis(const std::string& n) { return n == "partition" || n == "reject"; }

// The client ports of `endpoints` ("host:port").
std::vector<int> PortsOf(const std::vector<std::string>& endpoints) {
  std::vector<int> ports;
  for (const std::string& e : endpoints)
    ports.push_back(std::atoi(e.substr(e.rfind(':') + 1).c_str()));
  return ports;
}

// Every takeover of `role` this run, by cause: the versions of <meta>/coordha/failover/<role>,
// read newest to oldest (the run never compacts).
std::map<std::string, int> TakeoversByCause(BenchCluster& cluster, const std::string& role) {
  std::map<std::string, int> causes;
  etcd::ClientOptions options;
  options.endpoints = cluster.etcd().endpoints();
  absl::StatusOr<std::unique_ptr<etcd::Client>> client = etcd::Client::Connect(options);
  if (!client.ok()) return causes;
  config::EtcdConfig etcd_config;
  etcd_config.root_path = cluster.root_path();
  const std::string key = session::Keys(etcd_config.MetaRoot()).FailoverPrefix() + role;
  int64_t revision = 0;
  for (int i = 0; i < 100000; ++i) {
    absl::StatusOr<etcd::RangeResult> read =
        (*client)->Range(key, {.revision = revision}, Deadline::In(std::chrono::seconds(5)));
    if (!read.ok() || read->kvs.empty()) break;
    const etcd::KeyValue& kv = read->kvs.front();
    const nlohmann::json j = nlohmann::json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
    ++causes[j.is_object() && j.contains("cause") && j["cause"].is_string()
                 ? j["cause"].get<std::string>()
                 : std::string("unknown")];
    if (kv.version <= 1) break;
    revision = kv.mod_revision - 1;
  }
  return causes;
}
// Unknown DDL outcomes are retried with the same request ID this many times.
constexpr int kDdlRetries = 3;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "coordha: %s\n", message.c_str());
  return code;
}

// Every operation and fault, with times in microseconds since the run began.
class Recorder {
 public:
  Recorder() : start_(BootClock::now()) {}
  int64_t Now() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(BootClock::now() - start_).count();
  }
  void Add(Operation op) {
    MutexLock lock(&mu_);
    history_.ops.push_back(std::move(op));
  }
  void Add(Fault fault) {
    MutexLock lock(&mu_);
    history_.faults.push_back(std::move(fault));
  }
  chaos::History Take() {
    MutexLock lock(&mu_);
    return std::move(history_);
  }

 private:
  const BootTime start_;
  Mutex mu_;
  chaos::History history_ ABSL_GUARDED_BY(mu_);
};

Operation::Outcome OutcomeOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return Operation::Outcome::kOk;
    case absl::StatusCode::kUnknown:  // the client's "some attempt may have applied"
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnavailable:
      return Operation::Outcome::kUnknown;
    default:
      return Operation::Outcome::kFailed;
  }
}

// datacoord's part of the run: a client of its active and the collection whose rows it grants.
struct DataTarget {
  client::Client* client = nullptr;  // null: no datacoord in the run
  int64_t collection_id = 0;
  std::vector<std::string> channels;  // the collection's virtual channels
};

// Rows in `channel` of `data`'s collection: one seg operation.
void GrantRows(const DataTarget& data, Recorder* recorder, int id, std::mt19937_64& rng) {
  Operation op;
  op.client = id;
  op.kind = Operation::Kind::kSegment;
  op.role = "datacoord";
  v1::AssignSegmentIDRequest request;
  v1::SegmentIDRequest* r = request.add_requests();
  r->set_collection_id(data.collection_id);
  r->set_channel(data.channels[rng() % data.channels.size()]);
  r->set_count(1 + static_cast<uint32_t>(rng() % 500));
  op.invoke_us = recorder->Now();
  auto granted = data.client->AssignSegmentID(std::move(request));
  op.complete_us = recorder->Now();
  if (granted.status().code() == absl::StatusCode::kCancelled) return;
  op.outcome = OutcomeOf(granted.status());
  if (granted.ok()) {
    if (granted->value.assignments_size() != 1) {
      op.outcome = Operation::Outcome::kFailed;
      op.error = "not one assignment";
    } else {
      const v1::SegmentIDAssignment& a = granted->value.assignments(0);
      op.segment = a.segment_id();
      op.first = static_cast<uint64_t>(a.row_offset());
      op.count = a.count();
      op.server_id = granted->from.server_id;
      op.epoch = granted->from.epoch;
    }
  }
  recorder->Add(std::move(op));
}

// One client: its own random stream, calls without pause until `stop`.
void ClientLoop(client::Client* c, const DataTarget* data, Recorder* recorder, int id,
                uint64_t seed, const std::atomic<bool>* stop) {
  std::mt19937_64 rng(seed);
  int64_t next_ddl = 0;
  while (!stop->load()) {
    Operation op;
    op.client = id;
    // With datacoord in the run, one call in four is its: row grants, and now and then a flush
    // (it seals the growing segments, so new ones are opened across failovers).
    if (data->client != nullptr && rng() % 4 == 0) {
      if (rng() % 20 == 0) {
        v1::FlushRequest flush;
        flush.set_collection_id(data->collection_id);
        if (data->client->Flush(std::move(flush)).status().code() == absl::StatusCode::kCancelled) {
          return;
        }
      } else {
        GrantRows(*data, recorder, id, rng);
      }
      continue;
    }
    // Mostly timestamps and IDs; one call in ten creates a collection (the catalog grows with
    // every one, and a long run must not be about a huge catalog).
    const uint64_t pick = rng() % 10;
    if (pick < 5) {
      op.kind = Operation::Kind::kTimestamp;
      const uint32_t count = 1 + static_cast<uint32_t>(rng() % 4);
      op.invoke_us = recorder->Now();
      absl::StatusOr<client::TimestampRange> ts = c->AllocTimestamp(count);
      op.complete_us = recorder->Now();
      if (ts.status().code() == absl::StatusCode::kCancelled) return;
      op.outcome = OutcomeOf(ts.status());
      if (ts.ok()) {
        op.first = ts->first;
        op.count = ts->count;
        op.server_id = ts->from.server_id;
        op.epoch = ts->from.epoch;
      }
      recorder->Add(std::move(op));
    } else if (pick < 9) {
      op.kind = Operation::Kind::kId;
      const uint32_t count = 1 + static_cast<uint32_t>(rng() % 16);
      op.invoke_us = recorder->Now();
      absl::StatusOr<client::IdRange> ids = c->AllocID(count);
      op.complete_us = recorder->Now();
      if (ids.status().code() == absl::StatusCode::kCancelled) return;
      op.outcome = OutcomeOf(ids.status());
      if (ids.ok()) {
        op.first = static_cast<uint64_t>(ids->begin);
        op.count = static_cast<uint32_t>(ids->end - ids->begin);
        op.server_id = ids->from.server_id;
        op.epoch = ids->from.epoch;
      }
      recorder->Add(std::move(op));
    } else {
      // A new collection; an unknown outcome is retried with the same request ID (a retry across
      // a failover must not apply twice).
      const std::string name = absl::StrCat("chaos_", id, "_", next_ddl);
      const std::string request_id = absl::StrCat("chaos-", id, "-", next_ddl);
      ++next_ddl;
      for (int attempt = 0; attempt <= kDdlRetries && !stop->load(); ++attempt) {
        Operation ddl;
        ddl.kind = Operation::Kind::kDdl;
        ddl.client = id;
        ddl.name = name;
        ddl.request_id = request_id;
        ddl.invoke_us = recorder->Now();
        absl::StatusOr<client::DdlOutcome> made = c->CreateCollection(
            "", rootcoord::QuickSchema(name, 4), 1, client::CallOptions{.request_id = request_id});
        ddl.complete_us = recorder->Now();
        if (made.status().code() == absl::StatusCode::kCancelled) return;
        ddl.outcome = OutcomeOf(made.status());
        if (made.ok()) {
          ddl.server_id = made->from.server_id;
          ddl.epoch = made->from.epoch;
        } else if (made.status().code() == absl::StatusCode::kAlreadyExists) {
          ddl.error = "ALREADY_EXISTS";
        } else {
          ddl.error = absl::StatusCodeToString(made.status().code());
        }
        const bool retry = ddl.outcome == Operation::Outcome::kUnknown;
        recorder->Add(std::move(ddl));
        if (!retry) break;
      }
    }
  }
}

// Makes datacoord's client (discovery through its own etcd client) and the collection its clients
// ask rows of, created through rootcoord.
absl::Status PrepareDataTarget(BenchCluster& cluster, std::unique_ptr<etcd::Client>* discovery,
                               std::unique_ptr<client::Client>* data_client, DataTarget* data) {
  etcd::ClientOptions etcd_options;
  etcd_options.endpoints = cluster.etcd().endpoints();
  COORDHA_ASSIGN_OR_RETURN(*discovery, etcd::Client::Connect(etcd_options));
  config::EtcdConfig etcd_config;
  etcd_config.root_path = cluster.root_path();
  client::ClientOptions client_options;
  client_options.etcd_client = discovery->get();
  client_options.meta_root = etcd_config.MetaRoot();
  client_options.role = "datacoord";
  client_options.call_timeout = 3 * cluster.ttl();
  COORDHA_ASSIGN_OR_RETURN(*data_client, client::Client::Create(client_options));
  const std::string name = "chaos_segments";
  absl::StatusOr<client::DdlOutcome> made =
      cluster.client().CreateCollection("", rootcoord::QuickSchema(name, 4), 2);
  if (!made.ok()) return made.status();
  COORDHA_ASSIGN_OR_RETURN(auto described, cluster.client().DescribeCollection("", name));
  data->client = data_client->get();
  data->collection_id = described.value.collection_id();
  data->channels.assign(described.value.virtual_channel_names().begin(),
                        described.value.virtual_channel_names().end());
  if (data->channels.empty()) return absl::InternalError("the collection has no channels");
  return absl::OkStatus();
}

}  // namespace

int ChaosRunCommand(const ChaosOptions& options) {
  absl::StatusOr<Duration> duration = config::ParseDuration(options.duration, absl::Seconds(1));
  if (!duration.ok() || *duration <= Duration::zero()) {
    return Fail(kExitUsage, absl::StrCat("--duration '", options.duration,
                                         "': use a number of seconds, or 90s, 2m, 1h"));
  }
  std::vector<std::string> nemeses = absl::StrSplit(options.nemesis, ',', absl::SkipEmpty());
  if (options.nemesis == "all") {
    nemeses = AllNemeses();
    if (absl::Status net = ChaosNet::CanRun(); !net.ok()) {
      std::erase_if(nemeses, IsNetworkNemesis);
      std::fprintf(stderr, "chaos: partition and reject left out: %s\n",
                   std::string(net.message()).c_str());
    }
  }
  bool etcd_nemesis = false, network_nemesis = false;
  for (const std::string& n : nemeses) {
    if (std::find(AllNemeses().begin(), AllNemeses().end(), n) == AllNemeses().end()) {
      return Fail(kExitUsage, absl::StrCat("--nemesis: unknown '", n, "' (all, or some of ",
                                           absl::StrJoin(AllNemeses(), ","), ")"));
    }
    etcd_nemesis |= IsEtcdNemesis(n);
    network_nemesis |= IsNetworkNemesis(n);
  }
  if (nemeses.empty()) return Fail(kExitUsage, "--nemesis: name at least one");
  const std::vector<std::string> coordinators =
      absl::StrSplit(options.coordinators, ',', absl::SkipEmpty());
  if (coordinators.empty() || coordinators.front() != "rootcoord" ||
      (coordinators.size() == 2 && coordinators[1] != "datacoord") || coordinators.size() > 2) {
    return Fail(kExitUsage, absl::StrCat("--coordinators '", options.coordinators,
                                         "': rootcoord, or rootcoord,datacoord"));
  }
  if (network_nemesis) {
    if (absl::Status net = ChaosNet::CanRun(); !net.ok()) {
      return Fail(kExitUsage, std::string(net.message()));
    }
  }
  const uint64_t seed = options.seed != 0 ? options.seed : static_cast<uint64_t>(time(nullptr));
  std::string out = options.out.empty() ? absl::StrCat("coordha-chaos-", seed) : options.out;
  if (mkdir(out.c_str(), 0755) != 0 && errno != EEXIST) {
    return Fail(kExitRuntimeError, absl::StrCat("cannot create ", out, ": ", strerror(errno)));
  }

  Interrupt interrupt;  // before any thread
  std::fprintf(stderr, "chaos: seed %llu, %s, nemeses %s, %d clients; logs and history in %s\n",
               static_cast<unsigned long long>(seed), options.duration.c_str(),
               absl::StrJoin(nemeses, ",").c_str(), options.clients, out.c_str());
  absl::StatusOr<std::unique_ptr<BenchCluster>> started =
      BenchCluster::Start(BenchClusterOptions{.self_binary = options.self_binary,
                                              .dir = out,
                                              .etcd_members = etcd_nemesis ? 3 : 1,
                                              .roles = coordinators,
                                              .own_network = network_nemesis},
                          &interrupt);
  if (!started.ok()) return Fail(kExitRuntimeError, std::string(started.status().message()));
  BenchCluster& cluster = **started;

  // datacoord's client, and the collection whose rows its clients ask for.
  DataTarget data;
  std::unique_ptr<etcd::Client> discovery;
  std::unique_ptr<client::Client> data_client;
  if (std::find(coordinators.begin(), coordinators.end(), "datacoord") != coordinators.end()) {
    absl::Status ready = PrepareDataTarget(cluster, &discovery, &data_client, &data);
    if (!ready.ok()) {
      return Fail(kExitRuntimeError,
                  absl::StrCat("chaos: preparing datacoord's collection: ", ready.message()));
    }
  }

  Recorder recorder;
  std::atomic<bool> stop_clients{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < options.clients; ++i) {
    clients.emplace_back(ClientLoop, &cluster.client(), &data, &recorder, i, seed * 1000 + i + 1,
                         &stop_clients);
  }

  // The nemesis, on this thread (the one that started the replicas).
  std::mt19937_64 rng(seed);
  std::map<std::string, int> injected;
  const Deadline end = Deadline::In(*duration);
  std::string trouble;
  while (!end.Expired() && !interrupt.Received()) {
    if (interrupt.Sleep(std::chrono::milliseconds(1000 + rng() % 2000))) break;
    for (size_t r = 0; r < cluster.replica_count(); ++r) {
      if (!cluster.replica(r).Running()) (void)cluster.replica(r).Start();
    }
    if (absl::Status ready = cluster.etcd().AwaitReady(Deadline::In(std::chrono::seconds(30)));
        !ready.ok()) {
      trouble = absl::StrCat("etcd did not come back: ", ready.message());
      break;
    }
    std::vector<BenchCluster::Roles> settled;
    for (size_t role = 0; role < coordinators.size() && trouble.empty(); ++role) {
      absl::StatusOr<BenchCluster::Roles> r =
          cluster.AwaitRoles(Deadline::In(3 * cluster.ttl()), role);
      if (!r.ok()) {
        trouble = absl::StrCat(coordinators[role],
                               ": no active and standby settled: ", r.status().message());
      } else {
        settled.push_back(*r);
      }
    }
    if (!trouble.empty()) break;
    if (end.Expired()) break;
    const std::string kind = nemeses[rng() % nemeses.size()];
    const size_t role = rng() % coordinators.size();
    const BenchCluster::Roles* roles = &settled[role];
    const bool on_active = rng() % 10 < 7;
    const size_t replica = on_active ? roles->active : roles->standby;
    ReplicaProcess& target = cluster.replica(replica);
    Fault fault{.kind = kind,
                .target = absl::StrCat(target.name(), on_active ? " (active)" : " (standby)"),
                .role = IsEtcdNemesis(kind) ? std::string() : coordinators[role],
                .at_us = 0,
                .bound_ms = kSlowBoundMs};
    ++injected[kind];
    if (kind == "kill9" || kind == "term") {
      fault.bound_ms = kCrashBoundMs;
      std::fprintf(stderr, "chaos: %s %s\n", kind.c_str(), fault.target.c_str());
      fault.at_us = recorder.Now();
      (void)target.Signal(kind == "kill9" ? SIGKILL : SIGTERM);
      recorder.Add(fault);
      if (!target.AwaitExit(Deadline::In(3 * cluster.ttl()))) target.Kill();
      (void)target.Start();
    } else if (kind == "stop") {
      std::fprintf(stderr, "chaos: %s %s\n", kind.c_str(), fault.target.c_str());
      fault.at_us = recorder.Now();
      (void)target.Signal(SIGSTOP);
      recorder.Add(fault);
      interrupt.Sleep(std::chrono::milliseconds(500 + rng() % 4000));
      (void)target.Signal(SIGCONT);
    } else if (kind == "etcd-restart") {
      const bool hard = rng() % 2 == 0;
      const auto down = std::chrono::milliseconds(500 + rng() % 2500);
      fault.target = absl::StrCat("etcd (", cluster.etcd().members(), " members, ",
                                  hard ? "SIGKILL" : "SIGTERM", ", down ", down.count(), " ms)");
      fault.bound_ms = kSlowBoundMs + down.count();
      std::fprintf(stderr, "chaos: %s %s\n", kind.c_str(), fault.target.c_str());
      fault.at_us = recorder.Now();
      recorder.Add(fault);
      for (int m = 0; m < cluster.etcd().members(); ++m) {
        cluster.etcd().StopMember(m, hard ? SIGKILL : SIGTERM);
      }
      interrupt.Sleep(down);
      for (int m = 0; m < cluster.etcd().members(); ++m) {
        if (absl::Status s = cluster.etcd().StartMember(m); !s.ok()) trouble = s.ToString();
      }
    } else if (kind == "etcd-member-kill") {
      absl::StatusOr<int> leader = cluster.etcd().Leader(Deadline::In(std::chrono::seconds(10)));
      if (!leader.ok()) {
        trouble = std::string(leader.status().message());
        break;
      }
      const auto down = std::chrono::milliseconds(1000 + rng() % 3000);
      fault.target =
          absl::StrCat("etcd member ", *leader, " (the leader; down ", down.count(), " ms)");
      fault.bound_ms = kSlowBoundMs + down.count();
      std::fprintf(stderr, "chaos: %s %s\n", kind.c_str(), fault.target.c_str());
      fault.at_us = recorder.Now();
      recorder.Add(fault);
      cluster.etcd().StopMember(*leader, SIGKILL);
      interrupt.Sleep(down);
      if (absl::Status s = cluster.etcd().StartMember(*leader); !s.ok()) trouble = s.ToString();
    } else {  // partition, reject
      const auto cut = std::chrono::milliseconds(2000 + rng() % 6000);
      absl::StrAppend(&fault.target, ", ", cut.count(), " ms");
      std::fprintf(stderr, "chaos: %s %s\n", kind.c_str(), fault.target.c_str());
      fault.at_us = recorder.Now();
      if (absl::Status s = cluster.net()->Cut(
              static_cast<int>(replica), PortsOf(cluster.etcd().endpoints()), kind == "reject");
          !s.ok()) {
        trouble = s.ToString();
        break;
      }
      recorder.Add(fault);
      interrupt.Sleep(cut);
      if (absl::Status s = cluster.net()->Heal(static_cast<int>(replica)); !s.ok()) {
        trouble = s.ToString();
        break;
      }
    }
    if (!trouble.empty()) break;
  }

  // Let the clients finish against a settled cluster, then read the catalog.
  for (size_t role = 0; role < coordinators.size(); ++role) {
    (void)cluster.AwaitRoles(Deadline::In(3 * cluster.ttl()), role);
  }
  stop_clients = true;
  for (std::thread& t : clients) t.join();
  chaos::History history = recorder.Take();
  if (data.client != nullptr) {
    v1::GetSegmentInfoRequest request;
    request.set_collection_id(data.collection_id);
    auto segments = data.client->GetSegmentInfo(std::move(request));
    if (segments.ok()) {
      std::map<int64_t, int64_t> rows;
      for (const v1::SegmentInfo& seg : segments->value.segments()) {
        rows[seg.segment_id()] = seg.num_rows();
      }
      history.final_segment_rows = std::move(rows);
    } else {
      std::fprintf(stderr, "chaos: could not read datacoord's segments: %s\n",
                   std::string(segments.status().message()).c_str());
    }
    data_client->Stop();
  }
  auto listed = cluster.client().ListCollections("");
  if (listed.ok()) {
    history.final_collections = std::set<std::string>(listed->value.begin(), listed->value.end());
  } else {
    std::fprintf(stderr, "chaos: could not read the final catalog: %s\n",
                 std::string(listed.status().message()).c_str());
  }
  std::map<std::string, std::map<std::string, int>> takeovers;
  for (const std::string& role : coordinators) takeovers[role] = TakeoversByCause(cluster, role);
  data_client.reset();
  discovery.reset();
  cluster.Stop();
  // etcd's data is of no use after the run (hundreds of MB in a long one); its logs stay.
  for (const auto& entry : std::filesystem::directory_iterator(
           out, std::filesystem::directory_options::skip_permission_denied)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("etcd-", 0) == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }

  const std::string file = out + "/history.jsonl";
  {
    std::ofstream f(file);
    for (const Operation& op : history.ops) f << chaos::ToJsonLine(op) << "\n";
    for (const Fault& fault : history.faults) f << chaos::ToJsonLine(fault) << "\n";
    if (history.final_collections) f << chaos::FinalJsonLine(*history.final_collections) << "\n";
    if (history.final_segment_rows) {
      f << chaos::SegmentsJsonLine(*history.final_segment_rows) << "\n";
    }
    if (!f) return Fail(kExitRuntimeError, absl::StrCat("cannot write ", file));
  }
  std::map<std::string, int> by_outcome;
  std::set<int64_t> epochs;
  for (const Operation& op : history.ops) {
    ++by_outcome[absl::StrCat(chaos::KindName(op.kind), " ", chaos::OutcomeName(op.outcome))];
    if (op.outcome == Operation::Outcome::kOk) epochs.insert(op.epoch);
  }
  std::vector<std::string> faults, outcomes;
  for (const auto& [kind, n] : injected) faults.push_back(absl::StrCat(kind, " ", n));
  for (const auto& [what, n] : by_outcome) outcomes.push_back(absl::StrCat(what, " ", n));
  std::printf("chaos: seed %llu; faults: %s; epochs that answered: %zu\n",
              static_cast<unsigned long long>(seed),
              faults.empty() ? "none" : absl::StrJoin(faults, ", ").c_str(), epochs.size());
  std::printf("chaos: operations: %s\n", absl::StrJoin(outcomes, ", ").c_str());
  for (const auto& [role, by_cause] : takeovers) {
    std::vector<std::string> causes;
    int total = 0;
    for (const auto& [cause, n] : by_cause) {
      causes.push_back(absl::StrCat(cause, " ", n));
      total += n;
    }
    std::printf("chaos: %s takeovers: %d (%s)\n", role.c_str(), total,
                causes.empty() ? "none" : absl::StrJoin(causes, ", ").c_str());
  }
  if (absl::Status drawn = chaos::WriteTimeline(
          history,
          {.title = absl::StrCat("coordha chaos — seed ", seed, ", ", options.duration, ", ",
                                 absl::StrJoin(nemeses, ","))},
          out);
      drawn.ok()) {
    std::printf("chaos: timeline in %s/timeline.html\n", out.c_str());
  } else {
    std::fprintf(stderr, "chaos: no timeline: %s\n", std::string(drawn.message()).c_str());
  }
  std::printf("chaos: history in %s (replay: coordha chaos check %s)\n", file.c_str(),
              file.c_str());
  const std::vector<chaos::InvariantResult> results = chaos::Check(history);
  std::fputs(chaos::Report(results).c_str(), stdout);
  if (!trouble.empty()) return Fail(kExitRuntimeError, trouble);
  if (interrupt.Received()) return kExitRuntimeError;
  return chaos::AllHeld(results) ? kExitOk : kExitRuntimeError;
}

}  // namespace coordha::cli
