// Election: campaign for a role's active key, and the Leadership a won campaign hands out.
//
// The active key `<root>/meta/session/<role>` holds the active's session JSON on the active's
// lease. Its CreateRevision is the epoch: it grows with every new active and names this one.
//
// S1 one writer. The campaign is Txn(If CreateRevision(key) == 0, Then Put(key, info, lease)).
// Every later write made as the active goes through Leadership::FencedCommit, which adds the
// fence CreateRevision(key) == epoch to the Txn: a deposed active's write fails with
// FencedError() and changes nothing. The key is never deleted and re-put by the same Leadership
// (that would be a new epoch).
#ifndef COORDHA_SESSION_ELECTION_H_
#define COORDHA_SESSION_ELECTION_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "etcd/client.h"
#include "etcd/types.h"

namespace coordha::session {

// The error of a write refused by its fence: this process is no longer the active of that epoch.
absl::Status FencedError(absl::string_view what);
bool IsFenced(const absl::Status& status);

// A won campaign. Cheap to copy; holds no resources (resigning is explicit, see Resign()).
class Leadership {
 public:
  Leadership(etcd::Client* client, std::string active_key, std::string resigned_key, int64_t epoch,
             int64_t lease_id)
      : client_(client),
        active_key_(std::move(active_key)),
        resigned_key_(std::move(resigned_key)),
        epoch_(epoch),
        lease_id_(lease_id) {}

  int64_t epoch() const { return epoch_; }
  int64_t lease_id() const { return lease_id_; }
  const std::string& active_key() const { return active_key_; }

  // S1: the compare every write of this active carries.
  etcd::Compare Fence() const;

  // S1: commits `txn` with Fence() added to its compares. Errors: FencedError() when the fence
  // failed (deposed: stop serving at once); OutcomeUnknownError when etcd may or may not have
  // applied it (re-read before deciding); the client's other errors. When the txn's own compares
  // fail (the fence held), returns the result with succeeded == false.
  absl::StatusOr<etcd::TxnResult> FencedCommit(etcd::Txn txn, Deadline deadline) const;

  // L1: one fenced Txn that deletes the active key and records this epoch as cleanly resigned,
  // so the next active needs no S3 wait. Call only after this process stopped answering as
  // active. FencedError() when already deposed (nothing to resign).
  absl::Status Resign(Deadline deadline) const;
  // Resign() that also names the standby that should win (switchover): writes
  // `handoff_key` = "<epoch> <successor>" in the same Txn. Other standbys defer to it.
  absl::Status ResignTo(int64_t successor, const std::string& handoff_key, Deadline deadline) const;

 private:
  etcd::Client* client_;
  std::string active_key_;
  std::string resigned_key_;
  int64_t epoch_;
  int64_t lease_id_;
};

struct CampaignResult {
  // Set when this campaign won.
  std::optional<Leadership> leadership;
  // The active key after the campaign: ours when won, the current holder's otherwise.
  etcd::KeyValue holder;
  // The store revision the campaign saw; watch the key from revision + 1.
  int64_t revision = 0;
};

// S1: one campaign for `active_key` with `value` on `lease_id`. Never waits for the key to free
// up; a lost campaign returns the holder. An unknown outcome is resolved by re-reading the key
// (ours if it carries our lease).
absl::StatusOr<CampaignResult> Campaign(etcd::Client& client, const std::string& active_key,
                                        const std::string& resigned_key, const std::string& value,
                                        int64_t lease_id, Deadline deadline);

}  // namespace coordha::session

#endif  // COORDHA_SESSION_ELECTION_H_
