#include "etcd/watcher.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "etcd/convert.h"
#include "etcd/errors.h"
#include "etcd/transport.h"

namespace coordha::etcd {
namespace {

using std::chrono::milliseconds;

WatchEvent FromProto(const mvccpb::Event& e) {
  WatchEvent out;
  out.type = e.type() == mvccpb::Event::DELETE ? WatchEvent::Type::kDelete : WatchEvent::Type::kPut;
  out.kv = internal::FromProto(e.kv());
  if (e.has_prev_kv()) out.prev_kv = internal::FromProto(e.prev_kv());
  return out;
}

}  // namespace

std::unique_ptr<Watcher> Watcher::Start(Client* client, std::string key, WatchOptions options,
                                        Callbacks callbacks) {
  auto w = std::unique_ptr<Watcher>(
      new Watcher(client, std::move(key), std::move(options), std::move(callbacks)));
  w->monitor_ = std::jthread([p = w.get()](std::stop_token st) { p->MonitorLoop(st); });
  w->reader_ = std::jthread([p = w.get()](std::stop_token st) { p->ReadLoop(st); });
  return w;
}

Watcher::Watcher(Client* client, std::string key, WatchOptions options, Callbacks callbacks)
    : client_(client),
      key_(std::move(key)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)) {
  next_revision_ = options_.start_revision;
}

Watcher::~Watcher() { Stop(); }

void Watcher::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  changed_.SignalAll();
  for (std::jthread* t : {&reader_, &monitor_}) {
    if (t->joinable()) {
      t->request_stop();
      t->join();
    }
  }
}

absl::StatusOr<int64_t> Watcher::AwaitCreated(Deadline deadline) const {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [this] {
        mu_.AssertHeld();
        return created_after_.has_value();
      },
      deadline);
  if (!created_after_) {
    return absl::DeadlineExceededError(absl::StrCat("watch on '", key_, "' not created in time"));
  }
  return *created_after_;
}

int64_t Watcher::next_revision() const {
  MutexLock lock(&mu_);
  return next_revision_;
}
int64_t Watcher::restarts() const {
  MutexLock lock(&mu_);
  return restarts_;
}
bool Watcher::compacted() const {
  MutexLock lock(&mu_);
  return compacted_;
}

bool Watcher::SleepFor(Duration d) {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [this] {
        mu_.AssertHeld();
        return stopping_;
      },
      Deadline::In(d));
  return stopping_;
}

void Watcher::ReadLoop(std::stop_token stop) {
  Duration backoff = milliseconds(10);
  while (!stop.stop_requested()) {
    bool ended = false;
    bool was_live = false;
    absl::Status why = RunStream(&ended, &was_live);
    if (ended) return;
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
      ++restarts_;
    }
    if (callbacks_.on_restart) callbacks_.on_restart(why);
    if (client_->options().on_watch_restart) {
      std::string reason = absl::StatusCodeToString(why.code());
      absl::AsciiStrToLower(&reason);
      client_->options().on_watch_restart(reason);
    }
    if (was_live) backoff = milliseconds(10);
    if (SleepFor(backoff)) return;
    backoff = std::min<Duration>(backoff * 2, milliseconds(1000));
  }
}

