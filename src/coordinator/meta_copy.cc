#include "coordinator/meta_copy.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"

namespace coordha::coordinator {
namespace {

constexpr Duration kLoadReadTimeout = std::chrono::seconds(5);
constexpr Duration kFirstRetryBackoff = std::chrono::milliseconds(50);
constexpr char kEpochKey[] = "epoch";

}  // namespace

MetaCopy::MetaCopy(etcd::Client* client, std::string prefix, MetaCopyOptions options)
    : client_(client), prefix_(std::move(prefix)), options_(std::move(options)) {}

MetaCopy::~MetaCopy() { Stop(); }

void MetaCopy::Start() {
  loader_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

void MetaCopy::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  changed_.SignalAll();
  if (loader_.joinable()) {
    loader_.request_stop();
    loader_.join();
  }
}

void MetaCopy::Notify() {
  changed_.SignalAll();
  if (listener_) listener_();
}

void MetaCopy::Run(std::stop_token stop) {
  Duration backoff = kFirstRetryBackoff;
  bool warned = false;
  auto wait = [this](Deadline until) {
    MutexLock lock(&mu_);
    changed_.Await(
        &mu_,
        [this] {
          mu_.AssertHeld();
          return stopping_ || watch_ended_;
        },
        until);
    return stopping_;
  };
  while (!stop.stop_requested()) {
    // S6: etcd may be down at start or after a compaction; keep trying until Stop().
    absl::StatusOr<int64_t> revision = Load();
    if (!revision.ok()) {
      if (!warned) {
        spdlog::warn("{}: cannot load {} ({}); retrying", options_.name, prefix_,
                     revision.status().message());
        warned = true;
      }
      if (wait(Deadline::In(backoff))) return;
      backoff = std::min<Duration>(backoff * 2, options_.max_retry_backoff);
      continue;
    }
    if (warned) spdlog::info("{}: loaded {} at revision {}", options_.name, prefix_, *revision);
    warned = false;
    backoff = kFirstRetryBackoff;

    // L5: follow every change after the loaded revision.
    etcd::WatchOptions watch_options;
    watch_options.prefix = true;
    watch_options.start_revision = *revision + 1;
    watch_options.progress_interval = options_.watch_progress_interval;
    watch_options.progress_timeout = options_.watch_progress_timeout;
    etcd::Watcher::Callbacks callbacks;
    callbacks.on_events = [this](const std::vector<etcd::WatchEvent>& events) { OnEvents(events); };
    callbacks.on_compacted = [this](int64_t compact_revision) {
      // L4: events were lost for good; reload at the current revision.
      spdlog::info("{}: watch compacted at revision {}; reloading", options_.name,
                   compact_revision);
      {
        MutexLock lock(&mu_);
        watch_ended_ = true;
      }
      changed_.SignalAll();
    };
    std::unique_ptr<etcd::Watcher> watcher =
        etcd::Watcher::Start(client_, prefix_, watch_options, std::move(callbacks));
    const bool stopping = wait(Deadline());
    watcher->Stop();
    if (stopping) return;
    MutexLock lock(&mu_);
    watch_ended_ = false;
  }
}

absl::StatusOr<int64_t> MetaCopy::Load() {
  etcd::RangeOptions all;
  all.prefix = true;
  COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult read,
                           client_->Range(prefix_, all, Deadline::In(kLoadReadTimeout)));
  {
    MutexLock lock(&mu_);
    kvs_.clear();
    for (etcd::KeyValue& kv : read.kvs) {
      std::string rel = kv.key.substr(prefix_.size());
      kvs_[std::move(rel)] = std::move(kv);
    }
    applied_revision_ = std::max(applied_revision_, read.revision);
    loaded_ = true;
    ++loads_;
  }
  Notify();
  return read.revision;
}

void MetaCopy::OnEvents(const std::vector<etcd::WatchEvent>& events) {
  {
    MutexLock lock(&mu_);
    for (const etcd::WatchEvent& event : events) {
      if (!absl::StartsWith(event.kv.key, prefix_)) continue;
      std::string rel = event.kv.key.substr(prefix_.size());
      if (event.type == etcd::WatchEvent::Type::kDelete) {
        kvs_.erase(rel);
      } else {
        kvs_[std::move(rel)] = event.kv;
      }
      applied_revision_ = std::max(applied_revision_, event.kv.mod_revision);
    }
  }
  Notify();
}

