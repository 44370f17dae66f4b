#include "etcd/transport.h"
#include "absl/strings/string_view.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "etcd/errors.h"

namespace coordha::etcd::internal {
namespace {

using std::chrono::milliseconds;

absl::StatusOr<std::string> ReadPemFile(absl::string_view what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd TLS ", what, " '", path, "' cannot be read: ", std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  // Each Client gets its own connections: a watcher of one client never shares fate (or a test's
  // fault) with another client's channel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Reconnect fast after an etcd restart; gRPC's defaults back off up to 120 s.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // HTTP/2 pings find a dead peer behind a silent network. etcd refuses pings more often than
  // every 5 s (--grpc-keepalive-min-time) and without an active stream.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetMaxReceiveMessageSize(256 << 20);
  return args;
}

}  // namespace

absl::StatusOr<std::string> ParseEndpoint(absl::string_view endpoint, bool* tls) {
  absl::string_view rest = endpoint;
  *tls = false;
  if (absl::ConsumePrefix(&rest, "https://")) {
    *tls = true;
  } else if (absl::ConsumePrefix(&rest, "http://")) {
  } else if (absl::StrContains(rest, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint '", endpoint,
                     "': only http:// and https:// are supported; write host:port"));
  }
  while (absl::ConsumeSuffix(&rest, "/")) {
  }
  size_t colon = rest.rfind(':');
  if (rest.empty() || colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etcd endpoint '", endpoint, "' is not host:port (for example 127.0.0.1:2379)"));
  }
  absl::string_view host = rest.substr(0, colon);
  absl::string_view port = rest.substr(colon + 1);
  if (absl::StrContains(host, ':') && !(host.front() == '[' && host.back() == ']')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etcd endpoint '", endpoint, "': write an IPv6 host in brackets, e.g. [::1]:2379"));
  }
  int port_number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || port_number < 1 ||
      port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("etcd endpoint '", endpoint, "': port '", port,
                                                   "' is not a number in 1..65535"));
  }
  return std::string(rest);
}

absl::StatusOr<std::unique_ptr<Transport>> Transport::Create(const ClientOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("no etcd endpoints given (for example 127.0.0.1:2379)");
  }
  ClientOptions opts = options;
  std::vector<std::string> addresses;
  int tls_count = 0;
  for (const std::string& e : options.endpoints) {
    bool tls = false;
    COORDHA_ASSIGN_OR_RETURN(std::string address, ParseEndpoint(e, &tls));
    tls_count += tls;
    addresses.push_back(std::move(address));
  }
  if (tls_count != 0 && tls_count != static_cast<int>(addresses.size())) {
    return absl::InvalidArgumentError(
        "etcd endpoints mix http:// and https://; use one scheme for all");
  }
  if (tls_count > 0) opts.tls.enabled = true;
  if (opts.tls.cert_file.empty() != opts.tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "etcd TLS: a client certificate needs its key and a key its certificate; set both or "
        "neither");
  }
  if (!opts.tls.ca_file.empty() || !opts.tls.cert_file.empty()) opts.tls.enabled = true;
  if (opts.username.empty() && !opts.password.empty()) {
    return absl::InvalidArgumentError("etcd auth: a password is set but no user name");
  }

  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (opts.tls.enabled) {
    grpc::SslCredentialsOptions ssl;
    if (!opts.tls.ca_file.empty()) {
      COORDHA_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPemFile("CA file", opts.tls.ca_file));
    }
    if (!opts.tls.cert_file.empty()) {
      COORDHA_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                               ReadPemFile("certificate file", opts.tls.cert_file));
      COORDHA_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPemFile("key file", opts.tls.key_file));
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }

  std::vector<std::unique_ptr<Endpoint>> endpoints;
  for (std::string& address : addresses) {
    auto ep = std::make_unique<Endpoint>();
    ep->address = address;
    ep->channel = grpc::CreateCustomChannel(address, creds, ChannelArgs());
    ep->kv = etcdserverpb::KV::NewStub(ep->channel);
    ep->lease = etcdserverpb::Lease::NewStub(ep->channel);
    ep->watch = etcdserverpb::Watch::NewStub(ep->channel);
    ep->maintenance = etcdserverpb::Maintenance::NewStub(ep->channel);
    ep->auth = etcdserverpb::Auth::NewStub(ep->channel);
    endpoints.push_back(std::move(ep));
  }
  return std::unique_ptr<Transport>(new Transport(std::move(opts), std::move(endpoints)));
}

