// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with Clang thread-safety
// annotations, so `ABSL_GUARDED_BY(mu_)` is checked at compile time (clang -Wthread-safety).
//
// Why not absl::Mutex: Debian's absl is not built with ThreadSanitizer annotations, so TSan cannot
// see absl::Mutex's synchronisation and reports every guarded access as a race. std::mutex is
// pthread underneath, which TSan understands. Use these everywhere in coordha.
#ifndef COORDHA_COMMON_MUTEX_H_
#define COORDHA_COMMON_MUTEX_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "common/clock.h"

namespace coordha {

class CondVar;

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // Tells the analysis the lock is held (for lambdas run under it).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable used with a coordha::Mutex. Whoever changes state a waiter waits for must
// call SignalAll() (with or without the mutex held).
class CondVar {
 public:
  // Waits until `done()` holds or `deadline` passes (an unset deadline waits forever). Returns
  // done(). REQUIRES: `mu` held; `done` reads only state guarded by `mu`.
  template <typename Pred>
  bool Await(Mutex* mu, Pred done, Deadline deadline = {}) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    bool result = true;
    while (!done()) {
      if (!deadline.is_set()) {
        cv_.wait(lock);
      } else if (deadline.Expired()) {
        result = false;
        break;
      } else {
        cv_.wait_for(lock, deadline.Remaining());
      }
    }
    lock.release();  // the caller still holds `mu`
    return result;
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace coordha

#endif  // COORDHA_COMMON_MUTEX_H_
