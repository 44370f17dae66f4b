// Internal to src/etcd: our plain types to and from etcd's protobuf messages.
#ifndef COORDHA_ETCD_CONVERT_H_
#define COORDHA_ETCD_CONVERT_H_

#include "absl/strings/string_view.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "etcd/types.h"

namespace coordha::etcd::internal {

KeyValue FromProto(const mvccpb::KeyValue& kv);
void ToProto(absl::string_view key, const RangeOptions& options, etcdserverpb::RangeRequest* req);
RangeResult FromProto(const etcdserverpb::RangeResponse& resp);
PutResult FromProto(const etcdserverpb::PutResponse& resp);
DeleteResult FromProto(const etcdserverpb::DeleteRangeResponse& resp);
void ToProto(const Txn& txn, etcdserverpb::TxnRequest* req);
TxnResult FromProto(const etcdserverpb::TxnResponse& resp);

}  // namespace coordha::etcd::internal

#endif  // COORDHA_ETCD_CONVERT_H_
