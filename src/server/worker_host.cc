#include "server/worker_host.h"

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/version.h"
#include "etcd/client.h"
#include "fmt/ranges.h"
#include "http/metrics.h"
#include "http/server.h"
#include "nlohmann/json.hpp"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "server/net_util.h"
#include "server/process_setup.h"
#include "server/request_metrics.h"
#include "server/server.h"
#include "session/keys.h"
#include "worker/epoch_watch.h"
#include "worker/executor.h"
#include "worker/registration.h"
#include "worker/worker.h"
#include "worker/worker_service.h"

namespace coordha::server {
namespace {

using config::Role;

constexpr std::array<v1::ItemState, 5> kItemStates = {
    v1::ITEM_PENDING, v1::ITEM_RUNNING, v1::ITEM_READY, v1::ITEM_FINISHED, v1::ITEM_FAILED};

// "ready" for ITEM_READY.
std::string ItemStateLabel(v1::ItemState state) {
  std::string name = v1::ItemState_Name(state);
  return absl::AsciiStrToLower(absl::StripPrefix(name, "ITEM_"));
}

// The worker's own metrics, refreshed from Worker::Snapshot() at each scrape.
class WorkerMetrics {
 public:
  WorkerMetrics(prometheus::Registry& registry, std::string role)
      : role_(std::move(role)),
        items_(prometheus::BuildGauge()
                   .Name("coordha_worker_items")
                   .Help("Items this worker holds, by the coordinator that assigned them and state")
                   .Register(registry)),
        epochs_(prometheus::BuildGauge()
                    .Name("coordha_worker_highest_epoch")
                    .Help("The highest epoch this worker has seen per coordinator role (S4)")
                    .Register(registry)),
        refused_(prometheus::BuildCounter()
                     .Name("coordha_sync_refused_total")
                     .Help("Syncs refused because a newer epoch of the coordinator is known (S4)")
                     .Register(registry)) {}

  void Refresh(const worker::Worker& worker) {
    for (const auto& [coordinator, snapshot] : worker.Snapshot()) {
      for (v1::ItemState state : kItemStates) {
        auto count = snapshot.items_by_state.find(state);
        items_
            .Add({{"role", role_}, {"coordinator", coordinator}, {"state", ItemStateLabel(state)}})
            .Set(count == snapshot.items_by_state.end() ? 0 : static_cast<double>(count->second));
      }
      epochs_.Add({{"role", role_}, {"coordinator", coordinator}})
          .Set(static_cast<double>(snapshot.highest_epoch));
      prometheus::Counter& refused = refused_.Add({{"role", role_}, {"coordinator", coordinator}});
      const double delta = static_cast<double>(snapshot.refused_syncs) - refused.Value();
      if (delta > 0) refused.Increment(delta);
    }
  }

