#include "client/etcd_active_resolver.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "session/keys.h"
#include "session/session_info.h"

namespace coordha::client {
namespace {

// After a failed read, the next one waits this long (a read itself is bounded by read_timeout).
constexpr Duration kReadRetryDelay = std::chrono::milliseconds(200);

absl::StatusOr<ActiveServer> ActiveFromKey(const etcd::KeyValue& kv) {
  absl::StatusOr<session::SessionInfo> info = session::ParseSessionInfo(kv.value);
  if (!info.ok()) return Annotate(info.status(), kv.key);
  return ActiveServer{.address = info->address,
                      .server_id = info->server_id,
                      .epoch = kv.create_revision,
                      .healthy = info->state == session::SessionState::kHealthy};
}

}  // namespace

EtcdActiveResolver::EtcdActiveResolver(etcd::Client* client, EtcdActiveResolverOptions options)
    : client_(client), options_(std::move(options)) {
  maintainer_ = std::jthread([this](std::stop_token stop) { MaintainLoop(std::move(stop)); });
}

EtcdActiveResolver::~EtcdActiveResolver() { Stop(); }

void EtcdActiveResolver::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  if (maintainer_.joinable()) {
    maintainer_.request_stop();
    maintainer_.join();
  }
  // Watcher callbacks take mu_: stop the watchers without holding it.
  std::vector<std::unique_ptr<etcd::Watcher>> watchers;
  {
    MutexLock lock(&mu_);
    for (auto& [role, view] : roles_) {
      if (view.watcher) watchers.push_back(std::move(view.watcher));
    }
  }
  for (auto& watcher : watchers) watcher->Stop();
}

absl::StatusOr<ActiveServer> EtcdActiveResolver::Resolve(const std::string& role,
                                                         Deadline deadline) {
  MutexLock lock(&mu_);
  if (stopping_) return absl::CancelledError("the client is stopping");
  auto [it, added] = roles_.try_emplace(role);
  RoleView& view = it->second;
  if (added) {
    view.key = session::Keys(options_.meta_root).ActiveKey(role);
    changed_.SignalAll();  // the maintainer reads it
  }
  changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return stopping_ || (view.loaded && view.active.has_value());
      },
      deadline);
  if (stopping_) return absl::CancelledError("the client is stopping");
  if (view.active.has_value()) return *view.active;
  if (!view.loaded) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read ", view.key, " from etcd: ",
        view.last_error.ok() ? "no answer yet" : std::string(view.last_error.message())));
  }
  return absl::UnavailableError(
      absl::StrCat(view.key, " is absent",
                   view.last_error.ok() ? "" : absl::StrCat("; ", view.last_error.message())));
}

void EtcdActiveResolver::Apply(const std::string& role, RoleView& view,
                               std::optional<ActiveServer> active, int64_t revision) {
  if (revision <= view.revision) return;  // older than what we hold: a late re-read
  view.revision = revision;
  if (view.active != active) {
    SPDLOG_DEBUG("client: {} active is now {}", view.key,
                 active ? absl::StrCat("server ", active->server_id, " at ", active->address,
                                       " epoch ", active->epoch)
                        : std::string("none"));
  }
  const bool changed = view.active != active;
  view.active = std::move(active);
  changed_.SignalAll();
  if (changed && listener_) listener_(role, view.active);
}

void EtcdActiveResolver::OnEvents(const std::string& role,
                                  const std::vector<etcd::WatchEvent>& events) {
  MutexLock lock(&mu_);
  auto it = roles_.find(role);
  if (it == roles_.end()) return;
  RoleView& view = it->second;
  for (const etcd::WatchEvent& event : events) {
    if (event.type == etcd::WatchEvent::Type::kDelete) {
      Apply(role, view, std::nullopt, event.kv.mod_revision);
      continue;
    }
    absl::StatusOr<ActiveServer> active = ActiveFromKey(event.kv);
    if (!active.ok()) {
      view.last_error = active.status();
      Apply(role, view, std::nullopt, event.kv.mod_revision);
    } else {
      view.last_error = absl::OkStatus();
      Apply(role, view, *std::move(active), event.kv.mod_revision);
    }
  }
}

