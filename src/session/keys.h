// Where the HA layer keeps things in etcd (DESIGN.md §3). Milvus-compatible: Milvus tooling reads
// the same session keys.
//
//   <root>/<meta>/session/id                   next server ID (decimal), no lease
//   <root>/<meta>/session/<role>-<serverID>    a process's session JSON, its lease
//   <root>/<meta>/session/<role>               the active coordinator's session JSON, same lease;
//                                              its CreateRevision is the epoch
//   <root>/<meta>/coordha/resigned/<role>      the epoch that ended by a clean resign (L1)
//   <root>/<meta>/coordha/handoff/<role>       "<epoch> <serverID>": that clean resign named the
//                                              standby that should win (switchover); others defer
//   <root>/<meta>/coordha/watchdog/<role>      the active's L6 watchdog write (its epoch)
//   <root>/<meta>/coordha/failover/<role>      the last takeover: JSON {epoch, serverId, cause,
//                                              tookMs, atUnixMs, previousServerId, previousEpoch}
#ifndef COORDHA_SESSION_KEYS_H_
#define COORDHA_SESSION_KEYS_H_

#include <cstdint>
#include <string>

namespace coordha::session {

class Keys {
 public:
  // `meta_root` is "<etcd.rootPath>/<etcd.metaSubPath>", e.g. "by-dev/meta".
  explicit Keys(std::string meta_root) : meta_root_(std::move(meta_root)) {}

  const std::string& meta_root() const { return meta_root_; }
  std::string SessionPrefix() const { return meta_root_ + "/session/"; }
  std::string ServerIdKey() const { return SessionPrefix() + "id"; }
  std::string SessionKey(const std::string& role, int64_t server_id) const {
    return SessionPrefix() + role + "-" + std::to_string(server_id);
  }
  std::string ActiveKey(const std::string& role) const { return SessionPrefix() + role; }
  std::string ResignedKey(const std::string& role) const {
    return meta_root_ + "/coordha/resigned/" + role;
  }
  std::string HandoffKey(const std::string& role) const {
    return meta_root_ + "/coordha/handoff/" + role;
  }
  std::string FailoverPrefix() const { return meta_root_ + "/coordha/failover/"; }
  std::string FailoverKey(const std::string& role) const { return FailoverPrefix() + role; }
  std::string WatchdogKey(const std::string& role) const {
    return meta_root_ + "/coordha/watchdog/" + role;
  }

 private:
  std::string meta_root_;
};

}  // namespace coordha::session

#endif  // COORDHA_SESSION_KEYS_H_
