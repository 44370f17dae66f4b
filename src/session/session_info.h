// The session record a process publishes in etcd, and the same-machine proof of death (S3).
//
// The JSON keeps Milvus's field names (ServerID, ServerName, Address, Exclusive, Stopping,
// TriggerKill, Version, LeaseID, HostName) so Milvus tooling can read it, and adds coordha's: Pid,
// BootID, PidNs, StartTime, MetricsAddress, Priority, State. Unknown fields are ignored when
// parsing, so records written by Milvus or by newer coordha versions still parse.
#ifndef COORDHA_SESSION_SESSION_INFO_H_
#define COORDHA_SESSION_SESSION_INFO_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coordha::session {

// What a session says about the process's readiness (the `State` field).
enum class SessionState { kInitializing, kHealthy, kStopping };
const char* SessionStateName(SessionState state);  // "Initializing", "Healthy", "Stopping"

// Identity of a process on its machine, enough to prove from the same machine that it is dead.
struct ProcessIdentity {
  std::string boot_id;  // /proc/sys/kernel/random/boot_id: changes on every boot
  uint64_t pid_ns = 0;  // inode of /proc/self/ns/pid: PIDs mean something only inside it
  int64_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat: clock ticks after boot
  std::string host_name;
};

// This process's identity, read from /proc. Fields that cannot be read stay empty/zero, which
// makes the proof below inapplicable (never wrongly positive).
ProcessIdentity SelfIdentity();

// S3 same-machine proof: true only when `other` ran on this machine (same boot ID and pid
// namespace) and that process no longer exists (its PID is gone or now belongs to a process with
// another start time). Any doubt — another machine, another container, unreadable /proc — is
// false.
bool ProvablyDead(const ProcessIdentity& other);

struct SessionInfo {
  int64_t server_id = 0;
  std::string server_name;  // the role, e.g. "rootcoord"
  std::string address;      // gRPC "host:port"
  bool exclusive = false;   // true when the role runs without active-standby
  bool stopping = false;
  bool trigger_kill = true;
  std::string version;
  int64_t lease_id = 0;
  ProcessIdentity process;  // Pid, BootID, PidNs, StartTime, HostName
  std::string metrics_address;
  int64_t priority = 0;
  SessionState state = SessionState::kInitializing;
};

std::string ToJson(const SessionInfo& info);
// kInvalidArgument when `json` is not a session record.
absl::StatusOr<SessionInfo> ParseSessionInfo(absl::string_view json);

}  // namespace coordha::session

#endif  // COORDHA_SESSION_SESSION_INFO_H_
