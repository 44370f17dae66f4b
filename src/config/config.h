// coordha's configuration: Milvus's key names, Milvus's override rules (DESIGN.md §8).
//
// Layers, lowest first; a key set by a higher layer replaces what the lower ones said:
//   1. defaults (the values in configs/coordha.yaml, which documents every key);
//   2. the YAML file (LoadInputs::file), e.g. coordha.yaml or a user's existing milvus.yaml;
//   3. environment variables, matched to keys by Milvus's rule (below);
//   4. `--set key=value` (LoadInputs::sets), in order: a later --set of the same key wins.
//
// Key names. A key is a dotted path ("etcd.rootPath", "rootCoord.enableActiveStandby"). As in
// Milvus, names compare after lower-casing and removing '_', '.' and '/': "rootcoord.enable_active
// _standby" in a file or --set is the same key, and so is the environment variable
// ROOT_COORD_ENABLE_ACTIVE_STANDBY. YAML may nest ("etcd: {rootPath: x}") or use dotted keys
// ("etcd.rootPath: x"). A key with no value (Milvus's `ip:`) keeps its default.
//
// Which keys are checked. A milvus.yaml has hundreds of keys coordha does not use; they must not
// stop it from loading. So:
//   - Sections coordha owns outright — `etcd`, `common.session`, `metrics` — are strict: a key
//     there that coordha does not know is an error, with a did-you-mean when one is close. Milvus's
//     etcd keys that coordha has no use for (etcd.log.*, etcd.data.dir, etcd.config.path,
//     etcd.ssl.tlsMinVersion, common.session.retryTimes) are known and ignored.
//   - Sections coordha shares with Milvus — the eight role sections (`rootCoord`, ..., `mixCoord`)
//     and `log` — are lenient: Milvus's other keys there (rootCoord.dmlChannelNum,
//     dataCoord.segment.maxSize, log.file.rootPath, ...) are ignored, but a key that looks like a
//     typo of one of coordha's (`rootCoord.prot`, `dataCoord.enableActivStandby`) is an error
//     with a did-you-mean. "Looks like a typo": the key's first component after the section,
//     normalized, is within edit distance 1 of `port` or `level`, or 2 of `address`, `priority`,
//     `enableActiveStandby` or (workers) `workDuration` (`ip` is never guessed at: too short).
//   - Every other section (`minio`, `pulsar`, `proxy`, `common.retentionDuration`, ...) is ignored.
//   - A --set names a key coordha knows, or it is an error (with a did-you-mean).
//   - Environment variables never fail for their name: only variables whose name matches a key
//     are read (PATH and HOME match nothing). A variable whose value starts with "tcp://",
//     "udp://" or "sctp://" is a Kubernetes service link ({SERVICE}_PORT=tcp://10.0.0.3:53100),
//     not a setting, and is skipped; so is an empty one. A matching variable with a bad value is
//     an error naming the variable. Two variables that match the same key with different values
//     are an error (the environment has no order to pick a winner by).
//
// Errors. Load reports the first problem as one line (no newline), prefixed "config: ", naming the
// key, the bad value and where it came from, e.g.
//   config: etcd.endpoints: 'localhost' is not host:port (from --set)
//   config: common.session.ttl: 1 is below etcd's minimum lease TTL (2 s) (from /etc/coordha.yaml)
//   config: unknown key 'etcd.endpoint' in /etc/coordha.yaml; did you mean 'etcd.endpoints'?
//   config: cannot read /etc/coordha.yaml: No such file or directory
//   config: /etc/coordha.yaml:3:9: invalid YAML: illegal map value
// Every such error has code kInvalidArgument; the CLI prints it and exits 2.
#ifndef COORDHA_CONFIG_CONFIG_H_
#define COORDHA_CONFIG_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "etcd/client.h"

