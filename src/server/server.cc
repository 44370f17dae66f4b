#include "server/server.h"

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/version.h"
#include "coordinator/component_service.h"
#include "coordinator/composite_coordinator.h"
#include "coordinator/coordinator.h"
#include "coordinator/gate.h"
#include "coordinator/liveness_monitor.h"
#include "datacoord/datacoord_coordinator.h"
#include "etcd/client.h"
#include "fmt/ranges.h"
#include "http/metrics.h"
#include "http/server.h"
#include "indexcoord/indexcoord_coordinator.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"
#include "querycoord/querycoord_coordinator.h"
#include "rootcoord/root_coordinator.h"
#include "server/net_util.h"
#include "server/process_setup.h"
#include "server/replica_metrics.h"
#include "server/request_metrics.h"
#include "session/keys.h"
#include "session/replica.h"
#include "session/session_info.h"

namespace coordha::server {
namespace {

using config::Role;

std::map<std::string, http::Handler> Routes(const std::string& role, const std::string& address,
                                            const std::string& metrics_address,
                                            const session::Replica* replica,
                                            const coordinator::Gate* gate,
                                            prometheus::Registry* registry,
                                            ReplicaMetrics* metrics) {
  std::map<std::string, http::Handler> routes;
  routes["/healthz"] = [] { return http::Response{.body = "ok\n"}; };
  routes["/readyz"] = [replica, gate] {
    // Ready for its role: a serving active, or a registered standby whose copy is current (L5),
    // so rollouts and disruption budgets count standbys that could take over now.
    const session::ReplicaStatus status = replica->status();
    const session::ReplicaState state = status.state;
    const bool ready =
        gate->Serving() || (state == session::ReplicaState::kStandby && status.lag_revisions == 0);
    return http::Response{.status = ready ? 200 : 503,
                          .body = absl::StrCat(session::ReplicaStateName(state), "\n")};
  };
  routes["/active"] = [gate] {
    const bool serving = gate->Serving();
    return http::Response{.status = serving ? 200 : 503,
                          .body = serving ? "active\n" : "not active\n"};
  };
  routes["/status"] = [=] {
    const session::ReplicaStatus status = replica->status();
    const bool serving = gate->Serving();
    nlohmann::json j = {
        {"role", role},
        {"serverId", status.server_id},
        {"address", address},
        {"metricsAddress", metrics_address},
        {"state", serving ? "Healthy" : session::ReplicaStateName(status.state)},
        {"active", serving},
        {"epoch", serving ? status.epoch : 0},
        {"activeServerId", status.active_server_id},
        {"activeAddress", status.active_address},
        {"activeEpoch", status.active_epoch},
        {"leaseId", status.lease_id},
        {"serveGrantLeftSeconds",
         std::chrono::duration<double>(replica->ServeGrantRemaining()).count()},
        {"leaseLeftSeconds", std::chrono::duration<double>(replica->LeaseRemaining()).count()},
        {"standbyLagRevisions", status.lag_revisions},
        {"lastTakeoverCause", status.last_takeover_cause},
        {"lastTakeoverMs",
         std::chrono::duration<double, std::milli>(status.last_takeover_took).count()},
        {"pid", static_cast<int64_t>(getpid())},
        {"version", kVersion},
    };
    return http::Response{.content_type = "application/json", .body = j.dump() + "\n"};
  };
  routes["/metrics"] = [registry, metrics] {
    metrics->Refresh();
    return http::Response{.content_type = http::kMetricsContentType,
                          .body = http::RenderMetrics(*registry)};
  };
  return routes;
}

// The coordinator of `role`. Roles whose business APIs are not built yet take part in HA with
// no state of their own.
std::unique_ptr<coordinator::Coordinator> NewCoordinator(Role role, etcd::Client* client,
                                                         const config::Config& config) {
  if (role == Role::kRootCoord) {
    return rootcoord::NewRootCoordinator(rootcoord::RootCoordinatorOptions{
        .client = client, .meta_root = config.etcd.MetaRoot(), .kv_root = config.etcd.KvRoot()});
  }
  if (role == Role::kDataCoord) {
    return datacoord::NewDataCoordinator(
        datacoord::DataCoordinatorOptions{.client = client,
                                          .meta_root = config.etcd.MetaRoot(),
                                          .max_segment_rows = config.datacoord.segment_max_rows});
  }
  if (role == Role::kQueryCoord) {
    return querycoord::NewQueryCoordinator(
        querycoord::QueryCoordinatorOptions{.client = client, .meta_root = config.etcd.MetaRoot()});
  }
  if (role == Role::kIndexCoord) {
    return indexcoord::NewIndexCoordinator(
        indexcoord::IndexCoordinatorOptions{.client = client, .meta_root = config.etcd.MetaRoot()});
  }
  if (role == Role::kMixCoord) {
    // rootcoord first: the others read its catalog.
    std::vector<std::unique_ptr<coordinator::Coordinator>> parts;
    for (Role part : {Role::kRootCoord, Role::kDataCoord, Role::kQueryCoord, Role::kIndexCoord}) {
      parts.push_back(NewCoordinator(part, client, config));
    }
    return std::make_unique<coordinator::CompositeCoordinator>(std::move(parts));
  }
  return coordinator::CreateCoordinator(config::RoleName(role));
}

// The rootcoord in `coordinator` (itself, or a mixcoord's part), or null.
const rootcoord::RootCoordinator* FindRootCoordinator(const coordinator::Coordinator* c) {
  if (const auto* root = dynamic_cast<const rootcoord::RootCoordinator*>(c)) return root;
  if (const auto* mix = dynamic_cast<const coordinator::CompositeCoordinator*>(c)) {
    for (const auto& part : mix->parts()) {
      if (const auto* root = FindRootCoordinator(part.get())) return root;
    }
  }
  return nullptr;
}

// One writer per state prefix: a mixcoord and a separate rootcoord/datacoord/querycoord/indexcoord
// over the same <meta> would be two actives with separate epochs writing the same keys. The
// election cannot see that (they campaign for different keys), so a process refuses to start
// while the other kind holds an active key. A start-time check (etcd down: it passes, S6), not a
// fence: operators move between the two layouts by stopping one before starting the other.
absl::Status CheckNoOtherLayoutActive(etcd::Client* client, const session::Keys& keys, Role role,
                                      Duration timeout) {
  std::vector<Role> others;
  if (role == Role::kMixCoord) {
    others = {Role::kRootCoord, Role::kDataCoord, Role::kQueryCoord, Role::kIndexCoord};
  } else if (config::IsCoordinator(role)) {
    others = {Role::kMixCoord};
  }
  for (Role other : others) {
    const std::string key = keys.ActiveKey(config::RoleName(other));
    absl::StatusOr<std::optional<etcd::KeyValue>> held = client->Get(key, Deadline::In(timeout));
    if (!held.ok() || !held->has_value()) continue;
    absl::StatusOr<session::SessionInfo> info = session::ParseSessionInfo((*held)->value);
    const std::string who =
        info.ok() ? absl::StrCat("server ", info->server_id, " at ", info->address) : "a server";
    return absl::FailedPreconditionError(absl::StrCat(
        config::RoleName(other), " is active (", who, ", ", key, ") and serves ",
        role == Role::kMixCoord ? "part of what a mixcoord would" : "this role's state too",
        "; run either one mixcoord or the separate coordinators over one etcd.rootPath, "
        "not both: stop ",
        config::RoleName(other), " first"));
  }
  return absl::OkStatus();
}

}  // namespace

// COORDHA_TEST_HOOKS=1 turns on the hooks integration tests use; never set in production.
bool TestHooksEnabled() {
  const char* value = std::getenv("COORDHA_TEST_HOOKS");
  return value != nullptr && std::string(value) == "1";
}

// What the HTTP routes read. Published once the replica exists; until then /readyz and /active
// answer 503.
struct RouteContext {
  std::map<std::string, http::Handler> routes;
};

int Run(const config::Config& config, Role role) {
  // Signals are taken by sigtimedwait below; block them before any thread starts so every thread
  // inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Test hooks (integration tests only): SIGUSR1 hangs the serving path (L6), SIGUSR2 releases
  // it; COORDHA_TEST_LIVENESS_ADDRESS points the standby's liveness watch at a proxy.
  const bool test_hooks = TestHooksEnabled();
  if (test_hooks) {
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGUSR2);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  SetUpProcessLogging(config.log_level);

  const std::string role_name = config::RoleName(role);
  const std::string prefix = config::RoleKeyPrefix(role);
  const config::RoleConfig& role_config = config.role(role);

  // S6: no I/O here; the replica keeps trying every endpoint until etcd answers.
  RequestMetrics request_metrics(ProcessRegistry(), role_name);
  etcd::ClientOptions etcd_options = config.etcd.ToClientOptions();
  request_metrics.Attach(etcd_options);
  auto client = etcd::Client::Create(etcd_options);
  if (!client.ok()) {
    PrintError(absl::StrCat("etcd: ", client.status().message()));
    return kExitUsage;
  }
  if (absl::Status layout = CheckNoOtherLayoutActive(
          client->get(), session::Keys(config.etcd.MetaRoot()), role,
          std::min<Duration>(config.etcd.request_timeout, std::chrono::seconds(2)));
      !layout.ok()) {
    PrintError(absl::StrCat(role_name, ": ", layout.message()));
    return kExitRuntimeError;
  }

  const std::string advertise_host =
      role_config.address.empty() ? DefaultAdvertiseHost() : role_config.address;
  const std::string address = HostPort(advertise_host, role_config.port);
  const std::string listen_address =
      HostPort(role_config.address.empty() ? "0.0.0.0" : role_config.address, role_config.port);

  // HTTP first: its port goes into the session record.
  std::atomic<const RouteContext*> route_context{nullptr};
  std::map<std::string, http::Handler> routes;
  for (const char* path : {"/healthz", "/readyz", "/active", "/status", "/metrics"}) {
    routes[path] = [&route_context, path = std::string(path)]() -> http::Response {
      const RouteContext* context = route_context.load(std::memory_order_acquire);
      if (context == nullptr) {
        if (path == "/healthz") return http::Response{.body = "ok\n"};
        return http::Response{.status = 503, .body = "starting\n"};
      }
      return context->routes.at(path)();
    };
  }
  auto http_server =
      http::Server::Start(http::ServerOptions{.port = config.metrics.port,
                                              .port_is_default = !config.metrics.port_explicit},
                          std::move(routes));
  if (!http_server.ok()) {
    PrintError(absl::StrCat(role_name, ": ", http_server.status().message()));
    return kExitRuntimeError;
  }
  const std::string metrics_address = HostPort(advertise_host, (*http_server)->port());
  if ((*http_server)->fell_back()) {
    spdlog::info("{}: metrics port {} is taken; serving /metrics on {} instead", role_name,
                 config.metrics.port, metrics_address);
  }

  std::unique_ptr<coordinator::Coordinator> coordinator =
      NewCoordinator(role, client->get(), config);
  coordinator::LivenessMonitorOptions liveness_options;
  if (test_hooks) {
    if (const char* proxy = std::getenv("COORDHA_TEST_LIVENESS_ADDRESS")) {
      liveness_options.address_override = proxy;
    }
  }
  coordinator::GrpcLivenessMonitor liveness(liveness_options);
  ReplicaMetrics metrics(ProcessRegistry(), role_name);
  session::ReplicaOptions options;
  options.role = role_name;
  options.active_standby_key = prefix + ".enableActiveStandby";
  options.keys = session::Keys(config.etcd.MetaRoot());
  options.info.address = address;
  options.info.metrics_address = metrics_address;
  options.info.version = kVersion;
  options.info.priority = role_config.priority;
  options.active_standby = role_config.enable_active_standby;
  options.session.ttl_seconds = config.session.ttl_seconds;
  options.session.serve_grant = config.session.serve_grant;
  options.request_timeout = config.etcd.request_timeout;
  options.liveness = &liveness;
  options.suspect_after = config.session.suspect_after;
  options.min_active_time = config.session.min_active_time;
  options.observer = &metrics;
  std::unique_ptr<session::Replica> replica =
      session::Replica::Create(client->get(), std::move(options), coordinator.get());
  coordinator::Gate gate(replica.get());
  coordinator->Bind(&gate);
  coordinator::ComponentService component(role_name, address, &gate, replica.get());

  const std::string bind_host = role_config.address.empty() ? "0.0.0.0" : role_config.address;
  if (absl::Status free = CheckPortFree(bind_host, role_config.port); !free.ok()) {
    PrintError(absl::StrCat(role_name, ": cannot listen on ", listen_address, " (", free.message(),
                            "); set ", prefix, ".port to a free port"));
    return kExitRuntimeError;
  }
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(listen_address, grpc::InsecureServerCredentials(), &bound_port);
  // L2: no SO_REUSEPORT, so a second process cannot bind the active's port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&component);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(request_metrics.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  for (grpc::Service* service : coordinator->Services()) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (grpc_server == nullptr || bound_port == 0) {
    PrintError(absl::StrCat(role_name, ": cannot listen on ", listen_address,
                            " (is the port taken?); set ", prefix, ".port to a free port"));
    return kExitRuntimeError;
  }

