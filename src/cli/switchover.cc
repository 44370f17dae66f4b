// `coordha switchover <role> [--to SERVERID]` and `coordha resign <role>` (DESIGN.md §7).
//
// Both ask the role's active, over gRPC, to resign cleanly (Component.Resign): it stops answering,
// removes its key with one fenced Txn that marks the epoch resigned (no S3 wait for the winner)
// and, with --to, names the standby that should win; the other standbys defer to it (L7). The
// active refuses a target that has no live session, is stopping, does not answer, or whose copy
// lags. Then the command waits for the new active to be Healthy in etcd and prints it.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/status_view.h"
#include "coordha.grpc.pb.h"
#include "etcd/client.h"
#include "nlohmann/json.hpp"
#include "session/keys.h"
#include "session/session_info.h"

namespace coordha::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
constexpr int kExitUsage = 2;

int Fail(const std::string& line) {
  std::fprintf(stderr, "coordha: %s\n", line.c_str());
  return kExitRuntimeError;
}

int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

CLI::App* AddSwitchoverCommands(CLI::App& app, SwitchoverOptions* options,
                                const std::function<void(CLI::App*)>& add_config_flags) {
  CLI::App* switchover = app.add_subcommand(
      "switchover", "move a role's active to a standby: clean resign, the named standby wins");
  switchover->add_option("role", options->role, "rootcoord, datacoord, querycoord or indexcoord")
      ->required();
  switchover->add_option("--to", options->to_server_id,
                         "the standby's server ID (see coordha status); default: any standby");
  switchover->add_option("--timeout", options->timeout_seconds,
                         "seconds to wait for the new active (default 10)");
  switchover->add_flag("--json", options->json, "print one JSON object");
  add_config_flags(switchover);
  CLI::App* resign =
      app.add_subcommand("resign", "step a role's active down cleanly; a standby takes over");
  resign->add_option("role", options->role, "rootcoord, datacoord, querycoord or indexcoord")
      ->required();
  resign->add_option("--timeout", options->timeout_seconds,
                     "seconds to wait for the new active (default 10)");
  resign->add_flag("--json", options->json, "print one JSON object");
  add_config_flags(resign);
  return switchover;
}

int SwitchoverCommand(const config::Config& config, const SwitchoverOptions& options) {
  auto role = config::ParseRole(options.role);
  if (!role.ok() || !config::IsCoordinator(*role)) {
    std::fprintf(stderr,
                 "coordha: '%s' is not a coordinator role: use rootcoord, datacoord, querycoord "
                 "or indexcoord\n",
                 options.role.c_str());
    return kExitUsage;
  }
  if (options.timeout_seconds <= 0) {
    std::fprintf(stderr, "coordha: --timeout must be > 0 seconds\n");
    return kExitUsage;
  }
  const std::string role_name = config::RoleName(*role);
  const Duration timeout =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(options.timeout_seconds));
  const Deadline deadline = Deadline::In(timeout);

  auto client = etcd::Client::Connect(config.etcd.ToClientOptions());
  if (!client.ok()) {
    return Fail(client.status().code() == absl::StatusCode::kUnavailable
                    ? UnreachableMessage(config.etcd.endpoints, client.status())
                    : absl::StrCat("etcd: ", client.status().message()));
  }
  const session::Keys keys(config.etcd.MetaRoot());
  const std::string active_key = keys.ActiveKey(role_name);
  auto current = (*client)->Get(active_key, deadline);
  if (!current.ok())
    return Fail(absl::StrCat("reading ", active_key, ": ", current.status().message()));
  if (!current->has_value()) {
    return Fail(absl::StrCat("no active ", role_name, " right now (", active_key,
                             " is empty); nothing to switch over"));
  }
  const int64_t old_epoch = (*current)->create_revision;
  auto old_info = session::ParseSessionInfo((*current)->value);
  if (!old_info.ok()) return Fail(absl::StrCat(active_key, " does not hold a session record"));
  if (options.to_server_id != 0 && options.to_server_id == old_info->server_id) {
    return Fail(absl::StrCat("server ", options.to_server_id, " is already the active ", role_name,
                             " (epoch ", old_epoch, ")"));
  }

  // Ask the active to resign.
  auto channel = grpc::CreateChannel(old_info->address, grpc::InsecureChannelCredentials());
  auto stub = v1::Component::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(deadline.ToWall());
  v1::ResignRequest request;
  request.mutable_header()->set_target_server_id(old_info->server_id);
  request.set_to_server_id(options.to_server_id);
  request.set_timeout_ms(Millis(deadline.Remaining()));
  v1::ResignResponse response;
  const BootTime started = BootClock::now();
  grpc::Status resigned = stub->Resign(&context, request, &response);
  if (!resigned.ok()) {
    return Fail(absl::StrCat(role_name, " server ", old_info->server_id, " at ", old_info->address,
                             " refused the switchover: ", resigned.error_message()));
  }

  // Wait for the next epoch to be Healthy.
  while (true) {
    auto next = (*client)->Get(active_key, deadline);
    if (next.ok() && next->has_value() && (*next)->create_revision > old_epoch) {
      auto info = session::ParseSessionInfo((*next)->value);
      if (info.ok() && info->state == session::SessionState::kHealthy) {
        const int64_t took = Millis(BootClock::now() - started);
        const bool landed = options.to_server_id == 0 || info->server_id == options.to_server_id;
        if (options.json) {
          nlohmann::json out = {{"role", role_name},
                                {"from", {{"serverId", old_info->server_id}, {"epoch", old_epoch}}},
                                {"to",
                                 {{"serverId", info->server_id},
                                  {"epoch", (*next)->create_revision},
                                  {"address", info->address}}},
                                {"ms", took},
                                {"landed", landed}};
          std::printf("%s\n", out.dump().c_str());
        } else {
          std::printf(
              "%s: server %lld is active (epoch %lld) at %s, was server %lld (epoch %lld); "
              "took %lld ms\n",
              role_name.c_str(), static_cast<long long>(info->server_id),
              static_cast<long long>((*next)->create_revision), info->address.c_str(),
              static_cast<long long>(old_info->server_id), static_cast<long long>(old_epoch),
              static_cast<long long>(took));
        }
        if (!landed) {
          return Fail(absl::StrCat("server ", options.to_server_id,
                                   " did not take over (it stopped or died meanwhile); server ",
                                   info->server_id, " did"));
        }
        return kExitOk;
      }
    }
    if (deadline.Expired()) {
      return Fail(absl::StrCat(role_name, " server ", old_info->server_id, " resigned epoch ",
                               old_epoch, " but no new active was Healthy within ",
                               options.timeout_seconds, " s; see coordha status"));
    }
    const timespec pause{0, 2'000'000};
    nanosleep(&pause, nullptr);
  }
}

}  // namespace coordha::cli
