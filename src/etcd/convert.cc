#include "etcd/convert.h"
#include "absl/strings/string_view.h"

namespace coordha::etcd {

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  // The smallest key greater than every key with this prefix: drop trailing 0xff bytes, then
  // increment the last byte. An all-0xff (or empty) prefix means "to the end": "\0".
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

Compare Compare::CreateRevision(std::string key, Op op, int64_t revision) {
  return Compare{Target::kCreateRevision, op, std::move(key), revision, {}};
}
Compare Compare::ModRevision(std::string key, Op op, int64_t revision) {
  return Compare{Target::kModRevision, op, std::move(key), revision, {}};
}
Compare Compare::Version(std::string key, Op op, int64_t version) {
  return Compare{Target::kVersion, op, std::move(key), version, {}};
}
Compare Compare::Value(std::string key, Op op, std::string value) {
  return Compare{Target::kValue, op, std::move(key), 0, std::move(value)};
}
Compare Compare::Lease(std::string key, Op op, int64_t lease) {
  return Compare{Target::kLease, op, std::move(key), lease, {}};
}

TxnOp TxnOp::Get(std::string key, RangeOptions options) {
  TxnOp op;
  op.kind = Kind::kRange;
  op.key = std::move(key);
  op.prefix = options.prefix;
  op.range = std::move(options);
  return op;
}
TxnOp TxnOp::Put(std::string key, std::string value, int64_t lease) {
  TxnOp op;
  op.kind = Kind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}
TxnOp TxnOp::Delete(std::string key, bool prefix) {
  TxnOp op;
  op.kind = Kind::kDelete;
  op.key = std::move(key);
  op.prefix = prefix;
  return op;
}

namespace internal {

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(),          kv.value(),   kv.create_revision(),
                  kv.mod_revision(), kv.version(), kv.lease()};
}

void ToProto(absl::string_view key, const RangeOptions& options, etcdserverpb::RangeRequest* req) {
  req->set_key(std::string(key));
  if (options.prefix) {
    req->set_range_end(PrefixEnd(key));
  } else if (!options.range_end.empty()) {
    req->set_range_end(options.range_end);
  }
  req->set_revision(options.revision);
  req->set_limit(options.limit);
  req->set_serializable(options.serializable);
  req->set_keys_only(options.keys_only);
  req->set_count_only(options.count_only);
  req->set_min_mod_revision(options.min_mod_revision);
}

RangeResult FromProto(const etcdserverpb::RangeResponse& resp) {
  RangeResult r;
  r.revision = resp.header().revision();
  r.more = resp.more();
  r.count = resp.count();
  r.kvs.reserve(resp.kvs_size());
  for (const auto& kv : resp.kvs()) r.kvs.push_back(FromProto(kv));
  return r;
}

PutResult FromProto(const etcdserverpb::PutResponse& resp) {
  PutResult r;
  r.revision = resp.header().revision();
  if (resp.has_prev_kv()) r.prev_kv = FromProto(resp.prev_kv());
  return r;
}

DeleteResult FromProto(const etcdserverpb::DeleteRangeResponse& resp) {
  DeleteResult r;
  r.revision = resp.header().revision();
  r.deleted = resp.deleted();
  for (const auto& kv : resp.prev_kvs()) r.prev_kvs.push_back(FromProto(kv));
  return r;
}

namespace {

void ToProto(const Compare& c, etcdserverpb::Compare* out) {
  using PB = etcdserverpb::Compare;
  out->set_key(c.key);
  switch (c.op) {
    case Compare::Op::kEqual:
      out->set_result(PB::EQUAL);
      break;
    case Compare::Op::kNotEqual:
      out->set_result(PB::NOT_EQUAL);
      break;
    case Compare::Op::kLess:
      out->set_result(PB::LESS);
      break;
    case Compare::Op::kGreater:
      out->set_result(PB::GREATER);
      break;
  }
  switch (c.target) {
    case Compare::Target::kVersion:
      out->set_target(PB::VERSION);
      out->set_version(c.number);
      break;
    case Compare::Target::kCreateRevision:
      out->set_target(PB::CREATE);
      out->set_create_revision(c.number);
      break;
    case Compare::Target::kModRevision:
      out->set_target(PB::MOD);
      out->set_mod_revision(c.number);
      break;
    case Compare::Target::kValue:
      out->set_target(PB::VALUE);
      out->set_value(c.value);
      break;
    case Compare::Target::kLease:
      out->set_target(PB::LEASE);
      out->set_lease(c.number);
      break;
  }
}

void ToProto(const TxnOp& op, etcdserverpb::RequestOp* out) {
  switch (op.kind) {
    case TxnOp::Kind::kRange: {
      RangeOptions options = op.range;
      options.prefix = op.prefix;
      internal::ToProto(op.key, options, out->mutable_request_range());
      break;
    }
    case TxnOp::Kind::kPut: {
      auto* put = out->mutable_request_put();
      put->set_key(op.key);
      put->set_value(op.value);
      put->set_lease(op.lease);
      put->set_prev_kv(op.prev_kv);
      break;
    }
    case TxnOp::Kind::kDelete: {
      auto* del = out->mutable_request_delete_range();
      del->set_key(op.key);
      if (op.prefix) del->set_range_end(PrefixEnd(op.key));
      del->set_prev_kv(op.prev_kv);
      break;
    }
  }
}

}  // namespace

void ToProto(const Txn& txn, etcdserverpb::TxnRequest* req) {
  for (const Compare& c : txn.compares) ToProto(c, req->add_compare());
  for (const TxnOp& op : txn.success) ToProto(op, req->add_success());
  for (const TxnOp& op : txn.failure) ToProto(op, req->add_failure());
}

TxnResult FromProto(const etcdserverpb::TxnResponse& resp) {
  TxnResult r;
  r.revision = resp.header().revision();
  r.succeeded = resp.succeeded();
  for (const auto& op : resp.responses()) {
    switch (op.response_case()) {
      case etcdserverpb::ResponseOp::kResponseRange:
        r.results.emplace_back(FromProto(op.response_range()));
        break;
      case etcdserverpb::ResponseOp::kResponsePut:
        r.results.emplace_back(FromProto(op.response_put()));
        break;
      case etcdserverpb::ResponseOp::kResponseDeleteRange:
        r.results.emplace_back(FromProto(op.response_delete_range()));
        break;
      default:
        r.results.emplace_back(RangeResult{});  // nested txn: not used by coordha
        break;
    }
  }
  return r;
}

}  // namespace internal
}  // namespace coordha::etcd
