// Fuzzes session::ParseSessionInfo, which reads every session record found in etcd (written by
// coordha, by Milvus, or by anything else with access to the key space).
//
// Oracle: any input gives a SessionInfo or a kInvalidArgument error; a record that parses survives
// ToJson -> ParseSessionInfo with every field equal. Anything else, and any crash, leak, sanitizer
// report or exception, fails.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "session/session_info.h"

namespace {

using coordha::session::SessionInfo;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "session_info_fuzz: %s\n", what.c_str());
  std::abort();
}

bool Equal(const SessionInfo& a, const SessionInfo& b) {
  return a.server_id == b.server_id && a.server_name == b.server_name && a.address == b.address &&
         a.exclusive == b.exclusive && a.stopping == b.stopping &&
         a.trigger_kill == b.trigger_kill && a.version == b.version && a.lease_id == b.lease_id &&
         a.process.boot_id == b.process.boot_id && a.process.pid_ns == b.process.pid_ns &&
         a.process.pid == b.process.pid && a.process.start_time == b.process.start_time &&
         a.process.host_name == b.process.host_name && a.metrics_address == b.metrics_address &&
         a.priority == b.priority && a.state == b.state;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SessionInfo> info = coordha::session::ParseSessionInfo(input);
  if (!info.ok()) {
    if (info.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("not kInvalidArgument: " + info.status().ToString());
    }
    return 0;
  }
  const std::string json = coordha::session::ToJson(*info);
  absl::StatusOr<SessionInfo> again = coordha::session::ParseSessionInfo(json);
  if (!again.ok()) Fail("ToJson's output does not parse: " + again.status().ToString());
  if (!Equal(*info, *again)) Fail("round trip changed a field: " + json);
  if (coordha::session::ToJson(*again) != json) Fail("ToJson is not stable: " + json);
  return 0;
}
