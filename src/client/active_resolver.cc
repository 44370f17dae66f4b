#include "client/active_resolver.h"

#include "absl/strings/str_cat.h"

namespace coordha::client {

void StaticActiveResolver::Set(const std::string& role, ActiveServer active) {
  {
    MutexLock lock(&mu_);
    actives_[role] = active;
    changed_.SignalAll();
  }
  if (listener_) listener_(role, active);
}

void StaticActiveResolver::Clear(const std::string& role) {
  {
    MutexLock lock(&mu_);
    actives_.erase(role);
    changed_.SignalAll();
  }
  if (listener_) listener_(role, std::nullopt);
}

absl::StatusOr<ActiveServer> StaticActiveResolver::Resolve(const std::string& role,
                                                           Deadline deadline) {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return stopping_ || actives_.contains(role);
      },
      deadline);
  if (stopping_) return absl::CancelledError("the client is stopping");
  auto it = actives_.find(role);
  if (it == actives_.end()) return absl::UnavailableError(absl::StrCat("no active ", role));
  return it->second;
}

void StaticActiveResolver::Stop() {
  MutexLock lock(&mu_);
  stopping_ = true;
  changed_.SignalAll();
}

}  // namespace coordha::client