  // L6: the watchdog probes the serving path through this process's own gRPC server.
  auto self_channel = grpc::CreateChannel(
      HostPort(bind_host == "0.0.0.0" ? "127.0.0.1" : bind_host, role_config.port),
      grpc::InsecureChannelCredentials());
  std::shared_ptr<v1::Component::Stub> self_stub = v1::Component::NewStub(self_channel);
  coordinator->SetServingProbe([self_stub](Deadline deadline) -> absl::Status {
    grpc::ClientContext context;
    context.set_deadline(deadline.ToWall());
    v1::ProbeRequest request;
    v1::ProbeResponse response;
    grpc::Status status = self_stub->Probe(&context, request, &response);
    if (status.ok()) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("the serving path did not answer its probe: ", status.error_message()));
  });
  metrics.SetReplica(replica.get());
  if (const auto* root = FindRootCoordinator(coordinator.get())) {
    metrics.SetTsoLeadSource([root] { return root->TsoLeadSeconds(); });
  }
  RouteContext context{Routes(role_name, address, metrics_address, replica.get(), &gate,
                              &ProcessRegistry(), &metrics)};
  route_context.store(&context, std::memory_order_release);

  spdlog::info("{}: coordha {} listening on {} (advertised {}), metrics on {}, etcd {}", role_name,
               kVersion, listen_address, address, metrics_address,
               fmt::join(config.etcd.endpoints, ","));
  replica->Start();

  // Wait for a signal, or for exclusive mode to refuse.
  int exit_code = kExitOk;
  while (true) {
    timespec tick{0, 100'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGUSR1 || sig == SIGUSR2) {
      spdlog::warn("{}: test hook: serving path {}", role_name,
                   sig == SIGUSR1 ? "hung" : "released");
      gate.SetServingPathHungForTest(sig == SIGUSR1);
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: {} received: stopping gracefully (send it again to force exit)", role_name,
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    const session::ReplicaStatus status = replica->status();
    if (status.state == session::ReplicaState::kStopped) {
      absl::Status refusal = replica->refusal();
      if (!refusal.ok()) {
        PrintError(std::string(refusal.message()));
        exit_code = kExitRuntimeError;
      }
      break;
    }
  }

  // L1: answer Stopping (listener still open), resign + revoke, then close the listeners. A
  // second signal during this forces exit.
  std::jthread force_exit([&signals, role_name](std::stop_token stop) {
    while (!stop.stop_requested()) {
      timespec tick{0, 50'000'000};
      const int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig == SIGTERM || sig == SIGINT) {
        std::fprintf(stderr, "coordha: %s: second signal: exiting now\n", role_name.c_str());
        std::_Exit(kExitRuntimeError);
      }
    }
  });
  replica->BeginStop();
  replica->Stop(Deadline::In(std::chrono::seconds(3)));
  // The role is resigned: end the liveness streams and release any hung caller, then close.
  component.Shutdown();
  gate.ReleaseAll();
  grpc_server->Shutdown(WallDeadlineIn(std::chrono::seconds(1)));
  route_context.store(nullptr, std::memory_order_release);
  (*http_server)->Stop();
  force_exit.request_stop();
  force_exit.join();
  if (exit_code == kExitOk) spdlog::info("{}: stopped", role_name);
  return exit_code;
}

}  // namespace coordha::server
