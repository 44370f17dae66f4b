#include "worker/registration.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "session/server_id.h"

namespace coordha::worker {
namespace {

constexpr Duration kMinBackoff = std::chrono::milliseconds(100);
constexpr Duration kMaxBackoff = std::chrono::seconds(2);
// How often the loop looks at a stop request while it waits on something else.
constexpr Duration kPollSlice = std::chrono::milliseconds(200);

}  // namespace

Registration::Registration(etcd::Client* client, Worker* worker, RegistrationOptions options)
    : client_(client),
      worker_(worker),
      options_(std::move(options)),
      self_(session::SelfIdentity()) {
  thread_ = std::jthread([this](std::stop_token stop) { Loop(std::move(stop)); });
}

Registration::~Registration() { StopThread(); }

bool Registration::registered() const {
  MutexLock lock(&mu_);
  return registered_;
}

int64_t Registration::server_id() const {
  MutexLock lock(&mu_);
  return server_id_;
}

void Registration::StopThread() {
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

bool Registration::SleepUntil(Deadline deadline) {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return stopping_;
      },
      deadline);
  return stopping_;
}

std::string Registration::RecordJson(session::SessionState state, int64_t server_id,
                                     int64_t lease_id) const {
  session::SessionInfo info = options_.info;
  info.server_id = server_id;
  info.server_name = options_.role;
  info.exclusive = false;  // workers are never exclusive
  info.process = self_;
  info.state = state;
  info.stopping = state == session::SessionState::kStopping;
  info.lease_id = lease_id;
  return session::ToJson(info);
}

void Registration::Loop(std::stop_token stop) {
  Duration backoff = kMinBackoff;
  BootTime next_complaint{};
  auto retry_later = [&](const absl::Status& why, const char* what) {
    if (BootClock::now() >= next_complaint) {
      spdlog::warn("{}: {} failed ({}); retrying every endpoint", options_.role, what,
                   why.message());
      next_complaint = BootClock::now() + std::chrono::seconds(10);
    }
    const bool stopping = SleepUntil(Deadline::In(backoff));
    backoff = std::min(backoff * 2, kMaxBackoff);
    return stopping;
  };

  const Duration hold_margin = options_.serve_grant;
  int64_t server_id = 0;
  while (!stop.stop_requested()) {
    // S6: every step retries until etcd answers; a lost session registers again, same ID.
    if (server_id == 0) {
      absl::StatusOr<int64_t> id = session::AllocateServerId(
          *client_, options_.keys, Deadline::In(options_.request_timeout));
      if (!id.ok()) {
        if (retry_later(id.status(), "allocating a server ID")) break;
        continue;
      }
      server_id = *id;
      {
        MutexLock lock(&mu_);
        server_id_ = server_id;
      }
      worker_->SetServerId(server_id);
    }
    // S4: register only once the worker can tell a deposed active from the current one.
    if (!worker_->AwaitEpochsLearned(Deadline::In(kPollSlice))) continue;

    session::SessionOptions session_options{.ttl_seconds = options_.ttl_seconds,
                                            .serve_grant = options_.serve_grant,
                                            .on_done = [this](const absl::Status&) {
                                              changed_.SignalAll();  // must not block
                                            }};
    absl::StatusOr<std::unique_ptr<session::Session>> session = session::Session::Create(
        client_, std::move(session_options), Deadline::In(options_.request_timeout));
    if (!session.ok()) {
      if (retry_later(session.status(), "granting a session lease")) break;
      continue;
    }
    const int64_t lease_id = (*session)->lease_id();
    const std::string key = options_.keys.SessionKey(options_.role, server_id);
    absl::StatusOr<etcd::PutResult> put =
        client_->Put(key, RecordJson(session::SessionState::kHealthy, server_id, lease_id),
                     etcd::PutOptions{.lease = lease_id}, Deadline::In(options_.request_timeout));
    if (!put.ok()) {
      (void)(*session)->Close(Deadline::In(options_.request_timeout));
      if (retry_later(put.status(), "putting the session key")) break;
      continue;
    }
    backoff = kMinBackoff;
    session::Session* live = session->get();
    {
      MutexLock lock(&mu_);
      session_ = *std::move(session);
      registered_ = true;
    }
    spdlog::info("{}: registered as server {} at {} (lease {:x}, TTL {} s)", options_.role,
                 server_id, key, lease_id, live->granted_ttl_seconds());
    worker_->SetMayHoldWork(true, "");

    // Until the session is lost or we stop. on_done signals without the lock, so wait in slices.
    // S2 for workers (worker.h): hold work only while etcd cannot have expired the lease within
    // the next serve grant — a coordinator moves items once the session key is gone.
    bool stopping = false;
    while (true) {
      bool done = false;
      {
        MutexLock lock(&mu_);
        changed_.Await(
            &mu_,
            [&] {
              mu_.AssertHeld();
              return stopping_ || live->done();
            },
            Deadline::In(kPollSlice).Min(Deadline::At(live->LeaseDeadline() - hold_margin)));
        stopping = stopping_;
        done = live->done();
      }
      if (stopping || done) break;
      const bool may_hold = BootClock::now() < live->LeaseDeadline() - hold_margin;
      if (may_hold != worker_->may_hold_work()) {
        worker_->SetMayHoldWork(
            may_hold, "no lease renewal acknowledged for TTL - serveGrant (etcd unreachable?)");
        if (may_hold) spdlog::info("{}: lease renewed again; taking work", options_.role);
      }
    }
    if (stopping) break;
    // The lease is gone: a coordinator may already be placing this worker's items elsewhere.
    worker_->SetMayHoldWork(false, "the session was lost");
    std::unique_ptr<session::Session> lost;
    {
      MutexLock lock(&mu_);
      registered_ = false;
      lost = std::move(session_);
    }
    spdlog::warn("{}: session lost ({}); registering again as server {}", options_.role,
                 lost->done_reason().message(), server_id);
  }
}

absl::Status Registration::MarkStopping(Deadline deadline) {
  StopThread();
  // Stop the work first: coordinators place it elsewhere as soon as they read Stopping.
  worker_->SetMayHoldWork(false, "stopping");
  int64_t server_id = 0;
  int64_t lease_id = 0;
  {
    MutexLock lock(&mu_);
    if (!registered_ || session_ == nullptr) return absl::OkStatus();
    server_id = server_id_;
    lease_id = session_->lease_id();
  }
  absl::StatusOr<etcd::PutResult> put =
      client_->Put(options_.keys.SessionKey(options_.role, server_id),
                   RecordJson(session::SessionState::kStopping, server_id, lease_id),
                   etcd::PutOptions{.lease = lease_id}, deadline);
  return put.status();
}

absl::Status Registration::Close(Deadline deadline) {
  StopThread();
  std::unique_ptr<session::Session> session;
  {
    MutexLock lock(&mu_);
    registered_ = false;
    session = std::move(session_);
  }
  if (session == nullptr) return absl::OkStatus();
  return session->Close(deadline);
}

}  // namespace coordha::worker
