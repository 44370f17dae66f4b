#include "worker/epoch_watch.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "etcd/watcher.h"

namespace coordha::worker {

std::vector<std::string> RolesFencedByActiveKey(absl::string_view name) {
  if (name == "mixcoord") return {"datacoord", "querycoord", "indexcoord"};
  for (const char* role : {"rootcoord", "datacoord", "querycoord", "indexcoord"}) {
    if (name == role) return {role};
  }
  return {};
}

EpochWatch::EpochWatch(etcd::Client* client, const session::Keys& keys, Worker* worker,
                       EpochWatchOptions options)
    : client_(client), prefix_(keys.SessionPrefix()), worker_(worker), options_(options) {
  thread_ = std::jthread([this](std::stop_token stop) { Loop(std::move(stop)); });
}

EpochWatch::~EpochWatch() { Stop(); }

void EpochWatch::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  changed_.SignalAll();
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void EpochWatch::Apply(const etcd::KeyValue& kv) {
  if (kv.key.size() <= prefix_.size()) return;
  // S4: the active key's CreateRevision is its role's epoch.
  for (const std::string& role : RolesFencedByActiveKey(kv.key.substr(prefix_.size()))) {
    worker_->RaiseEpoch(role, kv.create_revision);
  }
}

bool EpochWatch::Wait(Deadline deadline, bool wake_on_compaction) {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return stopping_ || (wake_on_compaction && compacted_);
      },
      deadline);
  return stopping_;
}

void EpochWatch::Loop(std::stop_token stop) {
  Duration backoff = std::chrono::milliseconds(100);
  BootTime next_complaint{};
  std::unique_ptr<etcd::Watcher> watcher;
  while (!stop.stop_requested()) {
    absl::StatusOr<etcd::RangeResult> read = client_->Range(
        prefix_, etcd::RangeOptions{.prefix = true}, Deadline::In(options_.request_timeout));
    if (!read.ok()) {
      // S6: never give up on etcd.
      if (BootClock::now() >= next_complaint) {
        spdlog::warn("{}: cannot read coordinator epochs from etcd ({}); retrying", worker_->role(),
                     read.status().message());
        next_complaint = BootClock::now() + std::chrono::seconds(10);
      }
      if (Wait(Deadline::In(backoff), /*wake_on_compaction=*/false)) break;
      backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(2));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    for (const etcd::KeyValue& kv : read->kvs) Apply(kv);
    if (!worker_->epochs_learned()) {
      spdlog::info("{}: learned coordinator epochs from etcd (revision {})", worker_->role(),
                   read->revision);
      worker_->MarkEpochsLearned();
    }
    bool restart_watch = false;
    {
      MutexLock lock(&mu_);
      restart_watch = watcher == nullptr || compacted_;
      compacted_ = false;
    }
    if (restart_watch) {
      if (watcher != nullptr) watcher->Stop();
      // L4: from just after the read, so nothing between the two is missed.
      watcher = etcd::Watcher::Start(
          client_, prefix_,
          etcd::WatchOptions{.prefix = true, .start_revision = read->revision + 1},
          etcd::Watcher::Callbacks{.on_events =
                                       [this](const std::vector<etcd::WatchEvent>& events) {
                                         for (const etcd::WatchEvent& event : events) {
                                           if (event.type == etcd::WatchEvent::Type::kPut)
                                             Apply(event.kv);
                                         }
                                       },
                                   .on_compacted =
                                       [this](int64_t) {
                                         {
                                           MutexLock lock(&mu_);
                                           compacted_ = true;
                                         }
                                         changed_.SignalAll();
                                       }});
    }
    // The backstop re-read, sooner after a compaction.
    if (Wait(Deadline::In(options_.reread_interval), /*wake_on_compaction=*/true)) break;
  }
  if (watcher != nullptr) watcher->Stop();
}

}  // namespace coordha::worker
