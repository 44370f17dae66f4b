#include "session/server_id.h"

#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace coordha::session {

absl::StatusOr<int64_t> AllocateServerId(etcd::Client& client, const Keys& keys,
                                         Deadline deadline) {
  const std::string key = keys.ServerIdKey();
  absl::Status last = absl::DeadlineExceededError("no attempt made");
  while (!deadline.Expired()) {
    auto current = client.Get(key, deadline);
    if (!current.ok()) {
      last = current.status();
      if (absl::IsUnavailable(last) || absl::IsDeadlineExceeded(last)) continue;
      return last;
    }
    int64_t next = 1;
    etcd::Txn txn;
    if (current->has_value()) {
      if (!absl::SimpleAtoi((*current)->value, &next) || next < 1) {
        return absl::DataLossError(absl::StrCat(key, " holds '", (*current)->value,
                                                "', not a server ID; fix or delete the key"));
      }
      txn.compares.push_back(
          etcd::Compare::ModRevision(key, etcd::Compare::Op::kEqual, (*current)->mod_revision));
    } else {
      txn.compares.push_back(etcd::Compare::Version(key, etcd::Compare::Op::kEqual, 0));
    }
    txn.success.push_back(etcd::TxnOp::Put(key, std::to_string(next + 1)));
    auto result = client.Commit(txn, deadline);
    if (result.ok() && result->succeeded) return next;
    if (!result.ok()) {
      last = result.status();
      if (!IsOutcomeUnknown(last) && !absl::IsUnavailable(last) &&
          !absl::IsDeadlineExceeded(last)) {
        return last;
      }
    }
    // Lost the race (or do not know): read again and retry with the new value.
  }
  return Annotate(last, "allocating a server ID");
}

}  // namespace coordha::session