 private:
  const std::string role_;
  prometheus::Family<prometheus::Gauge>& items_;
  prometheus::Family<prometheus::Gauge>& epochs_;
  prometheus::Family<prometheus::Counter>& refused_;
};

// What /status shows.
nlohmann::json StatusJson(const std::string& role, const std::string& address,
                          const std::string& metrics_address, const worker::Worker& worker,
                          const worker::Registration* registration, bool stopping) {
  const bool registered = registration != nullptr && registration->registered();
  nlohmann::json coordinators = nlohmann::json::array();
  const v1::GetDistributionResponse distribution = worker.Distribution("");
  for (const v1::CoordinatorItems& c : distribution.coordinators()) {
    nlohmann::json items = nlohmann::json::array();
    for (const v1::WorkItemStatus& item : c.items()) {
      items.push_back(
          {{"id", item.id()}, {"state", ItemStateLabel(item.state())}, {"epoch", item.epoch()}});
    }
    coordinators.push_back({{"coordinator", c.coordinator()},
                            {"highestEpoch", c.highest_epoch()},
                            {"items", std::move(items)}});
  }
  return {
      {"role", role},
      {"serverId", worker.server_id()},
      {"address", address},
      {"metricsAddress", metrics_address},
      {"state", stopping ? "Stopping" : (registered ? "Healthy" : "Initializing")},
      {"registered", registered},
      {"active", false},
      {"epochsLearned", worker.epochs_learned()},
      {"coordinators", std::move(coordinators)},
      {"pid", static_cast<int64_t>(getpid())},
      {"version", kVersion},
  };
}

}  // namespace

int RunWorker(const config::Config& config, Role role) {
  // Signals are taken by sigtimedwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  SetUpProcessLogging(config.log_level);

  const std::string role_name = config::RoleName(role);
  const std::string prefix = config::RoleKeyPrefix(role);
  const config::RoleConfig& role_config = config.role(role);

  // S6: no I/O here; the epoch watch and the registration keep trying until etcd answers.
  RequestMetrics request_metrics(ProcessRegistry(), role_name);
  etcd::ClientOptions etcd_options = config.etcd.ToClientOptions();
  request_metrics.Attach(etcd_options);
  auto client = etcd::Client::Create(etcd_options);
  if (!client.ok()) {
    PrintError(absl::StrCat("etcd: ", client.status().message()));
    return kExitUsage;
  }

  const std::string advertise_host =
      role_config.address.empty() ? DefaultAdvertiseHost() : role_config.address;
  const std::string address = HostPort(advertise_host, role_config.port);
  const std::string bind_host = role_config.address.empty() ? "0.0.0.0" : role_config.address;
  const std::string listen_address = HostPort(bind_host, role_config.port);

  // No I/O: the worker and its executor exist before anything can call them.
  auto worker = std::make_unique<worker::Worker>(
      role_name, std::make_unique<worker::SimulatedExecutor>(role_config.work_duration));
  WorkerMetrics worker_metrics(ProcessRegistry(), role_name);
  std::atomic<const worker::Registration*> registration_view{nullptr};
  std::atomic<bool> stopping{false};

  // HTTP first: its port goes into the session record.
  std::string metrics_address;  // set below, before any route can read it
  std::map<std::string, http::Handler> routes;
  routes["/healthz"] = [] { return http::Response{.body = "ok\n"}; };
  routes["/readyz"] = [&registration_view, &stopping] {
    const worker::Registration* registration = registration_view.load();
    const bool ready = !stopping.load() && registration != nullptr && registration->registered();
    return http::Response{.status = ready ? 200 : 503,
                          .body = ready ? "registered\n" : "not registered\n"};
  };
  routes["/status"] = [&, role_name, address] {
    nlohmann::json j = StatusJson(role_name, address, metrics_address, *worker,
                                  registration_view.load(), stopping.load());
    return http::Response{.content_type = "application/json", .body = j.dump() + "\n"};
  };
  routes["/metrics"] = [&worker_metrics, &worker] {
    worker_metrics.Refresh(*worker);
    return http::Response{.content_type = http::kMetricsContentType,
                          .body = http::RenderMetrics(ProcessRegistry())};
  };
  // Not the active of anything: a load balancer's /active probe says so.
  routes["/active"] = [] { return http::Response{.status = 503, .body = "worker\n"}; };
  auto http_server =
      http::Server::Start(http::ServerOptions{.port = config.metrics.port,
                                              .port_is_default = !config.metrics.port_explicit},
                          std::move(routes));
  if (!http_server.ok()) {
    PrintError(absl::StrCat(role_name, ": ", http_server.status().message()));
    return kExitRuntimeError;
  }
  metrics_address = HostPort(advertise_host, (*http_server)->port());
  if ((*http_server)->fell_back()) {
    spdlog::info("{}: metrics port {} is taken; serving /metrics on {} instead", role_name,
                 config.metrics.port, metrics_address);
  }

  if (absl::Status free = CheckPortFree(bind_host, role_config.port); !free.ok()) {
    PrintError(absl::StrCat(role_name, ": cannot listen on ", listen_address, " (", free.message(),
                            "); set ", prefix, ".port to a free port"));
    return kExitRuntimeError;
  }

  const session::Keys keys(config.etcd.MetaRoot());
  worker::EpochWatch epoch_watch(
      client->get(), keys, worker.get(),
      worker::EpochWatchOptions{.request_timeout = config.etcd.request_timeout});
  worker::RegistrationOptions registration_options{.role = role_name,
                                                   .keys = keys,
                                                   .ttl_seconds = config.session.ttl_seconds,
                                                   .serve_grant = config.session.serve_grant,
                                                   .request_timeout = config.etcd.request_timeout};
  registration_options.info.address = address;
  registration_options.info.metrics_address = metrics_address;
  registration_options.info.version = kVersion;
  worker::Registration registration(client->get(), worker.get(), std::move(registration_options));
  registration_view.store(&registration);

  worker::WorkerService worker_service(worker.get());
  worker::WorkerComponentService component(address, worker.get(), &registration);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(listen_address, grpc::InsecureServerCredentials(), &bound_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&component);
  builder.RegisterService(&worker_service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(request_metrics.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (grpc_server == nullptr || bound_port == 0) {
    PrintError(absl::StrCat(role_name, ": cannot listen on ", listen_address,
                            " (is the port taken?); set ", prefix, ".port to a free port"));
    return kExitRuntimeError;
  }
  spdlog::info("{}: coordha {} worker listening on {} (advertised {}), metrics on {}, etcd {}",
               role_name, kVersion, listen_address, address, metrics_address,
               fmt::join(config.etcd.endpoints, ","));

  while (true) {
    timespec tick{0, 100'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: {} received: stopping gracefully (send it again to force exit)", role_name,
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
  }

  // A second signal during the stop forces exit.
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
  // Coordinators see Stopping (in etcd and from GetComponentStates) and move work away; then the
  // listener closes and the lease is revoked, so the session key vanishes at once.
  stopping.store(true);
  component.SetStopping();
  if (absl::Status s = registration.MarkStopping(Deadline::In(std::chrono::seconds(2))); !s.ok()) {
    spdlog::warn("{}: could not mark the session Stopping: {}", role_name, s.message());
  }
  grpc_server->Shutdown(WallDeadlineIn(std::chrono::seconds(1)));
  if (absl::Status s = registration.Close(Deadline::In(std::chrono::seconds(2))); !s.ok()) {
    spdlog::warn("{}: could not revoke the session lease (it expires by its TTL): {}", role_name,
                 s.message());
  }
  epoch_watch.Stop();
  registration_view.store(nullptr);
  (*http_server)->Stop();
  force_exit.request_stop();
  force_exit.join();
  spdlog::info("{}: stopped", role_name);
  return kExitOk;
}

}  // namespace coordha::server