namespace coordha::config {

// The process roles of DESIGN.md §2.
enum class Role {
  kRootCoord,
  kDataCoord,
  kQueryCoord,
  kIndexCoord,
  kQueryNode,
  kDataNode,
  kIndexNode,
  // rootcoord, datacoord, querycoord and indexcoord in one process under one election (as
  // Milvus 2.6 does), for small deployments. Its active key is <meta>/session/mixcoord.
  kMixCoord
};

// All eight, in the order above.
const std::vector<Role>& AllRoles();

// "rootcoord" -> Role::kRootCoord (case-insensitive). The error lists the valid names.
absl::StatusOr<Role> ParseRole(absl::string_view name);
// The CLI and session name: "rootcoord", "datacoord", ..., "indexnode".
std::string RoleName(Role role);
// Milvus's config section for the role: "rootCoord", "dataCoord", ..., "indexNode".
std::string RoleKeyPrefix(Role role);
// True for the four coordinators and mixcoord, false for the three worker nodes.
bool IsCoordinator(Role role);
// The role's default gRPC port (DESIGN.md §2): rootcoord 53100, datacoord 13333, querycoord 19531,
// indexcoord 31000, querynode 21123, datanode 21124, indexnode 21121, mixcoord 53100 (it serves
// rootcoord's API among the others, so clients that dial rootcoord's port find it).
int DefaultPort(Role role);

// One role's settings: keys `<prefix>.address` (or Milvus ≥ 2.3's `<prefix>.ip`), `.port`,
// `.enableActiveStandby`, `.priority`, and for workers `.workDuration`.
struct RoleConfig {
  // The host this process listens on and publishes in its session. "" means: the server picks
  // (the first non-loopback address). A value "host:port" (as in Kubernetes'
  // ROOT_COORD_ADDRESS=rootcoord:53100) also sets `port`, unless `port` itself is set in the
  // same layer. `ip` is the same setting under Milvus 2.3's name; when both are set in one layer,
  // `address` wins. IPv6 hosts are stored without brackets and written "[::1]:53100" in a
  // host:port value. Default: "".
  std::string address;
  // gRPC port. REQUIRES: 1..65535. Default: DefaultPort(role).
  int port = 0;
  // Coordinators only. true: any number of replicas run active-standby. false: the role is
  // exclusive, a second live replica refuses to start (DESIGN.md §2). Setting it true for a worker
  // is an error (workers are never exclusive). Default: false, as in Milvus.
  bool enable_active_standby = false;
  // Coordinators only, coordha's addition: among standbys, a higher priority campaigns first
  // (PD's leader priority); no automatic fail-back. A non-zero value for a worker is an error.
  // Default: 0.
  int64_t priority = 0;
  // Workers only, coordha's addition: `<prefix>.workDuration` (queryNode.workDuration, ...): how
  // long the simulated executor (worker/executor.h) takes per item, from PENDING through RUNNING
  // to READY or FINISHED. Seconds (0.5) or a string with a unit ("200ms"); 0 means at once.
  // REQUIRES: >= 0. Default: 0.2 s.
  Duration work_duration = std::chrono::milliseconds(200);
};

// Key section `common.session`: the lease and the active-standby timing of DESIGN.md §4.
// Durations accept a number of seconds (0.5) or a string with a unit ("500ms", "1s", "2.5s").
struct SessionConfig {
  // `common.session.ttl`: lease TTL in whole seconds. A lost lease does not end the process, so a
  // TTL shorter than Milvus's 30–60 s is safe; it bounds takeover when nothing else detects a dead
  // active (L3). REQUIRES: >= 2 (etcd's minimum lease TTL with its default election timeout; etcd
  // would silently raise anything lower). Default: 10.
  int64_t ttl_seconds = 10;
  // `common.session.serveGrant` (g): the active answers only within g of its newest acknowledged
  // keepalive (S2); a standby that took over early waits g before serving (S3). Smaller: faster
  // takeover after a pause or partition; larger: fewer spurious step-downs on a slow etcd.
  // REQUIRES: > 0 and < ttl. Default: 1 s.
  Duration serve_grant = std::chrono::seconds(1);
  // `common.session.suspectAfter`: a standby may end the active's lease early once etcd shows it
  // not renewed for this long (S3). REQUIRES: > 0. Default: 2 s.
  Duration suspect_after = std::chrono::seconds(2);
  // `common.session.minActiveTime`: an active younger than this is revoked early only on proof of
  // death, otherwise it keeps the role until its lease expires (L7, no flapping). 0 turns this off:
  // the S3 wait and the jittered campaign backoff already bound how fast the role can move, and a
  // non-zero value makes pause detection right after a failover take a TTL instead of
  // suspectAfter + g. Set e.g. 10s where spurious suspicion is common. REQUIRES: >= 0. Default: 0.
  Duration min_active_time = Duration::zero();
};

// Key section `etcd`, with Milvus's names and defaults.
struct EtcdConfig {
  // `etcd.endpoints`: members as "host:port", optionally "http://" or "https://" (all the same
  // scheme). In YAML a list or a comma-separated string; in env and --set comma-separated.
  // REQUIRES: at least one. Default: {"localhost:2379"}.
  std::vector<std::string> endpoints = {"localhost:2379"};
  // `etcd.rootPath`: prefix of every key (DESIGN.md §3). REQUIRES: non-empty. Default: "by-dev".
  std::string root_path = "by-dev";
  // `etcd.metaSubPath`: sessions and coordinator state live under <rootPath>/<metaSubPath>.
  // REQUIRES: non-empty. Default: "meta".
  std::string meta_sub_path = "meta";
  // `etcd.kvSubPath`: TSO and ID allocator bounds live under <rootPath>/<kvSubPath>.
  // REQUIRES: non-empty. Default: "kv".
  std::string kv_sub_path = "kv";
  // `etcd.requestTimeout`: deadline of an etcd call given none. A plain number is milliseconds,
  // as in Milvus; a string may carry a unit ("5s"). REQUIRES: > 0. Default: 5 s.
  Duration request_timeout = std::chrono::seconds(5);
  // `etcd.ssl.enabled`: talk TLS to etcd (an https:// endpoint turns it on too). Default: false.
  bool ssl_enabled = false;
  // `etcd.ssl.tlsCert`, `etcd.ssl.tlsKey`: PEM client certificate and key, for etcd's
  // --client-cert-auth. Used only when ssl_enabled. REQUIRES: both or neither. Default: "".
  std::string tls_cert;
  std::string tls_key;
  // `etcd.ssl.tlsCACert`: PEM CA that signed etcd's certificate; "" = the system's roots. Used only
  // when ssl_enabled. Default: "".
  std::string tls_ca_cert;
  // `etcd.auth.enabled`, `etcd.auth.userName`, `etcd.auth.password`: etcd user auth.
  // REQUIRES: a userName when enabled. Default: false, "", "".
  bool auth_enabled = false;
  std::string username;
  std::string password;

