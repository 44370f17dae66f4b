// `coordha status`: the session table (status_view.h) once, as JSON, or redrawn every second.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "cli/commands.h"
#include "cli/status_view.h"
#include "nlohmann/json.hpp"
#include "session/keys.h"
#include "session/session_info.h"

namespace coordha::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;

bool IsCoordinatorRole(const std::string& role) {
  auto parsed = config::ParseRole(role);
  return parsed.ok() && config::IsCoordinator(*parsed);
}

// "<role>-<digits>" -> (role, id); false for anything else ("rootcoord", "id").
bool ParseSessionKey(absl::string_view name, std::string* role, int64_t* server_id) {
  const size_t dash = name.rfind('-');
  if (dash == absl::string_view::npos || dash == 0 || dash + 1 == name.size()) return false;
  absl::string_view digits = name.substr(dash + 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    return false;
  }
  if (!absl::SimpleAtoi(digits, server_id)) return false;
  *role = std::string(name.substr(0, dash));
  return true;
}

std::string Cell(int64_t n) { return std::to_string(n); }

// The coordinators' placement records into each worker row's `work` (and `unplaced`). A failed
// read leaves that coordinator's work out: the session table matters more.
void ReadPlacements(etcd::Client& client, const std::string& meta_root, Deadline deadline,
                    ClusterView* view) {
  std::map<int64_t, SessionRow*> workers;
  for (SessionRow& row : view->sessions) {
    if (!IsCoordinatorRole(row.role)) workers[row.server_id] = &row;
  }
  for (const char* coordinator : {"datacoord", "querycoord", "indexcoord"}) {
    const std::string prefix = absl::StrCat(meta_root, "/", coordinator, "/assignment/");
    auto read = client.Range(prefix, etcd::RangeOptions{.prefix = true}, deadline);
    if (!read.ok()) continue;
    for (const etcd::KeyValue& kv : read->kvs) {
      const std::string item = kv.key.substr(prefix.size());
      const std::string kind = item.substr(0, item.find('/'));
      int64_t worker = 0;
      if (!absl::SimpleAtoi(kv.value.substr(0, kv.value.find(' ')), &worker)) continue;
      auto it = workers.find(worker);
      if (it == workers.end()) {
        ++view->unplaced[coordinator];
      } else {
        ++it->second->work[kind];
      }
    }
  }
}

// "channel:2 flush:1", or "-".
std::string WorkCell(const SessionRow& row) {
  if (row.work.empty()) return IsCoordinatorRole(row.role) ? "-" : "idle";
  std::vector<std::string> parts;
  for (const auto& [kind, count] : row.work) parts.push_back(absl::StrCat(kind, ":", count));
  return absl::StrJoin(parts, " ");
}

}  // namespace

std::string UnreachableMessage(const std::vector<std::string>& endpoints, const absl::Status& why) {
  // The client's message repeats the endpoints and a fix of its own; keep only its reason, the
  // part in the last parentheses, when it has that shape.
  std::string reason(why.message());
  const size_t open = reason.find(" (");
  if (absl::StartsWith(reason, "cannot reach etcd") && open != std::string::npos &&
      absl::EndsWith(reason, ")")) {
    reason = reason.substr(open + 2, reason.size() - open - 3);
    // "etcd Status failed on every endpoint (a:1,b:2): cannot connect to ...": the cause is enough.
    if (const size_t cause = reason.find("): "); cause != std::string::npos) {
      reason = reason.substr(cause + 3);
    }
  }
  return absl::StrCat("etcd at ", absl::StrJoin(endpoints, ","), " is unreachable (", reason,
                      "); start etcd or set etcd.endpoints");
}

