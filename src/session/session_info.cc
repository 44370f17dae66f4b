#include "session/session_info.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace coordha::session {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Field 22 of /proc/<pid>/stat, or 0. The command name (field 2) may hold spaces and parentheses,
// so parsing starts after its last ')'.
uint64_t ProcessStartTime(int64_t pid) {
  std::string stat = ReadFirstLine("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  // After ')' come fields 3.. ; start time is field 22, the 20th of these.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return 0;
  }
  try {
    return std::stoull(field);
  } catch (...) {
    return 0;
  }
}

// An integer field: `fallback` when absent; the value when it is a JSON integer that fits T;
// otherwise an error. (nlohmann's own get<T>() converts a fraction or a number past int64, which
// it parses as a double, with a static_cast that is undefined out of T's range.)
template <typename T>
absl::StatusOr<T> IntegerField(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_number_unsigned()) {
    const uint64_t v = it->template get<uint64_t>();
    if (v <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(v);
  } else if (it->is_number_integer()) {
    const int64_t v = it->template get<int64_t>();
    if (std::is_signed_v<T> || v >= 0) return static_cast<T>(v);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "session record: ", key, ": ", it->dump().substr(0, 80), " is not an integer in range"));
}

SessionState ParseState(const std::string& s) {
  if (s == "Healthy") return SessionState::kHealthy;
  if (s == "Stopping") return SessionState::kStopping;
  return SessionState::kInitializing;
}

}  // namespace

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kInitializing:
      return "Initializing";
    case SessionState::kHealthy:
      return "Healthy";
    case SessionState::kStopping:
      return "Stopping";
  }
  return "Initializing";
}

ProcessIdentity SelfIdentity() {
  ProcessIdentity id;
  id.boot_id = ReadFirstLine("/proc/sys/kernel/random/boot_id");
  struct stat st {};
  if (stat("/proc/self/ns/pid", &st) == 0) id.pid_ns = st.st_ino;
  id.pid = getpid();
  id.start_time = ProcessStartTime(id.pid);
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) id.host_name = host;
  return id;
}

bool ProvablyDead(const ProcessIdentity& other) {
  static const ProcessIdentity self = SelfIdentity();
  if (self.boot_id.empty() || self.pid_ns == 0 || other.boot_id != self.boot_id ||
      other.pid_ns != self.pid_ns || other.pid <= 0 || other.start_time == 0) {
    return false;
  }
  if (other.pid == self.pid) return other.start_time != self.start_time;
  if (kill(static_cast<pid_t>(other.pid), 0) != 0 && errno == ESRCH) return true;
  // The PID exists: dead if it is now another process (PID reuse), or a zombie — a zombie has
  // exited: the kernel closed its sockets and ended its threads before it became one; only its
  // parent has not reaped it yet.
  const std::string stat = ReadFirstLine("/proc/" + std::to_string(other.pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  const uint64_t now_start = ProcessStartTime(other.pid);
  if (now_start == 0) return false;
  if (now_start != other.start_time) return true;
  const char state = close + 2 < stat.size() ? stat[close + 2] : '?';
  return state == 'Z' || state == 'X';
}

std::string ToJson(const SessionInfo& info) {
  nlohmann::json j = {
      {"ServerID", info.server_id},
      {"ServerName", info.server_name},
      {"Address", info.address},
      {"Exclusive", info.exclusive},
      {"Stopping", info.stopping},
      {"TriggerKill", info.trigger_kill},
      {"Version", info.version},
      {"LeaseID", info.lease_id},
      {"HostName", info.process.host_name},
      {"Pid", info.process.pid},
      {"BootID", info.process.boot_id},
      {"PidNs", info.process.pid_ns},
      {"StartTime", info.process.start_time},
      {"MetricsAddress", info.metrics_address},
      {"Priority", info.priority},
      {"State", SessionStateName(info.state)},
  };
  return j.dump();
}

absl::StatusOr<SessionInfo> ParseSessionInfo(absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a session record: '", json.substr(0, 80), "'"));
  }
  SessionInfo info;
  struct {
    const char* key;
    int64_t* field;
  } const signed_fields[] = {{"ServerID", &info.server_id},
                             {"LeaseID", &info.lease_id},
                             {"Pid", &info.process.pid},
                             {"Priority", &info.priority}};
  for (const auto& [key, field] : signed_fields) {
    absl::StatusOr<int64_t> v = IntegerField(j, key, int64_t{0});
    if (!v.ok()) return v.status();
    *field = *v;
  }
  struct {
    const char* key;
    uint64_t* field;
  } const unsigned_fields[] = {{"PidNs", &info.process.pid_ns},
                               {"StartTime", &info.process.start_time}};
  for (const auto& [key, field] : unsigned_fields) {
    absl::StatusOr<uint64_t> v = IntegerField(j, key, uint64_t{0});
    if (!v.ok()) return v.status();
    *field = *v;
  }
  try {
    info.server_name = j.value("ServerName", std::string());
    info.address = j.value("Address", std::string());
    info.exclusive = j.value("Exclusive", false);
    info.stopping = j.value("Stopping", false);
    info.trigger_kill = j.value("TriggerKill", true);
    info.version = j.value("Version", std::string());
    info.process.host_name = j.value("HostName", std::string());
    info.process.boot_id = j.value("BootID", std::string());
    info.metrics_address = j.value("MetricsAddress", std::string());
    info.state = ParseState(j.value("State", std::string("Initializing")));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("session record has a field of the wrong type: ", e.what()));
  }
  return info;
}

}  // namespace coordha::session
