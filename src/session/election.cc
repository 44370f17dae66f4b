#include "session/election.h"

#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace coordha::session {
namespace {

constexpr absl::string_view kFencedPayload = "coordha.fenced";

}  // namespace

absl::Status FencedError(absl::string_view what) {
  absl::Status status = absl::AbortedError(absl::StrCat("fenced: ", what));
  status.SetPayload(kFencedPayload, absl::Cord("1"));
  return status;
}

bool IsFenced(const absl::Status& status) { return status.GetPayload(kFencedPayload).has_value(); }

etcd::Compare Leadership::Fence() const {
  return etcd::Compare::CreateRevision(active_key_, etcd::Compare::Op::kEqual, epoch_);
}

absl::StatusOr<etcd::TxnResult> Leadership::FencedCommit(etcd::Txn txn, Deadline deadline) const {
  // S1: every write of the active is guarded by its epoch. Nesting the caller's txn as the
  // success branch of an outer fenced txn would need etcd 3.5; instead the fence joins the
  // compares and a failure is told apart by reading the key in the failure branch.
  txn.compares.push_back(Fence());
  txn.failure.insert(txn.failure.begin(), etcd::TxnOp::Get(active_key_));
  COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult result, client_->Commit(txn, deadline));
  if (result.succeeded) return result;
  const auto* read = std::get_if<etcd::RangeResult>(&result.results.front());
  const bool fence_held =
      read != nullptr && !read->kvs.empty() && read->kvs.front().create_revision == epoch_;
  if (!fence_held) {
    return FencedError(absl::StrCat(active_key_, " is no longer epoch ", epoch_));
  }
  result.results.erase(result.results.begin());
  return result;
}

absl::Status Leadership::Resign(Deadline deadline) const { return ResignTo(0, "", deadline); }

absl::Status Leadership::ResignTo(int64_t successor, const std::string& handoff_key,
                                  Deadline deadline) const {
  // L1: one fenced Txn: the active key goes and the marker says this epoch ended cleanly.
  etcd::Txn txn;
  txn.success.push_back(etcd::TxnOp::Delete(active_key_));
  txn.success.push_back(etcd::TxnOp::Put(resigned_key_, std::to_string(epoch_)));
  if (successor != 0 && !handoff_key.empty()) {
    txn.success.push_back(etcd::TxnOp::Put(handoff_key, absl::StrCat(epoch_, " ", successor)));
  }
  auto result = FencedCommit(std::move(txn), deadline);
  if (!result.ok() && IsOutcomeUnknown(result.status())) {
    // Re-read: gone (or another epoch) means the resign happened or we were deposed anyway.
    auto current = client_->Get(active_key_, deadline);
    if (current.ok() && (!current->has_value() || (*current)->create_revision != epoch_)) {
      return absl::OkStatus();
    }
  }
  return result.status();
}

absl::StatusOr<CampaignResult> Campaign(etcd::Client& client, const std::string& active_key,
                                        const std::string& resigned_key, const std::string& value,
                                        int64_t lease_id, Deadline deadline) {
  // S1: the campaign creates the key only if it does not exist; its CreateRevision is the epoch.
  etcd::Txn txn;
  txn.compares.push_back(etcd::Compare::CreateRevision(active_key, etcd::Compare::Op::kEqual, 0));
  txn.success.push_back(etcd::TxnOp::Put(active_key, value, lease_id));
  txn.failure.push_back(etcd::TxnOp::Get(active_key));
  auto committed = client.Commit(txn, deadline);
  CampaignResult out;
  if (committed.ok()) {
    out.revision = committed->revision;
    if (committed->succeeded) {
      out.leadership.emplace(&client, active_key, resigned_key, committed->revision, lease_id);
      out.holder = etcd::KeyValue{.key = active_key,
                                  .value = value,
                                  .create_revision = committed->revision,
                                  .mod_revision = committed->revision,
                                  .version = 1,
                                  .lease = lease_id};
      return out;
    }
    const auto* read = std::get_if<etcd::RangeResult>(&committed->results.front());
    if (read != nullptr && !read->kvs.empty()) {
      out.holder = read->kvs.front();
      return out;
    }
    return absl::UnavailableError("campaign lost but the active key vanished; campaign again");
  }
  if (!IsOutcomeUnknown(committed.status())) return committed.status();
  // Unknown outcome: the key tells. Ours if it is on our lease.
  COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult read,
                           client.Range(active_key, etcd::RangeOptions{}, deadline));
  out.revision = read.revision;
  if (read.kvs.empty()) {
    return absl::UnavailableError("campaign outcome unknown and the key is free; campaign again");
  }
  out.holder = read.kvs.front();
  if (out.holder.lease == lease_id) {
    out.leadership.emplace(&client, active_key, resigned_key, out.holder.create_revision, lease_id);
  }
  return out;
}

}  // namespace coordha::session