void EtcdActiveResolver::OnCompacted(const std::string& role) {
  MutexLock lock(&mu_);
  auto it = roles_.find(role);
  if (it == roles_.end()) return;
  // L4: events were lost: re-read at the current revision and watch again after it.
  it->second.watch_ended = true;
  it->second.read_due = true;
  changed_.SignalAll();
}

void EtcdActiveResolver::MaintainLoop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    // Pick the roles whose key is due for a read; sleep until the next one is.
    std::vector<std::pair<std::string, std::string>> due;  // role, key
    std::vector<std::unique_ptr<etcd::Watcher>> ended;
    {
      MutexLock lock(&mu_);
      auto collect = [&] {
        mu_.AssertHeld();
        const BootTime now = BootClock::now();
        std::optional<BootTime> next;
        for (auto& [role, view] : roles_) {
          BootTime at = view.last_read + options_.resync_interval;
          if (view.read_due) {
            at = view.last_error.ok() ? now : view.last_read + kReadRetryDelay;
          }
          if (at <= now) {
            due.emplace_back(role, view.key);
            if (view.watch_ended && view.watcher) ended.push_back(std::move(view.watcher));
            view.watch_ended = false;
          } else {
            next = next ? std::min(*next, at) : at;
          }
        }
        return next;
      };
      std::optional<BootTime> next = collect();
      if (due.empty()) {
        changed_.Await(
            &mu_,
            [&] {
              mu_.AssertHeld();
              if (stopping_) return true;
              for (const auto& [role, view] : roles_) {
                if (view.read_due && view.last_error.ok()) return true;
              }
              return false;
            },
            next ? Deadline::At(*next) : Deadline::In(options_.resync_interval));
        if (stopping_) return;
        collect();
      }
    }
    for (auto& watcher : ended) watcher->Stop();

    for (const auto& [role, key] : due) {
      absl::StatusOr<etcd::RangeResult> read =
          client_->Range(key, {}, Deadline::In(options_.read_timeout));
      std::unique_ptr<etcd::Watcher> watcher;
      {
        MutexLock lock(&mu_);
        if (stopping_) return;
        RoleView& view = roles_.at(role);
        view.last_read = BootClock::now();
        if (!read.ok()) {
          view.last_error = read.status();
          view.read_due = true;
          SPDLOG_DEBUG("client: reading {} failed: {}", key, read.status().message());
          continue;
        }
        view.read_due = false;
        view.last_error = absl::OkStatus();
        std::optional<ActiveServer> active;
        if (!read->kvs.empty()) {
          absl::StatusOr<ActiveServer> parsed = ActiveFromKey(read->kvs.front());
          if (parsed.ok()) {
            active = *std::move(parsed);
          } else {
            view.last_error = parsed.status();
          }
        }
        Apply(role, view, std::move(active), read->revision);
        view.loaded = true;
        changed_.SignalAll();
        if (view.watcher) continue;
      }
      // The first read (or the one after a compaction): watch from just after it.
      const std::string watched_role = role;
      watcher = etcd::Watcher::Start(
          client_, key, etcd::WatchOptions{.start_revision = read->revision + 1},
          etcd::Watcher::Callbacks{
              .on_events =
                  [this, watched_role](const std::vector<etcd::WatchEvent>& events) {
                    OnEvents(watched_role, events);
                  },
              .on_compacted = [this, watched_role](int64_t) { OnCompacted(watched_role); },
          });
      bool stopped = false;
      {
        MutexLock lock(&mu_);
        stopped = stopping_;
        if (!stopped) roles_.at(role).watcher = std::move(watcher);
      }
      if (stopped) {
        watcher->Stop();
        return;
      }
    }
  }
}

}  // namespace coordha::client