  // Options for etcd::Client::Connect / Create: endpoints, request timeout, and TLS and auth only
  // when enabled (Milvus's file carries placeholder TLS paths with ssl.enabled: false).
  etcd::ClientOptions ToClientOptions() const;
  // "<rootPath>/<metaSubPath>" ("by-dev/meta"), joined like Go's path.Join: no doubled '/'.
  std::string MetaRoot() const;
  // "<rootPath>/<kvSubPath>" ("by-dev/kv").
  std::string KvRoot() const;
};

// Key section `metrics` (coordha's; Milvus reads its METRICS_PORT environment variable, which
// matches `metrics.port` by the env rule).
struct MetricsConfig {
  // `metrics.port`: HTTP port for /metrics, /healthz, /readyz, /active, /status. REQUIRES:
  // 1..65535. Default: 9091, as in Milvus.
  int port = 9091;
  // True when `metrics.port` was set by the file, the environment or --set. The server then treats
  // a taken port as an error; when false it takes a free port instead and logs it (DESIGN.md §2).
  bool port_explicit = false;
};

// datacoord's own keys under `dataCoord` (coordha's additions; Milvus sizes segments in MiB with
// dataCoord.segment.maxSize, which coordha, holding no data, ignores).
struct DataCoordConfig {
  // `dataCoord.segment.maxRows`: a growing segment is sealed once it would hold more rows than
  // this. REQUIRES: >= 1. Default: 100000.
  int64_t segment_max_rows = 100000;
};

struct Config {
  EtcdConfig etcd;
  SessionConfig session;
  // Every role's settings; all eight are present.
  std::map<Role, RoleConfig> roles;
  DataCoordConfig datacoord;
  MetricsConfig metrics;
  // `log.level`: debug, info, warn, error, panic or fatal (Milvus's set; case-insensitive, stored
  // lower-case; panic and fatal log as critical). Default: "info".
  std::string log_level = "info";
  // The file the configuration was read from; "" when none. Informational.
  std::string file;

  // Defaults for every key (what Load returns for empty LoadInputs).
  Config();
  const RoleConfig& role(Role r) const { return roles.at(r); }
  RoleConfig& role(Role r) { return roles.at(r); }
};

struct LoadInputs {
  // The YAML file to read. Empty: no file, defaults and overrides only.
  std::string file;
  // The environment as (name, value) pairs: the CLI passes ProcessEnvironment(), tests their own.
  std::vector<std::pair<std::string, std::string>> env;
  // "key=value" strings from --set, in command-line order. Values are plain strings (no YAML);
  // etcd.endpoints takes a comma-separated list.
  std::vector<std::string> sets;
};

// Builds the configuration from the layers above and checks it: every value's type and range,
// and across keys serveGrant < ttl, TLS cert and key together, a userName when auth is enabled.
// Does no I/O beyond reading `inputs.file`. Errors: kInvalidArgument, one line (see the top).
absl::StatusOr<Config> Load(const LoadInputs& inputs);

// A duration as the config keys take it: a bare number is `bare_unit` (absl::Seconds(1) or
// absl::Milliseconds(1)); a string may carry a unit ("500ms", "2.5s", "2m", "1h"). Errors:
// kInvalidArgument "'<v>' is not a duration (...)", negative, or longer than a year.
absl::StatusOr<Duration> ParseDuration(absl::string_view v, absl::Duration bare_unit);

// This process's environment (environ) as (name, value) pairs.
std::vector<std::pair<std::string, std::string>> ProcessEnvironment();

}  // namespace coordha::config

#endif  // COORDHA_CONFIG_CONFIG_H_