Transport::Transport(ClientOptions options, std::vector<std::unique_ptr<Endpoint>> endpoints)
    : options_(std::move(options)), endpoints_(std::move(endpoints)) {}

std::string Transport::EndpointList() const {
  std::vector<std::string> list;
  for (const auto& ep : endpoints_) list.push_back(ep->address);
  return absl::StrJoin(list, ",");
}

ClientStats Transport::stats() const {
  ClientStats s;
  s.endpoint_switches = endpoint_switches_.load();
  MutexLock lock(&auth_mu_);
  s.authentications = authentications_;
  return s;
}

bool Transport::Connected(Endpoint& ep, Deadline deadline, bool patient) {
  grpc_connectivity_state state = ep.channel->GetState(/*try_to_connect=*/true);
  if (state == GRPC_CHANNEL_READY) return true;
  if (state == GRPC_CHANNEL_TRANSIENT_FAILURE && !patient) return false;
  Deadline wait = deadline.Min(Deadline::In(options_.dial_timeout));
  return ep.channel->WaitForConnected(wait.ToWall());
}

void Transport::Prefer(size_t index) {
  if (preferred_.exchange(index) != index) endpoint_switches_.fetch_add(1);
}

void Transport::AvoidEndpoint(const Endpoint* endpoint) {
  size_t n = endpoints_.size();
  for (size_t i = 0; i < n; ++i) {
    if (endpoints_[i].get() == endpoint) {
      size_t expected = i;
      if (preferred_.compare_exchange_strong(expected, (i + 1) % n) && n > 1) {
        endpoint_switches_.fetch_add(1);
      }
      return;
    }
  }
}

absl::StatusOr<Endpoint*> Transport::PickConnected(Deadline deadline) {
  size_t n = endpoints_.size();
  size_t start = preferred_.load();
  for (size_t attempt = 0;; ++attempt) {
    if (deadline.Expired()) {
      return absl::UnavailableError(
          absl::StrCat("no etcd endpoint reachable (", EndpointList(), ")"));
    }
    size_t index = (start + attempt) % n;
    bool patient = attempt >= n;
    if (Connected(*endpoints_[index], deadline, patient)) {
      Prefer(index);
      return endpoints_[index].get();
    }
  }
}

std::string Transport::PrepareContext(grpc::ClientContext& context, Deadline deadline) {
  if (deadline.is_set()) context.set_deadline(deadline.ToWall());
  if (options_.require_leader) context.AddMetadata("hasleader", "true");
  std::string token;
  if (!options_.username.empty()) {
    MutexLock lock(&auth_mu_);
    token = token_;
  }
  if (!token.empty()) context.AddMetadata("token", token);
  return token;
}

absl::Status Transport::Authenticate(Deadline deadline) {
  etcdserverpb::AuthenticateRequest req;
  req.set_name(options_.username);
  req.set_password(options_.password);
  absl::Status last = absl::UnavailableError("no endpoint tried");
  size_t n = endpoints_.size();
  size_t start = preferred_.load();
  for (size_t attempt = 0; !deadline.Expired(); ++attempt) {
    size_t index = (start + attempt) % n;
    Endpoint& ep = *endpoints_[index];
    if (!Connected(ep, deadline, attempt >= n)) {
      last = absl::UnavailableError(absl::StrCat("cannot connect to ", ep.address));
      continue;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline.ToWall());
    etcdserverpb::AuthenticateResponse resp;
    grpc::Status s = ep.auth->Authenticate(&ctx, req, &resp);
    if (s.ok()) {
      token_ = resp.token();
      ++authentications_;
      return absl::OkStatus();
    }
    if (Classify(s) == Failure::kDefinite) {
      if (absl::StrContains(s.error_message(), "authentication failed")) {
        return absl::UnauthenticatedError(absl::StrCat("etcd authentication as '",
                                                       options_.username,
                                                       "' failed: wrong user name or password"));
      }
      return DefiniteError(s, "Authenticate", ep.address);
    }
    last = FromGrpcStatus(s);
  }
  return absl::UnavailableError(absl::StrCat("etcd authentication as '", options_.username,
                                             "' did not complete: ", last.message()));
}