absl::StatusOr<ClusterView> ReadClusterView(etcd::Client& client, const std::string& meta_root,
                                            Deadline deadline) {
  ClusterView view;
  view.prefix = session::Keys(meta_root).SessionPrefix();
  absl::StatusOr<etcd::RangeResult> range =
      client.Range(view.prefix, etcd::RangeOptions{.prefix = true}, deadline);
  if (!range.ok()) return range.status();
  view.revision = range->revision;

  struct ActiveKey {
    int64_t server_id = 0;
    int64_t epoch = 0;
    std::string state;
  };
  std::map<std::string, ActiveKey> actives;
  std::vector<std::pair<SessionRow, int64_t>> rows;  // row, lease
  for (const etcd::KeyValue& kv : range->kvs) {
    const std::string name = kv.key.substr(view.prefix.size());
    if (name == "id") continue;
    absl::StatusOr<session::SessionInfo> info = session::ParseSessionInfo(kv.value);
    if (!info.ok()) {
      view.problems.push_back(absl::StrCat(kv.key, ": ", info.status().message()));
      continue;
    }
    SessionRow row;
    if (!ParseSessionKey(name, &row.role, &row.server_id)) {
      // The role's active key.
      actives[name] = ActiveKey{.server_id = info->server_id,
                                .epoch = kv.create_revision,
                                .state = session::SessionStateName(info->state)};
      continue;
    }
    row.address = info->address;
    row.version = info->version;
    row.pid = info->process.pid;
    row.host_name = info->process.host_name;
    row.metrics_address = info->metrics_address;
    const bool stopping = info->stopping || info->state == session::SessionState::kStopping;
    row.state = IsCoordinatorRole(row.role) ? (stopping ? "Stopping" : "StandBy")
                                            : session::SessionStateName(info->state);
    rows.emplace_back(std::move(row), kv.lease != 0 ? kv.lease : info->lease_id);
  }

  std::map<int64_t, int64_t> ttl_by_lease;  // sessions of one process share a lease
  std::map<std::string, RoleSummary> roles;
  for (auto& [row, lease] : rows) {
    if (lease != 0) {
      auto cached = ttl_by_lease.find(lease);
      if (cached == ttl_by_lease.end()) {
        absl::StatusOr<etcd::LeaseTimeToLive> ttl = client.TimeToLive(lease, false, deadline);
        cached = ttl_by_lease.emplace(lease, ttl.ok() ? ttl->ttl_seconds : -1).first;
      }
      row.lease_ttl_left = cached->second < 0 ? -1 : cached->second;
    }
    RoleSummary& summary = roles[row.role];
    summary.role = row.role;
    summary.coordinator = IsCoordinatorRole(row.role);
    ++summary.sessions;
    auto active = actives.find(row.role);
    if (active != actives.end() && active->second.server_id == row.server_id) {
      row.active = true;
      row.state = active->second.state;
      row.epoch = active->second.epoch;
      summary.active_server_id = row.server_id;
      summary.epoch = row.epoch;
      summary.active_address = row.address;
      summary.active_state = row.state;
      summary.active_pid = row.pid;
    }
    view.sessions.push_back(std::move(row));
  }
  // An active key whose session is missing (should not happen: both ride one lease).
  for (const auto& [role, active] : actives) {
    RoleSummary& summary = roles[role];
    if (summary.active_server_id != 0) continue;
    summary.role = role;
    summary.coordinator = IsCoordinatorRole(role);
    summary.active_server_id = active.server_id;
    summary.epoch = active.epoch;
    summary.active_state = active.state;
  }
  std::sort(view.sessions.begin(), view.sessions.end(),
            [](const SessionRow& a, const SessionRow& b) {
              return std::tie(a.role, a.server_id) < std::tie(b.role, b.server_id);
            });
  // The last takeover of each role; a failed read only leaves them out.
  const std::string failover_prefix = session::Keys(meta_root).FailoverPrefix();
  auto failovers = client.Range(failover_prefix, etcd::RangeOptions{.prefix = true}, deadline);
  if (failovers.ok()) {
    for (const etcd::KeyValue& kv : failovers->kvs) {
      const std::string role = kv.key.substr(failover_prefix.size());
      nlohmann::json j = nlohmann::json::parse(kv.value, nullptr, false);
      if (!j.is_object() || roles.find(role) == roles.end()) continue;
      RoleSummary::LastFailover& f = roles[role].last_failover;
      f.epoch = j.value("epoch", int64_t{0});
      f.server_id = j.value("serverId", int64_t{0});
      f.cause = j.value("cause", std::string());
      f.took_ms = j.value("tookMs", int64_t{0});
      f.at_unix_ms = j.value("atUnixMs", int64_t{0});
      f.previous_server_id = j.value("previousServerId", int64_t{0});
      f.previous_epoch = j.value("previousEpoch", int64_t{0});
    }
  }
  for (auto& [role, summary] : roles) view.roles.push_back(std::move(summary));
  ReadPlacements(client, meta_root, deadline, &view);
  return view;
}

