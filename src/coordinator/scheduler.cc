#include "coordinator/scheduler.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"
#include "coordinator/gate.h"
#include "session/session_info.h"

namespace coordha::coordinator {
namespace {

constexpr char kAssignmentDir[] = "assignment/";
// etcd's default --max-txn-ops is 128; the fence takes one compare.
constexpr size_t kMaxOpsPerTxn = 100;
// The bound of the policy's OnReports (its fenced writes), apart from the round's.
constexpr Duration kReportTimeout = std::chrono::seconds(2);

struct Record {
  int64_t worker = 0;
  int64_t attempt = 0;
  int64_t mod_revision = 0;
};

std::optional<Record> ParseRecord(const etcd::KeyValue& kv) {
  std::vector<std::string> parts = absl::StrSplit(kv.value, ' ');
  Record record;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &record.worker) ||
      !absl::SimpleAtoi(parts[1], &record.attempt)) {
    return std::nullopt;
  }
  record.mod_revision = kv.mod_revision;
  return record;
}

std::map<std::string, Record> Records(const MetaCopy& copy) {
  std::map<std::string, Record> out;
  const size_t skip = copy.prefix().size() + sizeof(kAssignmentDir) - 1;
  for (const etcd::KeyValue& kv : copy.List(kAssignmentDir)) {
    std::optional<Record> record = ParseRecord(kv);
    if (!record) {
      spdlog::error("{}: unreadable placement record '{}'", kv.key, kv.value);
      continue;
    }
    out[kv.key.substr(skip)] = *record;
  }
  return out;
}

}  // namespace

Scheduler::Scheduler(etcd::Client* client, MetaCopy* copy, SchedulerPolicy* policy,
                     SchedulerOptions options)
    : client_(client), copy_(copy), policy_(policy), options_(std::move(options)) {
  MutexLock lock(&mu_);
  server_id_ = options_.server_id;
}

Scheduler::~Scheduler() { Deactivate(); }

void Scheduler::set_server_id(int64_t id) {
  MutexLock lock(&mu_);
  server_id_ = id;
}

std::map<std::string, int64_t> Scheduler::Place(
    const std::vector<DesiredItem>& desired, const std::map<std::string, int64_t>& current,
    const std::set<int64_t>& live, const std::map<std::string, std::set<int64_t>>& held,
    int max_moves) {
  std::map<std::string, int64_t> placed;
  std::map<int64_t, int> load;
  for (int64_t w : live) load[w] = 0;
  auto least_loaded = [&](const std::set<int64_t>& among) {
    int64_t best = 0;
    for (int64_t w : among) {
      if (!live.contains(w)) continue;
      if (best == 0 || load[w] < load[best]) best = w;
    }
    return best;
  };
  // Free items first: keep those whose worker is live.
  std::vector<const DesiredItem*> homeless;
  for (const DesiredItem& d : desired) {
    if (!d.affinity.empty()) continue;
    auto it = current.find(d.item.id());
    if (it != current.end() && live.contains(it->second)) {
      placed[d.item.id()] = it->second;
      ++load[it->second];
    } else {
      homeless.push_back(&d);
    }
  }
  for (const DesiredItem* d : homeless) {
    int64_t to = 0;
    if (auto h = held.find(d->item.id()); h != held.end()) to = least_loaded(h->second);
    if (to == 0) to = least_loaded(live);
    placed[d->item.id()] = to;
    if (to != 0) ++load[to];
  }
  // Balance: move free items from the most to the least loaded worker, a few per round.
  for (int moves = 0; moves < max_moves && live.size() > 1; ++moves) {
    int64_t most = 0, least = 0;
    for (const auto& [w, n] : load) {
      if (most == 0 || n > load[most]) most = w;
      if (least == 0 || n < load[least]) least = w;
    }
    if (load[most] - load[least] <= 1) break;
    // The last (by id) free item on the most loaded worker.
    std::string move;
    for (const auto& [id, w] : placed) {
      if (w == most) move = id;
    }
    if (move.empty()) break;
    placed[move] = least;
    --load[most];
    ++load[least];
  }
  // Bound items follow their anchor (placed nowhere when it is).
  for (const DesiredItem& d : desired) {
    if (d.affinity.empty()) continue;
    auto it = placed.find(d.affinity);
    placed[d.item.id()] = it == placed.end() ? 0 : it->second;
  }
  return placed;
}