absl::Status Transport::RefreshToken(const std::string& token_used, Deadline deadline) {
  if (options_.username.empty()) return absl::OkStatus();
  MutexLock lock(&auth_mu_);
  if (!token_.empty() && token_ != token_used) return absl::OkStatus();  // someone else did it
  return Authenticate(deadline.OrIn(options_.request_timeout));
}

absl::Status Transport::Call(CallKind kind, absl::string_view op, Deadline deadline,
                             const Rpc& rpc) {
  if (!options_.on_request) return CallWithRetries(kind, op, deadline, rpc);
  const BootTime started = BootClock::now();
  absl::Status result = CallWithRetries(kind, op, deadline, rpc);
  options_.on_request(op, BootClock::now() - started, result.code());
  return result;
}

absl::Status Transport::CallWithRetries(CallKind kind, absl::string_view op, Deadline deadline,
                                        const Rpc& rpc) {
  deadline = deadline.OrIn(options_.request_timeout);
  const size_t n = endpoints_.size();
  const size_t start = preferred_.load();
  absl::Status last;
  int token_refreshes = 0;
  milliseconds backoff(10);
  for (size_t attempt = 0;; ++attempt) {
    if (deadline.Expired()) {
      if (last.ok()) last = absl::DeadlineExceededError("deadline passed before any attempt");
      return absl::Status(last.code() == absl::StatusCode::kDeadlineExceeded
                              ? absl::StatusCode::kDeadlineExceeded
                              : absl::StatusCode::kUnavailable,
                          absl::StrCat("etcd ", op, " failed on every endpoint (", EndpointList(),
                                       "): ", last.message()));
    }
    // A full round of endpoints failed: pause briefly so a down cluster is not spun on.
    if (attempt > 0 && attempt % n == 0) {
      std::this_thread::sleep_for(std::min<Duration>(backoff, deadline.Remaining()));
      backoff = std::min(backoff * 2, milliseconds(250));
    }
    size_t index = (start + attempt) % n;
    Endpoint& ep = *endpoints_[index];
    if (!Connected(ep, deadline, /*patient=*/attempt >= n)) {
      last = absl::UnavailableError(absl::StrCat("cannot connect to ", ep.address));
      continue;
    }
    grpc::ClientContext ctx;
    Deadline attempt_deadline = kind == CallKind::kRead
                                    ? deadline.Min(Deadline::In(options_.read_attempt_timeout))
                                    : deadline;
    std::string token = PrepareContext(ctx, attempt_deadline);
    grpc::Status s = rpc(ep, ctx);
    if (s.ok()) {
      Prefer(index);
      return absl::OkStatus();
    }
    switch (Classify(s)) {
      case Failure::kDefinite:
        return DefiniteError(s, op, ep.address);
      case Failure::kBadToken:
        if (++token_refreshes > 3) return DefiniteError(s, op, ep.address);
        COORDHA_RETURN_IF_ERROR(RefreshToken(token, deadline));
        --attempt;  // same endpoint again, with the new token
        continue;
      case Failure::kNotApplied:
        last = FromGrpcStatus(s);
        continue;
      case Failure::kMaybeApplied:
        if (kind == CallKind::kWrite) {
          return OutcomeUnknownError(
              absl::StrCat("etcd ", op, " at ", ep.address, ": ", s.error_message()));
        }
        last = FromGrpcStatus(s);
        continue;
    }
  }
}

}  // namespace coordha::etcd::internal