std::string RenderTable(const ClusterView& view) {
  if (view.sessions.empty() && view.roles.empty()) {
    std::string out = absl::StrCat("no sessions under ", view.prefix, "\n");
    for (const std::string& problem : view.problems) absl::StrAppend(&out, "  ", problem, "\n");
    return out;
  }
  std::vector<std::vector<std::string>> cells = {{"ROLE", "SERVER", "ADDRESS", "ACTIVE", "STATE",
                                                  "EPOCH", "LEASE-LEFT", "VERSION", "PID", "HOST",
                                                  "WORK"}};
  for (const SessionRow& row : view.sessions) {
    const bool coordinator = IsCoordinatorRole(row.role);
    cells.push_back({row.role, Cell(row.server_id), row.address,
                     row.active ? "* active" : (coordinator ? "standby" : "worker"), row.state,
                     row.active ? Cell(row.epoch) : "-",
                     row.lease_ttl_left >= 0 ? absl::StrCat(row.lease_ttl_left, "s") : "-",
                     row.version, row.pid > 0 ? Cell(row.pid) : "-", row.host_name, WorkCell(row)});
  }
  std::vector<size_t> widths(cells.front().size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  std::string out;
  for (const auto& line : cells) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      absl::StrAppend(&text, line[i]);
      if (i + 1 < line.size()) text.append(widths[i] - line[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(text), "\n");
  }
  for (const RoleSummary& role : view.roles) {
    if (!role.coordinator) continue;
    if (role.active_server_id == 0) {
      absl::StrAppend(&out, role.role, ": no active!\n");
    } else if (role.sessions > 0 && role.active_pid == 0 && role.active_address.empty()) {
      absl::StrAppend(&out, role.role, ": active key names server ", role.active_server_id,
                      ", which has no session\n");
    }
  }
  for (const auto& [coordinator, count] : view.unplaced) {
    absl::StrAppend(&out, coordinator, ": ", count,
                    " items on no live worker (start one, or wait for the active to move them)\n");
  }
  for (const RoleSummary& role : view.roles) {
    const RoleSummary::LastFailover& f = role.last_failover;
    if (f.epoch == 0) continue;
    char when[32] = "?";
    const time_t t = static_cast<time_t>(f.at_unix_ms / 1000);
    tm local{};
    if (localtime_r(&t, &local) != nullptr)
      strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &local);
    absl::StrAppend(&out, role.role, ": last failover ", when, ": server ", f.server_id,
                    " took over from server ", f.previous_server_id, " (", f.cause, "), serving ",
                    f.took_ms, " ms after epoch ", f.previous_epoch, " ended\n");
  }
  for (const std::string& problem : view.problems) {
    absl::StrAppend(&out, "unreadable: ", problem, "\n");
  }
  return out;
}

