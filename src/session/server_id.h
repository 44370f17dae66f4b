// Server IDs: unique per process across the cluster, as in Milvus (`<root>/meta/session/id` holds
// the next one). Allocation is a compare-and-swap on that key, so two processes never get the same
// ID however they race.
#ifndef COORDHA_SESSION_SERVER_ID_H_
#define COORDHA_SESSION_SERVER_ID_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "etcd/client.h"
#include "session/keys.h"

namespace coordha::session {

// Allocates the next server ID (the first is 1). Retries lost races and unknown outcomes (an
// unknown outcome may waste an ID, never duplicate one) until `deadline`.
absl::StatusOr<int64_t> AllocateServerId(etcd::Client& client, const Keys& keys, Deadline deadline);

}  // namespace coordha::session

#endif  // COORDHA_SESSION_SERVER_ID_H_
