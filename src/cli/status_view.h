// What `coordha status` and `coordha up` show: every session under <meta root>/session/ with the
// active of each role, read from etcd in one Range (DESIGN.md §3, §7, §9).
//
//   <prefix><role>-<serverID>   a session: one row
//   <prefix><role>              the role's active key: names the active's ServerID, carries its
//                               State; its CreateRevision is the epoch
//   <prefix>id                  the server-ID counter (skipped)
//
// and the work placed on the workers, from the coordinators' placement records
// (<meta root>/<datacoord|querycoord|indexcoord>/assignment/<kind>/<...> = "<worker> <attempt>",
// coordinator/scheduler.h): what etcd says each worker was given, not what it reported.
#ifndef COORDHA_CLI_STATUS_VIEW_H_
#define COORDHA_CLI_STATUS_VIEW_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "etcd/client.h"

namespace coordha::cli {

// One session, as a row of the table and an element of the JSON "sessions" array.
struct SessionRow {
  std::string role;  // the session key's role part, e.g. "rootcoord"
  int64_t server_id = 0;
  std::string address;
  bool active = false;  // the role's active key names this server ID
  // The active: the active key's State ("Initializing", "Healthy", "Stopping"). A coordinator
  // standby: "StandBy", or "Stopping" when its session says so. A worker: its session's State.
  std::string state;
  int64_t epoch = 0;            // the active key's CreateRevision for the active; 0 otherwise
  int64_t lease_ttl_left = -1;  // seconds left on the session's lease; -1 unknown or gone
  std::string version;
  int64_t pid = 0;
  std::string host_name;
  std::string metrics_address;
  // A worker: the items placed on it, by kind ("channel", "flush", "segment", "task") -> count.
  std::map<std::string, int64_t> work;
};

// One role that has sessions or an active key.
struct RoleSummary {
  std::string role;
  bool coordinator = false;      // one of the four coordinator roles (has an active)
  int64_t active_server_id = 0;  // 0: no active key
  int64_t epoch = 0;             // the active key's CreateRevision; 0: no active
  std::string active_address;
  std::string active_state;  // the active key's State; "" when no active
  int64_t active_pid = 0;
  int sessions = 0;
  // The last takeover (<meta>/coordha/failover/<role>, written by the winner with its Healthy
  // state): who took over from whom, why the old epoch ended, how long until serving.
  struct LastFailover {
    int64_t epoch = 0;  // 0: none recorded
    int64_t server_id = 0;
    std::string cause;  // "proof", "refused", "suspect", "switchover", "resigned", ...
    int64_t took_ms = 0;
    int64_t at_unix_ms = 0;
    int64_t previous_server_id = 0;
    int64_t previous_epoch = 0;
  } last_failover;
};

struct ClusterView {
  std::string prefix;                 // the session prefix read, e.g. "by-dev/meta/session/"
  int64_t revision = 0;               // etcd revision of the read
  std::vector<SessionRow> sessions;   // sorted by role, then server ID
  std::vector<RoleSummary> roles;     // sorted by role
  std::vector<std::string> problems;  // keys that could not be parsed, one line each
  // Items whose placement names no live worker, by coordinator ("querycoord" -> 3): none of its
  // workers runs, or the one it was on died and the active has not moved them yet.
  std::map<std::string, int64_t> unplaced;
};

// Reads the view: one Range of the session prefix, one of the failover records, one of each
// coordinator's placement records, then one TimeToLive per session lease.
// `meta_root` is EtcdConfig::MetaRoot(). Errors: the Range's (a failed TimeToLive only leaves
// lease_ttl_left at -1).
absl::StatusOr<ClusterView> ReadClusterView(etcd::Client& client, const std::string& meta_root,
                                            Deadline deadline);

// The aligned table (ROLE SERVER ADDRESS ACTIVE STATE EPOCH LEASE-LEFT VERSION PID HOST WORK), then
// a line "<role>: no active!" for each coordinator role with sessions but no active, one line per
// coordinator with unplaced work, and one line per role with its last failover. Ends with a
// newline. An empty view is the single line "no sessions under <prefix>".
std::string RenderTable(const ClusterView& view);

// The JSON object {"sessions":[...], "roles":[...], "prefix":..., "revision":...}, one line.
std::string RenderJson(const ClusterView& view);

// The one line printed when etcd does not answer (without "coordha: " and newline).
std::string UnreachableMessage(const std::vector<std::string>& endpoints, const absl::Status& why);

}  // namespace coordha::cli

#endif  // COORDHA_CLI_STATUS_VIEW_H_
