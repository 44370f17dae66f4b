// Roles, defaults and the helpers of config.h. Loading is in load.cc.
#include "config/config.h"

#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not in <unistd.h>

namespace coordha::config {
namespace {

struct RoleInfo {
  Role role;
  const char* name;
  const char* key_prefix;
  bool coordinator;
  int default_port;
};

// DESIGN.md §2.
constexpr RoleInfo kRoles[] = {
    {Role::kRootCoord, "rootcoord", "rootCoord", true, 53100},
    {Role::kDataCoord, "datacoord", "dataCoord", true, 13333},
    {Role::kQueryCoord, "querycoord", "queryCoord", true, 19531},
    {Role::kIndexCoord, "indexcoord", "indexCoord", true, 31000},
    {Role::kQueryNode, "querynode", "queryNode", false, 21123},
    {Role::kDataNode, "datanode", "dataNode", false, 21124},
    {Role::kIndexNode, "indexnode", "indexNode", false, 21121},
    {Role::kMixCoord, "mixcoord", "mixCoord", true, 53100},
};

const RoleInfo& Info(Role role) {
  for (const RoleInfo& info : kRoles) {
    if (info.role == role) return info;
  }
  return kRoles[0];  // unreachable: every enumerator is in the table
}

// Go's path.Join for two non-empty relative-or-absolute parts: one '/' between them.
std::string JoinPath(absl::string_view root, absl::string_view sub) {
  while (root.size() > 1 && absl::ConsumeSuffix(&root, "/")) {
  }
  while (absl::ConsumePrefix(&sub, "/")) {
  }
  while (absl::ConsumeSuffix(&sub, "/")) {
  }
  if (sub.empty()) return std::string(root);
  if (root == "/") return absl::StrCat("/", sub);
  return absl::StrCat(root, "/", sub);
}

}  // namespace

const std::vector<Role>& AllRoles() {
  static const std::vector<Role> roles = [] {
    std::vector<Role> all;
    for (const RoleInfo& info : kRoles) all.push_back(info.role);
    return all;
  }();
  return roles;
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  std::vector<std::string> names;
  for (const RoleInfo& info : kRoles) {
    if (lower == info.name) return info.role;
    names.push_back(info.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", name, "'; valid roles: ", absl::StrJoin(names, ", ")));
}

std::string RoleName(Role role) { return Info(role).name; }
std::string RoleKeyPrefix(Role role) { return Info(role).key_prefix; }
bool IsCoordinator(Role role) { return Info(role).coordinator; }
int DefaultPort(Role role) { return Info(role).default_port; }

etcd::ClientOptions EtcdConfig::ToClientOptions() const {
  etcd::ClientOptions options;
  options.endpoints = endpoints;
  options.request_timeout = request_timeout;
  if (auth_enabled) {
    options.username = username;
    options.password = password;
  }
  if (ssl_enabled) {
    options.tls.enabled = true;
    options.tls.ca_file = tls_ca_cert;
    options.tls.cert_file = tls_cert;
    options.tls.key_file = tls_key;
  }
  return options;
}

std::string EtcdConfig::MetaRoot() const { return JoinPath(root_path, meta_sub_path); }
std::string EtcdConfig::KvRoot() const { return JoinPath(root_path, kv_sub_path); }

Config::Config() {
  for (const RoleInfo& info : kRoles) {
    roles[info.role] = RoleConfig{.port = info.default_port};
  }
}

std::vector<std::pair<std::string, std::string>> ProcessEnvironment() {
  std::vector<std::pair<std::string, std::string>> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const char* eq = std::strchr(*entry, '=');
    if (eq == nullptr) continue;
    env.emplace_back(std::string(*entry, static_cast<size_t>(eq - *entry)), std::string(eq + 1));
  }
  return env;
}

}  // namespace coordha::config
