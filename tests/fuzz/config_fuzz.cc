// Fuzzes config::Load: the YAML file, the environment and --set layers (config/config.h).
//
// Input: "<YAML file>" optionally followed by "\n%%\n<--set lines>" and "\n%%\n<env lines>", one
// `key=value` (--set) or `NAME=VALUE` (env) per line; a backslash-n in those lines stands for a
// newline inside the value. The YAML part is written to a temp file of this process and loaded
// from there, the way the CLI loads a file.
//
// Oracle: Load returns a Config whose values are within the documented REQUIRES, or a
// kInvalidArgument error of one line starting "config: " (the CLI prints it as is). Anything else,
// and any crash, leak, sanitizer report or exception, fails.
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "config/config.h"

namespace {

using coordha::config::Config;
using coordha::config::LoadInputs;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "config_fuzz: %s\n", what.c_str());
  std::abort();
}

// One temp file per process, removed at exit.
class TempFile {
 public:
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/config_fuzz.XXXXXX";
    int fd = mkstemp(path_.data());
    if (fd < 0) Fail("cannot create a temp file in " + path_);
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }

  void Write(const std::string& text) const {
    FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr) Fail("cannot write " + path_);
    if (!text.empty() && std::fwrite(text.data(), 1, text.size(), f) != text.size()) {
      Fail("short write to " + path_);
    }
    std::fclose(f);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Lines are cut at kMaxLine bytes: an unknown --set key is compared by edit distance with every
// known key, quadratic in its length, and long keys would only slow the fuzzer down.
constexpr size_t kMaxLine = 128;

std::vector<std::string> Lines(const std::string& part) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(part, '\n', absl::SkipEmpty())) {
    out.push_back(absl::StrReplaceAll(line.substr(0, kMaxLine), {{"\\n", "\n"}}));
  }
  return out;
}

// The documented REQUIRES of config.h's fields.
void CheckConfig(const Config& c) {
  using std::chrono::seconds;
  if (c.etcd.endpoints.empty()) Fail("etcd.endpoints is empty");
  for (const std::string& e : c.etcd.endpoints) {
    if (e.empty()) Fail("an empty etcd endpoint");
  }
  if (c.etcd.root_path.empty() || c.etcd.meta_sub_path.empty() || c.etcd.kv_sub_path.empty()) {
    Fail("an empty etcd path");
  }
  if (c.etcd.request_timeout <= coordha::Duration::zero()) Fail("etcd.requestTimeout <= 0");
  if (c.session.ttl_seconds < 2) Fail("common.session.ttl < 2");
  if (c.session.serve_grant <= coordha::Duration::zero()) Fail("serveGrant <= 0");
  if (c.session.serve_grant >= seconds(c.session.ttl_seconds)) Fail("serveGrant >= ttl");
  if (c.session.suspect_after <= coordha::Duration::zero()) Fail("suspectAfter <= 0");
  if (c.session.min_active_time < coordha::Duration::zero()) Fail("minActiveTime < 0");
  if (c.roles.size() != coordha::config::AllRoles().size()) Fail("a role is missing");
  for (const auto& [role, rc] : c.roles) {
    if (rc.port < 1 || rc.port > 65535) Fail("a role port out of 1..65535");
    if (rc.work_duration < coordha::Duration::zero()) Fail("workDuration < 0");
    if (!coordha::config::IsCoordinator(role) && (rc.enable_active_standby || rc.priority != 0)) {
      Fail("a worker with enableActiveStandby or a priority");
    }
  }
  if (c.datacoord.segment_max_rows < 1) Fail("dataCoord.segment.maxRows < 1");
  if (c.metrics.port < 1 || c.metrics.port > 65535) Fail("metrics.port out of 1..65535");
  if (c.etcd.ssl_enabled && c.etcd.tls_cert.empty() != c.etcd.tls_key.empty()) {
    Fail("tlsCert without tlsKey");
  }
  if (c.etcd.auth_enabled && c.etcd.username.empty()) Fail("auth without a userName");
  static const char* const kLevels[] = {"debug", "info", "warn", "error", "panic", "fatal"};
  bool known_level = false;
  for (const char* level : kLevels) known_level = known_level || c.log_level == level;
  if (!known_level) Fail("log.level '" + c.log_level + "'");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const TempFile file;

  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts = absl::StrSplit(input, absl::MaxSplits("\n%%\n", 2));
  parts.resize(3);

  LoadInputs inputs;
  file.Write(parts[0]);
  inputs.file = file.path();
  inputs.sets = Lines(parts[1]);
  for (const std::string& line : Lines(parts[2])) {
    std::pair<std::string, std::string> env = absl::StrSplit(line, absl::MaxSplits('=', 1));
    inputs.env.push_back(std::move(env));
  }

  absl::StatusOr<Config> config = coordha::config::Load(inputs);
  if (config.ok()) {
    CheckConfig(*config);
    return 0;
  }
  const absl::Status& status = config.status();
  const std::string message(status.message());
  if (status.code() != absl::StatusCode::kInvalidArgument) Fail("not kInvalidArgument: " + message);
  if (!absl::StartsWith(message, "config: ")) Fail("no 'config: ' prefix: " + message);
  if (absl::StrContains(message, '\n')) Fail("a multi-line error: " + message);
  return 0;
}