absl::StatusOr<std::map<int64_t, WorkerInfo>> Scheduler::LiveWorkers(Deadline deadline) {
  etcd::RangeOptions all;
  all.prefix = true;
  const std::string prefix =
      absl::StrCat(options_.meta_root, "/session/", options_.worker_role, "-");
  COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult read, client_->Range(prefix, all, deadline));
  std::map<int64_t, WorkerInfo> live;
  for (const etcd::KeyValue& kv : read.kvs) {
    absl::StatusOr<session::SessionInfo> info = session::ParseSessionInfo(kv.value);
    if (!info.ok() || info->stopping || info->server_id == 0) continue;
    live[info->server_id] = WorkerInfo{.server_id = info->server_id, .address = info->address};
  }
  return live;
}

v1::Worker::Stub* Scheduler::StubFor(const std::string& address) {
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::Worker::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  return stub.get();
}

void Scheduler::Collect(const std::map<int64_t, WorkerInfo>& workers, Deadline deadline) {
  for (const auto& [id, worker] : workers) {
    if (deadline.Expired()) {
      spdlog::warn("{}: collecting the distribution ran out of time before {}-{}",
                   options_.coordinator, options_.worker_role, id);
      break;
    }
    grpc::ClientContext context;
    context.set_deadline(deadline.Min(Deadline::In(options_.rpc_timeout)).ToWall());
    v1::GetDistributionRequest request;
    request.set_coordinator(options_.coordinator);
    v1::GetDistributionResponse response;
    grpc::Status status = StubFor(worker.address)->GetDistribution(&context, request, &response);
    if (!status.ok()) {
      spdlog::warn("{}: {}-{} at {} did not report its distribution: {}", options_.coordinator,
                   options_.worker_role, id, worker.address, status.error_message());
      continue;
    }
    MutexLock lock(&mu_);
    for (auto& [item, holders] : held_) holders.erase(id);
    for (const v1::CoordinatorItems& c : response.coordinators()) {
      if (c.coordinator() != options_.coordinator) continue;
      for (const v1::WorkItemStatus& s : c.items()) held_[s.id()].insert(id);
    }
  }
}

absl::Status Scheduler::Activate(const session::Leadership& leadership, Deadline deadline) {
  Deactivate();
  {
    MutexLock lock(&mu_);
    held_.clear();
    states_.clear();
    workers_.clear();
    rounds_ = 0;
  }
  // L5: what the workers really hold, before deciding anything.
  const Deadline collect_by = deadline.Min(Deadline::In(options_.collect_timeout));
  absl::StatusOr<std::map<int64_t, WorkerInfo>> live = LiveWorkers(collect_by);
  if (live.ok()) Collect(*live, collect_by);
  absl::Status first = Round(leadership, deadline);
  if (session::IsFenced(first)) return first;
  if (!first.ok()) {
    // Not fatal: the next rounds retry (S6); the persisted placement stands meanwhile.
    spdlog::warn("{}: first placement round failed: {}", options_.coordinator, first.message());
  }
  loop_ = std::jthread([this, leadership](std::stop_token stop) { Loop(stop, leadership); });
  return absl::OkStatus();
}

void Scheduler::Deactivate() {
  if (loop_.joinable()) {
    {
      MutexLock lock(&mu_);
      loop_.request_stop();
      wake_.SignalAll();
    }
    loop_.join();
  }
  MutexLock lock(&mu_);
  workers_.clear();
}

void Scheduler::Poke() {
  MutexLock lock(&mu_);
  poked_ = true;
  wake_.SignalAll();
}

void Scheduler::Loop(std::stop_token stop, session::Leadership leadership) {
  std::string last_error;
  while (true) {
    {
      MutexLock lock(&mu_);
      wake_.Await(
          &mu_,
          [&] {
            mu_.AssertHeld();
            return stop.stop_requested() || poked_;
          },
          Deadline::In(options_.round_interval));
      poked_ = false;
      if (stop.stop_requested()) return;
    }
    absl::Status round = Round(
        leadership,
        Deadline::In(std::max<Duration>(options_.round_interval * 5, std::chrono::seconds(2))),
        stop);
    if (session::IsFenced(round)) {
      spdlog::warn("{}: deposed (epoch {}): placement stops", options_.coordinator,
                   leadership.epoch());
      return;
    }
    if (!round.ok()) {
      if (std::string error(round.message()); error != last_error) {
        spdlog::warn("{}: placement round failed: {}", options_.coordinator, error);
        last_error = std::move(error);
      }
    } else {
      last_error.clear();
    }
  }
}