std::string RenderJson(const ClusterView& view) {
  nlohmann::json sessions = nlohmann::json::array();
  for (const SessionRow& row : view.sessions) {
    sessions.push_back({{"role", row.role},
                        {"kind", IsCoordinatorRole(row.role) ? "coordinator" : "worker"},
                        {"serverId", row.server_id},
                        {"address", row.address},
                        {"active", row.active},
                        {"state", row.state},
                        {"epoch", row.epoch},
                        {"leaseTtlLeft", row.lease_ttl_left},
                        {"version", row.version},
                        {"pid", row.pid},
                        {"hostName", row.host_name},
                        {"metricsAddress", row.metrics_address},
                        {"work", row.work}});
  }
  nlohmann::json roles = nlohmann::json::array();
  for (const RoleSummary& role : view.roles) {
    nlohmann::json entry = {{"role", role.role},
                            {"sessions", role.sessions},
                            {"activeServerId", nullptr},
                            {"epoch", role.epoch}};
    if (role.active_server_id != 0) entry["activeServerId"] = role.active_server_id;
    if (role.coordinator) entry["hasActive"] = role.active_server_id != 0;
    const RoleSummary::LastFailover& f = role.last_failover;
    if (f.epoch != 0) {
      entry["lastFailover"] = {{"epoch", f.epoch},
                               {"serverId", f.server_id},
                               {"cause", f.cause},
                               {"tookMs", f.took_ms},
                               {"atUnixMs", f.at_unix_ms},
                               {"previousServerId", f.previous_server_id},
                               {"previousEpoch", f.previous_epoch}};
    }
    roles.push_back(std::move(entry));
  }
  nlohmann::json out = {{"sessions", std::move(sessions)},
                        {"roles", std::move(roles)},
                        {"prefix", view.prefix},
                        {"revision", view.revision}};
  if (!view.problems.empty()) out["problems"] = view.problems;
  if (!view.unplaced.empty()) out["unplaced"] = view.unplaced;
  return out.dump();
}

int StatusCommand(const config::Config& config, const StatusOptions& options) {
  // Ctrl-C ends --watch cleanly (exit 0): block the signals before the etcd client starts gRPC's
  // threads, so they inherit the mask and the signal is taken below by sigtimedwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  if (options.watch) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<etcd::Client>> client =
      etcd::Client::Connect(config.etcd.ToClientOptions());
  if (!client.ok()) {
    std::fprintf(stderr, "coordha: %s\n",
                 (client.status().code() == absl::StatusCode::kUnavailable
                      ? UnreachableMessage(config.etcd.endpoints, client.status())
                      : absl::StrCat("etcd: ", client.status().message()))
                     .c_str());
    return kExitRuntimeError;
  }
  const std::string meta_root = config.etcd.MetaRoot();
  const Duration timeout = config.etcd.request_timeout;

  if (!options.watch) {
    absl::StatusOr<ClusterView> view = ReadClusterView(**client, meta_root, Deadline::In(timeout));
    if (!view.ok()) {
      std::fprintf(stderr, "coordha: reading sessions from etcd: %s\n",
                   std::string(view.status().message()).c_str());
      return kExitRuntimeError;
    }
    const std::string text = options.json ? RenderJson(*view) + "\n" : RenderTable(*view);
    std::fputs(text.c_str(), stdout);
    return kExitOk;
  }

  // --watch: like watch(1) — clear and redraw every second. With --json, one object per line
  // (nothing cleared), for piping into jq.
  const bool tty = isatty(STDOUT_FILENO) == 1;
  while (true) {
    absl::StatusOr<ClusterView> view = ReadClusterView(
        **client, meta_root, Deadline::In(std::min<Duration>(timeout, std::chrono::seconds(1))));
    std::string frame;
    if (options.json) {
      frame = view.ok()
                  ? RenderJson(*view) + "\n"
                  : nlohmann::json({{"error", std::string(view.status().message())}}).dump() + "\n";
    } else {
      char now[32] = {};
      const time_t t = time(nullptr);
      tm local{};
      localtime_r(&t, &local);
      strftime(now, sizeof(now), "%H:%M:%S", &local);
      frame = absl::StrCat(
          tty ? "\033[H\033[2J" : "", "coordha status: etcd ",
          absl::StrJoin(config.etcd.endpoints, ","), ", every 1s, ", now, " (Ctrl-C to stop)\n\n",
          view.ok() ? RenderTable(*view) : absl::StrCat("etcd: ", view.status().message(), "\n"),
          tty ? "" : "\n");
    }
    std::fputs(frame.c_str(), stdout);
    std::fflush(stdout);
    const timespec tick{1, 0};
    const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) return kExitOk;
  }
}

}  // namespace coordha::cli
