#include "etcd/client.h"
#include "absl/strings/string_view.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "etcd/convert.h"
#include "etcd/transport.h"

namespace coordha::etcd {

using internal::CallKind;
using internal::Endpoint;
using internal::FromProto;
using internal::ToProto;

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  COORDHA_ASSIGN_OR_RETURN(auto transport, internal::Transport::Create(options));
  return std::unique_ptr<Client>(new Client(std::move(transport)));
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  COORDHA_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Create(options));
  internal::Transport& t = *client->transport_;
  const size_t n = options.endpoints.size();
  // Each endpoint gets its dial timeout once, plus a little for the answer itself.
  Deadline deadline =
      Deadline::In(t.options().dial_timeout * static_cast<int>(n) + std::chrono::milliseconds(500));
  if (!options.username.empty()) {
    if (absl::Status s = t.RefreshToken("", deadline); !s.ok()) {
      if (s.code() == absl::StatusCode::kUnavailable ||
          s.code() == absl::StatusCode::kDeadlineExceeded) {
        return absl::UnavailableError(absl::StrCat("cannot reach etcd at ", t.EndpointList(), " (",
                                                   s.message(),
                                                   "); check etcd.endpoints and that etcd runs"));
      }
      return s;
    }
  }
  absl::StatusOr<MemberStatus> status = client->Status(deadline);
  if (!status.ok()) {
    if (status.status().code() == absl::StatusCode::kUnavailable ||
        status.status().code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::UnavailableError(absl::StrCat(
          "cannot reach etcd at ", t.EndpointList(), " within ",
          std::chrono::duration_cast<std::chrono::milliseconds>(n * t.options().dial_timeout)
              .count(),
          " ms; check etcd.endpoints and that etcd runs (", status.status().message(), ")"));
    }
    return status.status();
  }
  int major = 0, minor = 0;
  if (std::sscanf(status->version.c_str(), "%d.%d", &major, &minor) != 2 ||
      std::make_pair(major, minor) < std::make_pair(3, 4)) {
    return absl::FailedPreconditionError(
        absl::StrCat("etcd at ", status->endpoint, " is version '", status->version,
                     "'; coordha needs etcd 3.4 or newer (3.5.18+ recommended in production)"));
  }
  return client;
}

Client::Client(std::unique_ptr<internal::Transport> transport) : transport_(std::move(transport)) {}
Client::~Client() = default;

const ClientOptions& Client::options() const { return transport_->options(); }
ClientStats Client::stats() const { return transport_->stats(); }

absl::StatusOr<RangeResult> Client::Range(absl::string_view key, const RangeOptions& options,
                                          Deadline deadline) {
  etcdserverpb::RangeRequest req;
  ToProto(key, options, &req);
  etcdserverpb::RangeResponse resp;
  COORDHA_RETURN_IF_ERROR(transport_->Call(
      CallKind::kRead, "Range", deadline,
      [&](Endpoint& ep, grpc::ClientContext& ctx) { return ep.kv->Range(&ctx, req, &resp); }));
  return FromProto(resp);
}

absl::StatusOr<std::optional<KeyValue>> Client::Get(absl::string_view key, Deadline deadline) {
  COORDHA_ASSIGN_OR_RETURN(RangeResult r, Range(key, {}, deadline));
  if (r.kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(r.kvs.front()));
}

absl::StatusOr<PutResult> Client::Put(absl::string_view key, absl::string_view value,
                                      const PutOptions& options, Deadline deadline) {
  etcdserverpb::PutRequest req;
  req.set_key(std::string(key));
  req.set_value(std::string(value));
  req.set_lease(options.lease);
  req.set_prev_kv(options.prev_kv);
  etcdserverpb::PutResponse resp;
  COORDHA_RETURN_IF_ERROR(transport_->Call(
      CallKind::kWrite, "Put", deadline,
      [&](Endpoint& ep, grpc::ClientContext& ctx) { return ep.kv->Put(&ctx, req, &resp); }));
  return FromProto(resp);
}

absl::StatusOr<DeleteResult> Client::Delete(absl::string_view key, const DeleteOptions& options,
                                            Deadline deadline) {
  etcdserverpb::DeleteRangeRequest req;
  req.set_key(std::string(key));
  if (options.prefix) {
    req.set_range_end(PrefixEnd(key));
  } else if (!options.range_end.empty()) {
    req.set_range_end(options.range_end);
  }
  req.set_prev_kv(options.prev_kv);
  etcdserverpb::DeleteRangeResponse resp;
  COORDHA_RETURN_IF_ERROR(transport_->Call(CallKind::kWrite, "DeleteRange", deadline,
                                           [&](Endpoint& ep, grpc::ClientContext& ctx) {
                                             return ep.kv->DeleteRange(&ctx, req, &resp);
                                           }));
  return FromProto(resp);
}

