// Values that cross the etcd client's interface: keys and values, range/put/delete/txn requests and
// their results, leases. Plain structs; no gRPC or protobuf types leak out of src/etcd.
#ifndef COORDHA_ETCD_TYPES_H_
#define COORDHA_ETCD_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/clock.h"

namespace coordha::etcd {

// One key as etcd stores it.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the Put that created the key (since last delete)
  int64_t mod_revision = 0;     // revision of the last Put
  int64_t version = 0;          // Puts since creation; 0 means "does not exist"
  int64_t lease = 0;            // lease the key is attached to; 0: none
};

// The range end that makes [key, end) cover every key starting with `prefix`.
std::string PrefixEnd(absl::string_view prefix);

struct RangeOptions {
  bool prefix = false;        // every key starting with the given key
  std::string range_end;      // explicit [key, range_end); ignored when `prefix` is set
  int64_t revision = 0;       // read at this revision; 0: the newest
  int64_t limit = 0;          // at most this many keys; 0: no limit
  bool serializable = false;  // answer from the member's local copy (may be stale); default is
                              // a linearizable read that goes through the leader
  bool keys_only = false;
  bool count_only = false;
  int64_t min_mod_revision = 0;  // only keys last modified at or after this revision; 0: all
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision this read saw
  std::vector<KeyValue> kvs;
  bool more = false;  // more keys exist beyond `limit`
  int64_t count = 0;  // keys in the range (ignores limit)
};

struct PutOptions {
  int64_t lease = 0;     // attach to this lease; 0: none
  bool prev_kv = false;  // return the previous value
};

struct PutResult {
  int64_t revision = 0;
  std::optional<KeyValue> prev_kv;
};

struct DeleteOptions {
  bool prefix = false;
  std::string range_end;
  bool prev_kv = false;
};

struct DeleteResult {
  int64_t revision = 0;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

// A Txn condition on one key. A key that does not exist has version, create and mod revision 0.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Op { kEqual, kNotEqual, kLess, kGreater };

  Target target = Target::kVersion;
  Op op = Op::kEqual;
  std::string key;
  int64_t number = 0;  // for every target but kValue
  std::string value;   // for kValue

  static Compare CreateRevision(std::string key, Op op, int64_t revision);
  static Compare ModRevision(std::string key, Op op, int64_t revision);
  static Compare Version(std::string key, Op op, int64_t version);
  static Compare Value(std::string key, Op op, std::string value);
  static Compare Lease(std::string key, Op op, int64_t lease);
};

// One operation inside a Txn branch.
struct TxnOp {
  enum class Kind { kRange, kPut, kDelete };
  Kind kind = Kind::kRange;
  std::string key;
  std::string value;     // kPut
  int64_t lease = 0;     // kPut
  bool prefix = false;   // kRange, kDelete
  bool prev_kv = false;  // kPut, kDelete
  RangeOptions range;    // kRange (prefix taken from above)

  static TxnOp Get(std::string key, RangeOptions options = {});
  static TxnOp Put(std::string key, std::string value, int64_t lease = 0);
  static TxnOp Delete(std::string key, bool prefix = false);
};

// If every compare holds, `success` runs, otherwise `failure` — atomically, at one revision.
struct Txn {
  std::vector<Compare> compares;
  std::vector<TxnOp> success;
  std::vector<TxnOp> failure;
};

// The result of each op of the branch that ran, in order.
using TxnOpResult = std::variant<RangeResult, PutResult, DeleteResult>;

struct TxnResult {
  int64_t revision = 0;    // the store's revision after the txn (unchanged if it wrote nothing)
  bool succeeded = false;  // true: `success` ran; false: `failure` ran
  std::vector<TxnOpResult> results;
};

// A granted lease.
struct Lease {
  int64_t id = 0;
  int64_t ttl_seconds = 0;  // the TTL etcd granted (etcd raises requests below its minimum)
  BootTime granted_at{};    // when the grant request was sent: the lease lives at least until
                            // granted_at + ttl unless revoked
};

struct LeaseTimeToLive {
  int64_t ttl_seconds = 0;  // remaining; -1 when the lease does not exist (expired/revoked)
  int64_t granted_ttl_seconds = 0;
  std::vector<std::string> keys;  // filled when asked for
};

// What etcd says about one member (Maintenance.Status).
struct MemberStatus {
  std::string endpoint;
  std::string version;  // e.g. "3.4.23"
  uint64_t member_id = 0;
  uint64_t leader_id = 0;
  int64_t revision = 0;
  uint64_t raft_term = 0;
  int64_t db_size = 0;
};

}  // namespace coordha::etcd

#endif  // COORDHA_ETCD_TYPES_H_