absl::Status Scheduler::Round(const session::Leadership& leadership, Deadline deadline,
                              std::stop_token stop) {
  COORDHA_ASSIGN_OR_RETURN(auto live, LiveWorkers(deadline));
  std::set<int64_t> live_ids;
  for (const auto& [id, w] : live) live_ids.insert(id);
  policy_->Housekeep(leadership, deadline);
  std::vector<DesiredItem> desired = policy_->Desired();
  std::map<std::string, Record> records = Records(*copy_);
  std::map<std::string, int64_t> current;
  for (const auto& [id, r] : records) current[id] = r.worker;
  std::map<std::string, std::set<int64_t>> held;
  {
    MutexLock lock(&mu_);
    for (auto& [item, holders] : held_) {
      std::erase_if(holders, [&](int64_t w) { return !live_ids.contains(w); });
    }
    held = held_;
    workers_ = live;
  }
  std::map<std::string, int64_t> placed =
      Place(desired, current, live_ids, held, options_.max_moves_per_round);

  // Persist first (S1), then tell the workers.
  std::vector<etcd::Txn> txns(1);
  auto add = [&](etcd::Compare compare, etcd::TxnOp op) {
    if (txns.back().success.size() >= kMaxOpsPerTxn) txns.emplace_back();
    txns.back().compares.push_back(std::move(compare));
    txns.back().success.push_back(std::move(op));
  };
  std::set<std::string> desired_ids;
  for (const DesiredItem& d : desired) desired_ids.insert(d.item.id());
  for (const auto& [id, to] : placed) {
    if (to == 0) continue;  // no live worker: the record stays until one comes
    auto it = records.find(id);
    if (it != records.end() && it->second.worker == to) continue;
    const std::string key = copy_->Key(kAssignmentDir + id);
    const int64_t attempt = it == records.end() ? 1 : it->second.attempt + 1;
    const int64_t expected = it == records.end() ? 0 : it->second.mod_revision;
    add(etcd::Compare::ModRevision(key, etcd::Compare::Op::kEqual, expected),
        etcd::TxnOp::Put(key, absl::StrCat(to, " ", attempt)));
    if (it != records.end()) {
      spdlog::info("{}: {} moves from {}-{} to {}-{} (attempt {})", options_.coordinator, id,
                   options_.worker_role, it->second.worker, options_.worker_role, to, attempt);
    }
  }
  for (const auto& [id, r] : records) {
    if (desired_ids.contains(id)) continue;
    const std::string key = copy_->Key(kAssignmentDir + id);
    add(etcd::Compare::ModRevision(key, etcd::Compare::Op::kEqual, r.mod_revision),
        etcd::TxnOp::Delete(key));
  }
  for (etcd::Txn& txn : txns) {
    if (txn.success.empty()) continue;
    COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult result,
                             copy_->Commit(leadership, std::move(txn), deadline));
    // A record changed under us (only an earlier epoch's late write could): decide again next
    // round from the newer copy; tell no worker anything this round.
    if (!result.succeeded) return absl::OkStatus();
  }

  // Tell every live worker its whole set.
  records = Records(*copy_);
  std::map<std::string, const v1::WorkItem*> items;
  for (const DesiredItem& d : desired) items[d.item.id()] = &d.item;
  std::vector<int64_t> order;
  int64_t server_id = 0;
  {
    MutexLock lock(&mu_);
    server_id = server_id_;
    // Moves hand over (one item, one worker): the workers that must let go of something are
    // told first, and below an item goes to its new worker only once no other live worker
    // reports holding it — a later round, if the old one did not answer this time.
    std::set<int64_t> losing;
    for (const auto& [id, holders] : held_) {
      auto r = records.find(id);
      for (int64_t w : holders) {
        if (r == records.end() || r->second.worker != w || !items.contains(id)) losing.insert(w);
      }
    }
    for (const auto& [worker_id, worker] : live) {
      if (losing.contains(worker_id)) order.push_back(worker_id);
    }
    for (const auto& [worker_id, worker] : live) {
      if (!losing.contains(worker_id)) order.push_back(worker_id);
    }
  }
  std::vector<ItemReport> reports;
  for (int64_t worker_id : order) {
    const WorkerInfo& worker = live.at(worker_id);
    if (stop.stop_requested()) return absl::CancelledError("placement stopped");
    // S2: command workers only inside this active's serve grant. A worker's epoch check (S4)
    // refuses a deposed active only once it has heard of the newer epoch; the grant covers the
    // rest (a paused active waking up in the middle of a round).
    if (grant_check_ && !grant_check_()) {
      return absl::UnavailableError("the serve grant lapsed: no commands to workers");
    }
    v1::SyncRequest request;
    request.set_coordinator(options_.coordinator);
    request.set_server_id(server_id);
    request.set_epoch(leadership.epoch());
    request.set_worker_id(worker_id);
    {
      MutexLock lock(&mu_);
      for (const auto& [id, r] : records) {
        if (r.worker != worker_id) continue;
        auto item = items.find(id);
        if (item == items.end()) continue;
        auto holders = held_.find(id);
        const bool elsewhere =
            holders != held_.end() && std::any_of(holders->second.begin(), holders->second.end(),
                                                  [&](int64_t w) { return w != worker_id; });
        if (!elsewhere) *request.add_items() = *item->second;
      }
    }
    // Each Sync has its own bound: a hung worker costs one rpc_timeout, not the others' turn.
    grpc::ClientContext context;
    context.set_deadline(Deadline::In(options_.rpc_timeout).ToWall());
    v1::SyncResponse response;
    grpc::Status status = StubFor(worker.address)->Sync(&context, request, &response);
    if (!status.ok()) {
      const v1::ErrorDetail detail = DetailOf(status);
      if (detail.code() == v1::FENCED && detail.epoch() > leadership.epoch()) {
        // S4: the worker has seen a newer active; this one is deposed.
        return session::FencedError(
            absl::StrCat(options_.worker_role, "-", worker_id, " has seen epoch ", detail.epoch()));
      }
      continue;  // unreachable or slow: its items stay where they are; its session decides
    }
    MutexLock lock(&mu_);
    for (auto& [item, holders] : held_) holders.erase(worker_id);
    for (const v1::WorkItemStatus& s : response.items()) {
      held_[s.id()].insert(worker_id);
      states_[s.id()] = s;
      auto r = records.find(s.id());
      if (r == records.end() || r->second.worker != worker_id) continue;
      reports.push_back(ItemReport{.id = s.id(),
                                   .worker_id = worker_id,
                                   .attempt = r->second.attempt,
                                   .placement_revision = r->second.mod_revision,
                                   .state = s.state(),
                                   .detail = s.detail()});
    }
  }
  {
    MutexLock lock(&mu_);
    std::erase_if(states_, [&](const auto& entry) { return !desired_ids.contains(entry.first); });
    std::erase_if(held_, [](const auto& entry) { return entry.second.empty(); });
    ++rounds_;
  }
  if (!reports.empty()) {
    policy_->OnReports(leadership, reports, Deadline::In(kReportTimeout));
  }
  return absl::OkStatus();
}

std::map<std::string, ItemPlacement> Scheduler::Placements() const {
  std::map<std::string, Record> records = Records(*copy_);
  MutexLock lock(&mu_);
  std::map<std::string, ItemPlacement> out;
  for (const auto& [id, r] : records) {
    ItemPlacement& p = out[id];
    p.worker_id = r.worker;
    p.attempt = r.attempt;
    p.mod_revision = r.mod_revision;
    if (auto s = states_.find(id);
        s != states_.end() && held_.contains(id) && held_.at(id).contains(r.worker)) {
      p.state = s->second.state();
      p.detail = s->second.detail();
    }
  }
  return out;
}

std::map<int64_t, WorkerInfo> Scheduler::Workers() const {
  MutexLock lock(&mu_);
  return workers_;
}

int64_t Scheduler::rounds() const {
  MutexLock lock(&mu_);
  return rounds_;
}

}  // namespace coordha::coordinator