absl::StatusOr<TxnResult> Client::Commit(const Txn& txn, Deadline deadline) {
  etcdserverpb::TxnRequest req;
  ToProto(txn, &req);
  etcdserverpb::TxnResponse resp;
  COORDHA_RETURN_IF_ERROR(transport_->Call(
      CallKind::kWrite, "Txn", deadline,
      [&](Endpoint& ep, grpc::ClientContext& ctx) { return ep.kv->Txn(&ctx, req, &resp); }));
  return FromProto(resp);
}

absl::Status Client::Compact(int64_t revision, Deadline deadline) {
  etcdserverpb::CompactionRequest req;
  req.set_revision(revision);
  req.set_physical(true);
  etcdserverpb::CompactionResponse resp;
  return transport_->Call(
      CallKind::kWrite, "Compact", deadline,
      [&](Endpoint& ep, grpc::ClientContext& ctx) { return ep.kv->Compact(&ctx, req, &resp); });
}

absl::StatusOr<Lease> Client::LeaseGrant(int64_t ttl_seconds, Deadline deadline) {
  if (ttl_seconds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease TTL must be positive, got ", ttl_seconds, " s"));
  }
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl_seconds);
  etcdserverpb::LeaseGrantResponse resp;
  BootTime sent_at{};
  COORDHA_RETURN_IF_ERROR(transport_->Call(CallKind::kWrite, "LeaseGrant", deadline,
                                           [&](Endpoint& ep, grpc::ClientContext& ctx) {
                                             sent_at = BootClock::now();
                                             return ep.lease->LeaseGrant(&ctx, req, &resp);
                                           }));
  if (!resp.error().empty()) {
    return absl::InternalError(absl::StrCat("etcd LeaseGrant: ", resp.error()));
  }
  return Lease{resp.id(), resp.ttl(), sent_at};
}

absl::Status Client::LeaseRevoke(int64_t lease_id, Deadline deadline) {
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(lease_id);
  etcdserverpb::LeaseRevokeResponse resp;
  return transport_->Call(CallKind::kWrite, "LeaseRevoke", deadline,
                          [&](Endpoint& ep, grpc::ClientContext& ctx) {
                            return ep.lease->LeaseRevoke(&ctx, req, &resp);
                          });
}

absl::StatusOr<LeaseTimeToLive> Client::TimeToLive(int64_t lease_id, bool with_keys,
                                                   Deadline deadline) {
  etcdserverpb::LeaseTimeToLiveRequest req;
  req.set_id(lease_id);
  req.set_keys(with_keys);
  etcdserverpb::LeaseTimeToLiveResponse resp;
  COORDHA_RETURN_IF_ERROR(transport_->Call(CallKind::kRead, "LeaseTimeToLive", deadline,
                                           [&](Endpoint& ep, grpc::ClientContext& ctx) {
                                             return ep.lease->LeaseTimeToLive(&ctx, req, &resp);
                                           }));
  LeaseTimeToLive out;
  out.ttl_seconds = resp.ttl();
  out.granted_ttl_seconds = resp.grantedttl();
  for (const auto& k : resp.keys()) out.keys.push_back(k);
  return out;
}

absl::StatusOr<int64_t> Client::KeepAliveOnce(int64_t lease_id, Deadline deadline) {
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(lease_id);
  etcdserverpb::LeaseKeepAliveResponse resp;
  // A renewal is idempotent, so it retries like a read. One short stream per renewal keeps exactly
  // one request in flight and lets each renewal have its own deadline.
  COORDHA_RETURN_IF_ERROR(transport_->Call(
      CallKind::kRead, "LeaseKeepAlive", deadline, [&](Endpoint& ep, grpc::ClientContext& ctx) {
        auto stream = ep.lease->LeaseKeepAlive(&ctx);
        if (stream->Write(req)) {
          stream->WritesDone();
          if (!stream->Read(&resp)) resp.Clear();
        }
        grpc::Status s = stream->Finish();
        if (s.ok() && resp.id() != lease_id) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "keepalive stream closed early");
        }
        return s;
      }));
  return resp.ttl();
}

absl::StatusOr<MemberStatus> Client::Status(Deadline deadline) {
  etcdserverpb::StatusRequest req;
  etcdserverpb::StatusResponse resp;
  std::string endpoint;
  COORDHA_RETURN_IF_ERROR(transport_->Call(CallKind::kRead, "Status", deadline,
                                           [&](Endpoint& ep, grpc::ClientContext& ctx) {
                                             endpoint = ep.address;
                                             return ep.maintenance->Status(&ctx, req, &resp);
                                           }));
  MemberStatus s;
  s.endpoint = endpoint;
  s.version = resp.version();
  s.member_id = resp.header().member_id();
  s.leader_id = resp.leader();
  s.revision = resp.header().revision();
  s.raft_term = resp.raftterm();
  s.db_size = resp.dbsize();
  return s;
}

}  // namespace coordha::etcd