absl::Status MetaCopy::CatchUp(int64_t revision, Deadline deadline) const {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return stopping_ || applied_revision_ >= revision;
      },
      deadline);
  if (applied_revision_ >= revision) return absl::OkStatus();
  if (stopping_) return absl::CancelledError(absl::StrCat(options_.name, ": stopped"));
  return absl::DeadlineExceededError(absl::StrCat(options_.name, ": the copy has applied revision ",
                                                  applied_revision_, ", not yet ", revision,
                                                  " (etcd unreachable or the watch is stuck?)"));
}

absl::Status MetaCopy::CatchUpThroughBarrier(const session::Leadership& leadership,
                                             Deadline deadline) {
  etcd::Txn barrier;
  barrier.success.push_back(
      etcd::TxnOp::Put(prefix_ + kEpochKey, std::to_string(leadership.epoch())));
  Duration backoff = std::chrono::milliseconds(10);
  while (true) {
    // S1: fenced like every write of the active; the Put is idempotent, so an unknown outcome is
    // simply tried again.
    absl::StatusOr<etcd::TxnResult> written = leadership.FencedCommit(barrier, deadline);
    if (written.ok()) return CatchUp(written->revision, deadline);
    if (!IsOutcomeUnknown(written.status()) || deadline.Expired()) {
      return Annotate(written.status(), absl::StrCat(options_.name, ": the barrier write"));
    }
    std::this_thread::sleep_for(std::min(backoff, deadline.Remaining()));  // retry backoff
    backoff = std::min(backoff * 2, options_.max_retry_backoff);
  }
}

absl::Status MetaCopy::CatchUpAsActive(const session::Leadership& leadership, Deadline deadline) {
  return CatchUpThroughBarrier(leadership, deadline);
}

absl::Status MetaCopy::CatchUpWithEtcd(Deadline deadline) {
  COORDHA_RETURN_IF_ERROR(CatchUp(1, deadline));  // loaded
  etcd::RangeOptions newer;
  newer.prefix = true;
  newer.keys_only = true;
  newer.min_mod_revision = applied_revision() + 1;
  COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult read, client_->Range(prefix_, newer, deadline));
  int64_t newest = 0;
  for (const etcd::KeyValue& kv : read.kvs) newest = std::max(newest, kv.mod_revision);
  return CatchUp(newest, deadline);
}

absl::StatusOr<etcd::TxnResult> MetaCopy::Commit(const session::Leadership& leadership,
                                                 etcd::Txn txn, Deadline deadline) {
  COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult result,
                           leadership.FencedCommit(std::move(txn), deadline));
  if (result.succeeded) {
    COORDHA_RETURN_IF_ERROR(CatchUp(result.revision, deadline));
  } else {
    // The revision of a failed Txn is etcd's newest, likely a write outside this prefix.
    COORDHA_RETURN_IF_ERROR(CatchUpThroughBarrier(leadership, deadline));
  }
  return result;
}

int64_t MetaCopy::applied_revision() const {
  MutexLock lock(&mu_);
  return applied_revision_;
}

bool MetaCopy::loaded() const {
  MutexLock lock(&mu_);
  return loaded_;
}

absl::StatusOr<int64_t> MetaCopy::Lag() const {
  // As the rootcoord catalog: etcd has no cheap count of changes after a revision, so the lag is
  // what the watch knows; activation catches up exactly through the barrier.
  if (!loaded()) return absl::UnavailableError(absl::StrCat(options_.name, ": still loading"));
  return 0;
}

int64_t MetaCopy::loads() const {
  MutexLock lock(&mu_);
  return loads_;
}

std::optional<etcd::KeyValue> MetaCopy::Get(const std::string& rel) const {
  MutexLock lock(&mu_);
  auto it = kvs_.find(rel);
  if (it == kvs_.end()) return std::nullopt;
  return it->second;
}

std::vector<etcd::KeyValue> MetaCopy::List(const std::string& rel_prefix) const {
  MutexLock lock(&mu_);
  std::vector<etcd::KeyValue> out;
  for (auto it = kvs_.lower_bound(rel_prefix);
       it != kvs_.end() && absl::StartsWith(it->first, rel_prefix); ++it) {
    out.push_back(it->second);
  }
  return out;
}

}  // namespace coordha::coordinator