absl::Status Watcher::RunStream(bool* ended, bool* was_live) {
  internal::Transport& transport = client_->transport();
  absl::StatusOr<internal::Endpoint*> picked =
      transport.PickConnected(Deadline::In(transport.options().dial_timeout));
  if (!picked.ok()) return picked.status();
  internal::Endpoint* ep = *picked;

  grpc::ClientContext ctx;
  std::string token = transport.PrepareContext(ctx, Deadline());
  etcdserverpb::WatchRequest create;
  {
    MutexLock lock(&mu_);
    if (stopping_) {
      *ended = true;
      return absl::CancelledError("stopping");
    }
    context_ = &ctx;
    ++stream_generation_;
    last_activity_ = BootClock::now();
    progress_asked_at_.reset();
    auto* req = create.mutable_create_request();
    req->set_key(key_);
    if (options_.prefix) {
      req->set_range_end(PrefixEnd(key_));
    } else if (!options_.range_end.empty()) {
      req->set_range_end(options_.range_end);
    }
    req->set_start_revision(next_revision_);
    req->set_prev_kv(options_.prev_kv);
    req->set_progress_notify(true);
  }
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
      stream = ep->watch->Watch(&ctx);

  absl::Status why;
  if (stream->Write(create)) {
    {
      MutexLock lock(&write_mu_);
      request_progress_ = [&stream]() {
        etcdserverpb::WatchRequest progress;
        progress.mutable_progress_request();
        return stream->Write(progress);
      };
    }
    etcdserverpb::WatchResponse resp;
    while (stream->Read(&resp)) {
      std::vector<WatchEvent> events;
      {
        MutexLock lock(&mu_);
        last_activity_ = BootClock::now();
        progress_asked_at_.reset();
        if (resp.compact_revision() != 0) {
          compacted_ = true;
          *ended = true;
        } else if (resp.canceled()) {
          why = absl::UnavailableError(
              absl::StrCat("etcd at ", ep->address, " canceled the watch: ", resp.cancel_reason()));
        } else if (resp.created()) {
          *was_live = true;
          if (!created_after_) {
            // Start 0 means "after the revision current at creation".
            if (next_revision_ == 0) next_revision_ = resp.header().revision() + 1;
            created_after_ = next_revision_ - 1;
            changed_.SignalAll();
          }
          continue;
        } else {
          // Events at or past the owed revision; anything older was delivered already. An empty
          // response is a progress report: liveness only (see watcher.h).
          for (const auto& e : resp.events()) {
            if (e.kv().mod_revision() >= next_revision_) events.push_back(FromProto(e));
          }
          if (!events.empty()) next_revision_ = events.back().kv.mod_revision + 1;
        }
      }
      if (*ended) {
        if (client_->options().on_watch_restart) client_->options().on_watch_restart("compacted");
        if (callbacks_.on_compacted) callbacks_.on_compacted(resp.compact_revision());
        break;
      }
      if (!why.ok()) break;
      if (!events.empty()) callbacks_.on_events(events);
    }
  }
  {
    MutexLock lock(&mu_);
    context_ = nullptr;
    if (stopping_) *ended = true;
  }
  ctx.TryCancel();  // unblocks a progress Write in flight, and lets Finish return
  {
    MutexLock lock(&write_mu_);
    request_progress_ = nullptr;
  }
  grpc::Status finish = stream->Finish();
  if (*ended) return absl::OkStatus();
  if (why.ok()) {
    why = finish.ok() ? absl::UnavailableError(
                            absl::StrCat("etcd at ", ep->address, " closed the watch stream"))
                      : absl::Status(FromGrpcStatus(finish).code(),
                                     absl::StrCat("watch stream to ", ep->address, ": ",
                                                  finish.error_message()));
  }
  if (internal::Classify(finish) == internal::Failure::kBadToken ||
      absl::StrContains(why.message(), "invalid auth token") ||
      absl::StrContains(why.message(), "revision of auth store is old")) {
    (void)transport.RefreshToken(token, Deadline::In(transport.options().request_timeout));
  }
  transport.AvoidEndpoint(ep);
  return why;
}

void Watcher::MonitorLoop(std::stop_token stop) {
  const Duration tick = std::max<Duration>(
      std::min(options_.progress_interval, options_.progress_timeout) / 4, milliseconds(10));
  while (!stop.stop_requested()) {
    if (SleepFor(tick)) return;
    int64_t generation = 0;
    {
      MutexLock lock(&mu_);
      if (context_ == nullptr) continue;
      BootTime now = BootClock::now();
      if (progress_asked_at_) {
        if (now - *progress_asked_at_ > options_.progress_timeout) {
          context_->TryCancel();  // stuck: the reader reopens elsewhere
        }
        continue;
      }
      if (now - last_activity_ < options_.progress_interval) continue;
      generation = stream_generation_;
    }
    bool written = false;
    {
      MutexLock lock(&write_mu_);
      if (request_progress_) written = request_progress_();
    }
    MutexLock lock(&mu_);
    if (written && stream_generation_ == generation && context_ != nullptr) {
      progress_asked_at_ = BootClock::now();
    }
  }
}

}  // namespace coordha::etcd
