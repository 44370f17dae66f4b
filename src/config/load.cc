// Load(): the key table, the three override layers and their checks (rules in config.h).
#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "config/config.h"

namespace coordha::config {
namespace {

// ---------------------------------------------------------------------------------------------
// Values and parsing. Parse errors are the part after "<key>: ".

// A value as one layer gives it. YAML gives a scalar or a list; env and --set give scalars.
struct RawValue {
  bool is_list = false;
  std::string scalar;
  std::vector<std::string> list;

  std::string Display() const { return is_list ? absl::StrJoin(list, ",") : scalar; }
};

absl::Status Bad(absl::string_view value, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("'", value, "' ", problem));
}

absl::StatusOr<bool> ParseBool(absl::string_view v) {
  if (absl::EqualsIgnoreCase(v, "true")) return true;
  if (absl::EqualsIgnoreCase(v, "false")) return false;
  return Bad(v, "is not true or false");
}

absl::StatusOr<int64_t> ParseInt(absl::string_view v) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(v, &n)) return Bad(v, "is not an integer");
  return n;
}

absl::StatusOr<int> ParsePort(absl::string_view v) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 65535) return Bad(v, "is not a port (1..65535)");
  return static_cast<int>(n);
}

std::string FormatDuration(Duration d) { return absl::FormatDuration(absl::FromChrono(d)); }

// "host:port", "[v6]:port", "http://host:port", "https://host:port/".
absl::Status CheckEndpoint(absl::string_view endpoint) {
  absl::string_view rest = endpoint;
  if (!absl::ConsumePrefix(&rest, "https://") && !absl::ConsumePrefix(&rest, "http://") &&
      absl::StrContains(rest, "://")) {
    return Bad(endpoint, "is not host:port (only http:// and https:// are supported)");
  }
  while (absl::ConsumeSuffix(&rest, "/")) {
  }
  size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return Bad(endpoint, "is not host:port");
  absl::string_view host = rest.substr(0, colon);
  if (absl::StrContains(host, ':') && !(host.front() == '[' && host.back() == ']')) {
    return Bad(endpoint, "is not host:port (write an IPv6 host in brackets: [::1]:2379)");
  }
  if (absl::StrContains(host, '/') || std::any_of(host.begin(), host.end(), absl::ascii_isspace)) {
    return Bad(endpoint, "is not host:port");
  }
  int64_t port = 0;
  if (!absl::SimpleAtoi(rest.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return Bad(endpoint, "is not host:port (the port must be 1..65535)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ParseEndpoints(const RawValue& v) {
  std::vector<std::string> items;
  if (v.is_list) {
    items = v.list;
  } else {
    for (absl::string_view part : absl::StrSplit(v.scalar, ',')) {
      items.emplace_back(absl::StripAsciiWhitespace(part));
    }
  }
  std::vector<std::string> endpoints;
  bool https = false;
  bool http = false;
  for (const std::string& item : items) {
    if (item.empty()) continue;
    COORDHA_RETURN_IF_ERROR(CheckEndpoint(item));
    (absl::StartsWith(item, "https://") ? https : http) = true;
    endpoints.push_back(item);
  }
  if (endpoints.empty()) return Bad(v.Display(), "has no endpoint (for example localhost:2379)");
  if (https && http) return Bad(v.Display(), "mixes https:// with plain endpoints");
  return endpoints;
}

// A role's address: "", "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 "::1".
absl::Status SetAddress(absl::string_view v, RoleConfig& role) {
  constexpr absl::string_view kNotHost = "is not a host or host:port";
  if (v.empty()) {
    role.address.clear();
    return absl::OkStatus();
  }
  std::string host;
  std::optional<absl::string_view> port;
  if (v.front() == '[') {
    size_t close = v.find(']');
    if (close == absl::string_view::npos || close == 1) return Bad(v, kNotHost);
    host = std::string(v.substr(1, close - 1));
    absl::string_view rest = v.substr(close + 1);
    if (!rest.empty()) {
      if (!absl::ConsumePrefix(&rest, ":")) return Bad(v, kNotHost);
      port = rest;
    }
  } else if (std::count(v.begin(), v.end(), ':') == 1) {
    size_t colon = v.find(':');
    if (colon == 0) return Bad(v, kNotHost);
    host = std::string(v.substr(0, colon));
    port = v.substr(colon + 1);
  } else {
    host = std::string(v);  // a host name, or a bare IPv6 address (several ':')
  }
  if (absl::StrContains(host, '/') || std::any_of(host.begin(), host.end(), absl::ascii_isspace)) {
    return Bad(v, kNotHost);
  }
  if (port.has_value()) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(*port, &n) || n < 1 || n > 65535) {
      return Bad(v, "is not host:port (the port must be 1..65535)");
    }
    role.port = static_cast<int>(n);
  }
  role.address = std::move(host);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// The key table.

// Lower-case, without '_', '.', '/': Milvus's rule for comparing key names (and env names).
std::string Normalize(absl::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '_' || c == '.' || c == '/') continue;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Sets a field from a value; the error is the part after "<key>: ".
using Setter = std::function<absl::Status(const RawValue&, Config&)>;

struct KeyDef {
  std::string name;                     // canonical spelling: "etcd.ssl.tlsCACert"
  std::string normalized;               // Normalize(name)
  std::vector<std::string> components;  // normalized components: {"etcd", "ssl", "tlscacert"}
  bool accepts_list = false;
  bool subtree = false;  // accepted and ignored, with everything under it (etcd.log)
  Setter set;            // empty: a Milvus key coordha accepts and ignores
};

// Wraps a setter that takes one scalar.
Setter Scalar(std::function<absl::Status(absl::string_view, Config&)> f) {
  return [f = std::move(f)](const RawValue& v, Config& c) { return f(v.scalar, c); };
}

Setter NonEmptyString(std::string EtcdConfig::*field) {
  return Scalar([field](absl::string_view v, Config& c) {
    if (v.empty()) return absl::InvalidArgumentError("must not be empty");
    c.etcd.*field = std::string(v);
    return absl::OkStatus();
  });
}

Setter String(std::string EtcdConfig::*field) {
  return Scalar([field](absl::string_view v, Config& c) {
    c.etcd.*field = std::string(v);
    return absl::OkStatus();
  });
}

Setter EtcdBool(bool EtcdConfig::*field) {
  return Scalar([field](absl::string_view v, Config& c) {
    COORDHA_ASSIGN_OR_RETURN(c.etcd.*field, ParseBool(v));
    return absl::OkStatus();
  });
}

Setter SessionDuration(Duration SessionConfig::*field, bool allow_zero) {
  return Scalar([field, allow_zero](absl::string_view v, Config& c) {
    COORDHA_ASSIGN_OR_RETURN(Duration d, ParseDuration(v, absl::Seconds(1)));
    if (!allow_zero && d == Duration::zero()) return Bad(v, "must be > 0");
    c.session.*field = d;
    return absl::OkStatus();
  });
}

constexpr absl::string_view kLogLevels[] = {"debug", "info", "warn", "error", "panic", "fatal"};

std::vector<KeyDef> BuildKeys() {
  std::vector<KeyDef> keys;
  auto add = [&keys](std::string name, Setter set, bool accepts_list = false) {
    KeyDef def{.name = std::move(name), .accepts_list = accepts_list, .set = std::move(set)};
    for (absl::string_view part : absl::StrSplit(def.name, '.')) {
      def.components.push_back(Normalize(part));
    }
    def.normalized = Normalize(def.name);
    keys.push_back(std::move(def));
    return &keys.back();
  };

  // etcd (strict).
  add(
      "etcd.endpoints",
      [](const RawValue& v, Config& c) {
        COORDHA_ASSIGN_OR_RETURN(c.etcd.endpoints, ParseEndpoints(v));
        return absl::OkStatus();
      },
      /*accepts_list=*/true);
  add("etcd.rootPath", NonEmptyString(&EtcdConfig::root_path));
  add("etcd.metaSubPath", NonEmptyString(&EtcdConfig::meta_sub_path));
  add("etcd.kvSubPath", NonEmptyString(&EtcdConfig::kv_sub_path));
  add("etcd.requestTimeout", Scalar([](absl::string_view v, Config& c) {
        COORDHA_ASSIGN_OR_RETURN(Duration d, ParseDuration(v, absl::Milliseconds(1)));
        if (d == Duration::zero()) return Bad(v, "must be > 0");
        c.etcd.request_timeout = d;
        return absl::OkStatus();
      }));
  add("etcd.ssl.enabled", EtcdBool(&EtcdConfig::ssl_enabled));
  add("etcd.ssl.tlsCert", String(&EtcdConfig::tls_cert));
  add("etcd.ssl.tlsKey", String(&EtcdConfig::tls_key));
  add("etcd.ssl.tlsCACert", String(&EtcdConfig::tls_ca_cert));
  add("etcd.ssl.tlsMinVersion", nullptr);  // gRPC negotiates TLS 1.2 or 1.3 itself
  add("etcd.auth.enabled", EtcdBool(&EtcdConfig::auth_enabled));
  add("etcd.auth.userName", String(&EtcdConfig::username));
  add("etcd.auth.password", String(&EtcdConfig::password));
  add("etcd.use.embed", Scalar([](absl::string_view v, Config&) {
        COORDHA_ASSIGN_OR_RETURN(bool embed, ParseBool(v));
        if (embed) {
          return absl::InvalidArgumentError(
              "true is not supported: coordha has no embedded etcd; set etcd.endpoints");
        }
        return absl::OkStatus();
      }));
  add("etcd.data.dir", nullptr);
  add("etcd.config.path", nullptr);
  add("etcd.log", nullptr)->subtree = true;

  // common.session (strict).
  add("common.session.ttl", Scalar([](absl::string_view v, Config& c) {
        COORDHA_ASSIGN_OR_RETURN(int64_t ttl, ParseInt(v));
        if (ttl <= 0) return absl::InvalidArgumentError(absl::StrCat(ttl, " must be > 0"));
        if (ttl < 2) {
          return absl::InvalidArgumentError(
              absl::StrCat(ttl, " is below etcd's minimum lease TTL (2 s)"));
        }
        c.session.ttl_seconds = ttl;
        return absl::OkStatus();
      }));
  add("common.session.retryTimes", nullptr);
  add("common.session.serveGrant", SessionDuration(&SessionConfig::serve_grant, false));
  add("common.session.suspectAfter", SessionDuration(&SessionConfig::suspect_after, false));
  add("common.session.minActiveTime", SessionDuration(&SessionConfig::min_active_time, true));

  // Roles (lenient). Order matters within a layer: ip, then address, then port, so that address
  // beats ip and an explicit port beats the port inside an address.
  for (Role role : AllRoles()) {
    std::string prefix = RoleKeyPrefix(role);
    Setter address =
        Scalar([role](absl::string_view v, Config& c) { return SetAddress(v, c.role(role)); });
    add(prefix + ".ip", address);
    add(prefix + ".address", address);
    add(prefix + ".port", Scalar([role](absl::string_view v, Config& c) {
          COORDHA_ASSIGN_OR_RETURN(c.role(role).port, ParsePort(v));
          return absl::OkStatus();
        }));
    if (IsCoordinator(role)) {
      add(prefix + ".enableActiveStandby", Scalar([role](absl::string_view v, Config& c) {
            COORDHA_ASSIGN_OR_RETURN(c.role(role).enable_active_standby, ParseBool(v));
            return absl::OkStatus();
          }));
      add(prefix + ".priority", Scalar([role](absl::string_view v, Config& c) {
            COORDHA_ASSIGN_OR_RETURN(c.role(role).priority, ParseInt(v));
            return absl::OkStatus();
          }));
    } else {
      add(prefix + ".enableActiveStandby", Scalar([](absl::string_view v, Config&) {
            COORDHA_ASSIGN_OR_RETURN(bool enable, ParseBool(v));
            if (enable) {
              return absl::InvalidArgumentError(
                  "true is not supported: workers are never exclusive, any number may run");
            }
            return absl::OkStatus();
          }));
      add(prefix + ".priority", Scalar([](absl::string_view v, Config&) {
            COORDHA_ASSIGN_OR_RETURN(int64_t priority, ParseInt(v));
            if (priority != 0) {
              return absl::InvalidArgumentError(absl::StrCat(
                  priority, " is not supported: workers do not campaign, only coordinators do"));
            }
            return absl::OkStatus();
          }));
      add(prefix + ".workDuration", Scalar([role](absl::string_view v, Config& c) {
            COORDHA_ASSIGN_OR_RETURN(c.role(role).work_duration,
                                     ParseDuration(v, absl::Seconds(1)));
            return absl::OkStatus();
          }));
    }
  }

  add("dataCoord.segment.maxRows", Scalar([](absl::string_view v, Config& c) {
        COORDHA_ASSIGN_OR_RETURN(int64_t rows, ParseInt(v));
        if (rows < 1) return absl::InvalidArgumentError(absl::StrCat(rows, " must be >= 1"));
        c.datacoord.segment_max_rows = rows;
        return absl::OkStatus();
      }));

  // metrics (strict).
  add("metrics.port", Scalar([](absl::string_view v, Config& c) {
        COORDHA_ASSIGN_OR_RETURN(c.metrics.port, ParsePort(v));
        c.metrics.port_explicit = true;
        return absl::OkStatus();
      }));

  // log (lenient).
  add("log.level", Scalar([](absl::string_view v, Config& c) {
        std::string level = absl::AsciiStrToLower(v);
        for (absl::string_view known : kLogLevels) {
          if (level == known) {
            c.log_level = level;
            return absl::OkStatus();
          }
        }
        return Bad(v, absl::StrCat("is not one of ", absl::StrJoin(kLogLevels, ", ")));
      }));
  return keys;
}

const std::vector<KeyDef>& Keys() {
  static const std::vector<KeyDef>* const keys = new std::vector<KeyDef>(BuildKeys());
  return *keys;
}

std::optional<size_t> FindKey(absl::string_view normalized) {
  const std::vector<KeyDef>& keys = Keys();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].normalized == normalized) return i;
  }
  return std::nullopt;
}

bool HasPrefix(const std::vector<std::string>& path, const std::vector<std::string>& prefix) {
  return path.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

bool InIgnoredSubtree(const std::vector<std::string>& path) {
  for (const KeyDef& key : Keys()) {
    if (key.subtree && HasPrefix(path, key.components)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Sections and did-you-mean.

struct Section {
  std::vector<std::string> path;  // normalized components
  bool strict;                    // every unknown key is an error (else only likely typos)
};

// The owned section `path` falls in, or nullopt for a section coordha does not read.
std::optional<Section> SectionOf(const std::vector<std::string>& path) {
  std::vector<Section> owned = {
      {{"etcd"}, true}, {{"common", "session"}, true}, {{"metrics"}, true}, {{"log"}, false}};
  for (Role role : AllRoles()) owned.push_back({{Normalize(RoleKeyPrefix(role))}, false});
  for (Section& s : owned) {
    if (HasPrefix(path, s.path)) return std::move(s);
  }
  return std::nullopt;
}

// Edit distance with adjacent transpositions (optimal string alignment).
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The known key closest to `path` among those starting with `within` (all keys when empty): the
// same last component, or a small edit distance over the whole name.
std::optional<std::string> Suggest(const std::vector<std::string>& path,
                                   const std::vector<std::string>& within) {
  std::string normalized = absl::StrJoin(path, "");
  std::optional<std::string> best;
  size_t best_score = std::max<size_t>(3, normalized.size() / 5) + 1;
  for (const KeyDef& key : Keys()) {
    if (!HasPrefix(key.components, within)) continue;
    size_t score = EditDistance(normalized, key.normalized);
    if (!path.empty() && path.back() == key.components.back()) score = std::min<size_t>(score, 1);
    if (score < best_score) {
      best_score = score;
      best = key.name;
    }
  }
  return best;
}

// In a lenient section, whether `child` (the normalized component after the section) looks like a
// misspelling of one of coordha's keys there; returns that key's canonical name.
std::optional<std::string> LikelyTypo(const Section& section, absl::string_view child) {
  for (const KeyDef& key : Keys()) {
    if (key.components.size() != section.path.size() + 1 ||
        !HasPrefix(key.components, section.path))
      continue;
    const std::string& ours = key.components.back();
    size_t allowed = ours.size() <= 2 ? 0 : ours.size() <= 5 ? 1 : 2;
    if (EditDistance(child, ours) <= allowed) return key.name;
  }
  return std::nullopt;
}

absl::Status UnknownKey(absl::string_view shown, absl::string_view where,
                        const std::optional<std::string>& suggestion) {
  std::string msg = absl::StrCat("config: unknown key '", shown, "' ", where);
  if (suggestion.has_value()) absl::StrAppend(&msg, "; did you mean '", *suggestion, "'?");
  return absl::InvalidArgumentError(msg);
}

// ---------------------------------------------------------------------------------------------
// Layers.

struct Setting {
  RawValue value;
  std::string source;  // "from /etc/coordha.yaml", "from env ETCD_ENDPOINTS", "from --set"
  std::string origin;  // the env variable's name, for the "both set" error
};

// One layer's settings by key index, applied in key-table order.
using Layer = std::map<size_t, Setting>;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  auto fail = [&path](int err) {
    char buf[256];
    return absl::InvalidArgumentError(
        absl::StrCat("config: cannot read ", path, ": ", strerror_r(err, buf, sizeof(buf))));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno);
  std::string text;
  char chunk[65536];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(err);
    }
    if (n == 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// A real file has a few hundred keys (Milvus's milvus.yaml about a thousand), nested a few levels.
// YAML aliases can make a small file expand to billions of keys ("billion laughs"), or nest
// without end (a map that contains an alias of itself): such a file is refused, not walked.
constexpr size_t kMaxFileKeys = 10000;
constexpr size_t kMaxFileDepth = 64;

// Walks a parsed YAML file and collects the settings coordha reads from it.
class FileWalker {
 public:
  explicit FileWalker(const std::string& file) : file_(file), source_("from " + file) {}

  absl::Status Walk(const YAML::Node& node, const std::vector<std::string>& shown,
                    const std::vector<std::string>& path) {
    if (++depth_ > kMaxFileDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("config: ", file_, ": '", absl::StrJoin(shown, "."), "' nests more than ",
                       kMaxFileDepth, " maps deep (an alias of a map inside itself?)"));
    }
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) continue;  // complex keys: nothing of ours
      std::vector<std::string> child_shown = shown;
      std::vector<std::string> child_path = path;
      for (absl::string_view part : absl::StrSplit(entry.first.Scalar(), '.')) {
        child_shown.emplace_back(part);
        child_path.push_back(Normalize(part));
      }
      COORDHA_RETURN_IF_ERROR(Visit(entry.second, child_shown, child_path));
    }
    --depth_;  // only on success: an error ends the walk
    return absl::OkStatus();
  }

  Layer& layer() { return layer_; }

 private:
  absl::Status Visit(const YAML::Node& node, const std::vector<std::string>& shown,
                     const std::vector<std::string>& path) {
    if (++visited_ > kMaxFileKeys) {
      return absl::InvalidArgumentError(absl::StrCat("config: ", file_, ": more than ",
                                                     kMaxFileKeys,
                                                     " keys (YAML aliases that expand too far?)"));
    }
    std::string shown_name = absl::StrJoin(shown, ".");
    if (std::optional<size_t> index = FindKey(absl::StrJoin(path, "")); index.has_value()) {
      const KeyDef& key = Keys()[*index];
      if (!key.set) return absl::OkStatus();
      auto wrong = [&](absl::string_view what) {
        return absl::InvalidArgumentError(
            absl::StrCat("config: ", key.name, ": expected ",
                         key.accepts_list ? "a value or a list" : "a single value", ", got ", what,
                         " (", source_, ")"));
      };
      if (node.IsMap()) return wrong("a map");
      if (node.IsNull()) return absl::OkStatus();  // `ip:` with nothing: keep the default
      RawValue value;
      if (node.IsSequence()) {
        if (!key.accepts_list) return wrong("a list");
        value.is_list = true;
        for (const YAML::Node& item : node) {
          if (!item.IsScalar()) return wrong("a list of non-scalars");
          value.list.push_back(item.Scalar());
        }
      } else {
        value.scalar = node.Scalar();
      }
      if (!layer_.emplace(*index, Setting{std::move(value), source_, shown_name}).second) {
        return absl::InvalidArgumentError(absl::StrCat("config: ", key.name, " is set twice in ",
                                                       file_, " (again as '", shown_name, "')"));
      }
      return absl::OkStatus();
    }
    if (InIgnoredSubtree(path)) return absl::OkStatus();
    if (node.IsMap()) return Walk(node, shown, path);

    std::optional<Section> section = SectionOf(path);
    if (!section.has_value()) return absl::OkStatus();  // minio, pulsar, proxy, ...
    std::string in_file = absl::StrCat("in ", file_);
    if (path.size() == section->path.size()) {  // `etcd: 5`, `rootCoord:`
      if (node.IsNull()) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat("config: ", shown_name, ": expected a map of keys (", source_, ")"));
    }
    if (section->strict) return UnknownKey(shown_name, in_file, Suggest(path, section->path));
    std::optional<std::string> typo = LikelyTypo(*section, path[section->path.size()]);
    if (typo.has_value()) return UnknownKey(shown_name, in_file, typo);
    return absl::OkStatus();  // one of Milvus's keys coordha does not use
  }

  std::string file_;
  std::string source_;
  Layer layer_;
  size_t visited_ = 0;  // keys visited, aliases counted each time they are expanded
  size_t depth_ = 0;    // maps being walked
};

absl::StatusOr<Layer> FileLayer(const std::string& file) {
  if (file.empty()) return Layer{};
  COORDHA_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", file, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
  if (root.IsNull()) return Layer{};  // an empty file
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: ", file, ": expected a map of keys at the top level"));
  }
  FileWalker walker(file);
  try {
    COORDHA_RETURN_IF_ERROR(walker.Walk(root, {}, {}));
  } catch (const YAML::Exception& e) {  // not expected: every access checks the node type first
    return absl::InvalidArgumentError(absl::StrCat("config: ", file, ": ", e.what()));
  }
  return std::move(walker.layer());
}

bool IsServiceLink(absl::string_view value) {
  return absl::StartsWith(value, "tcp://") || absl::StartsWith(value, "udp://") ||
         absl::StartsWith(value, "sctp://");
}

absl::StatusOr<Layer> EnvLayer(const std::vector<std::pair<std::string, std::string>>& env) {
  Layer layer;
  for (const auto& [name, raw] : env) {
    std::optional<size_t> index = FindKey(Normalize(name));
    if (!index.has_value() || !Keys()[*index].set) continue;
    absl::string_view value = absl::StripAsciiWhitespace(raw);
    if (value.empty() || IsServiceLink(value)) continue;
    Setting setting{.value = {.scalar = std::string(value)},
                    .source = absl::StrCat("from env ", name),
                    .origin = name};
    auto [it, inserted] = layer.emplace(*index, setting);
    if (!inserted && it->second.value.scalar != setting.value.scalar) {
      return absl::InvalidArgumentError(absl::StrCat("config: env ", it->second.origin, " and ",
                                                     name, " both set ", Keys()[*index].name,
                                                     ", to different values; unset one"));
    }
  }
  return layer;
}

absl::StatusOr<Layer> SetLayer(const std::vector<std::string>& sets) {
  Layer layer;
  for (const std::string& set : sets) {
    size_t eq = set.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("config: --set '", set, "': expected key=value"));
    }
    std::string name(absl::StripAsciiWhitespace(absl::string_view(set).substr(0, eq)));
    std::vector<std::string> path;
    for (absl::string_view part : absl::StrSplit(name, '.')) path.push_back(Normalize(part));
    std::optional<size_t> index = FindKey(absl::StrJoin(path, ""));
    if (!index.has_value()) return UnknownKey(name, "(from --set)", Suggest(path, {}));
    std::string value(absl::StripAsciiWhitespace(absl::string_view(set).substr(eq + 1)));
    layer[*index] = Setting{.value = {.scalar = std::move(value)}, .source = "from --set"};
  }
  return layer;
}

// Checks that involve more than one key, after all layers. `sources` names where each key's
// value came from.
absl::Status CheckAcrossKeys(const Config& c, const std::map<std::string, std::string>& sources) {
  auto source = [&sources](const std::string& key) {
    auto it = sources.find(key);
    return it == sources.end() ? std::string("default") : it->second;
  };
  auto fail = [&](const std::string& key, absl::string_view problem) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: ", key, ": ", problem, " (", source(key), ")"));
  };
  if (c.session.serve_grant >= std::chrono::seconds(c.session.ttl_seconds)) {
    return fail("common.session.serveGrant", absl::StrCat(FormatDuration(c.session.serve_grant),
                                                          " must be less than common.session.ttl (",
                                                          c.session.ttl_seconds, " s)"));
  }
  if (c.etcd.ssl_enabled && c.etcd.tls_cert.empty() != c.etcd.tls_key.empty()) {
    return c.etcd.tls_key.empty()
               ? fail("etcd.ssl.tlsKey", "required when etcd.ssl.tlsCert is set")
               : fail("etcd.ssl.tlsCert", "required when etcd.ssl.tlsKey is set");
  }
  if (c.etcd.auth_enabled && c.etcd.username.empty()) {
    return fail("etcd.auth.userName", "required when etcd.auth.enabled is true");
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> LoadLayers(const LoadInputs& inputs) {
  COORDHA_ASSIGN_OR_RETURN(Layer file, FileLayer(inputs.file));
  COORDHA_ASSIGN_OR_RETURN(Layer env, EnvLayer(inputs.env));
  COORDHA_ASSIGN_OR_RETURN(Layer sets, SetLayer(inputs.sets));

  Config config;
  config.file = inputs.file;
  std::map<std::string, std::string> sources;
  for (const Layer* layer : {&file, &env, &sets}) {
    for (const auto& [index, setting] : *layer) {
      const KeyDef& key = Keys()[index];
      if (!key.set) continue;
      if (absl::Status s = key.set(setting.value, config); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("config: ", key.name, ": ", s.message(), " (", setting.source, ")"));
      }
      sources[key.name] = setting.source;
    }
  }
  COORDHA_RETURN_IF_ERROR(CheckAcrossKeys(config, sources));
  return config;
}

// Errors are one line (config.h), but they quote values and YAML's own messages, which may hold a
// newline or another control character: those are shown escaped ("\n", "\x01").
absl::Status OneLine(const absl::Status& status) {
  const absl::string_view message = status.message();
  const auto is_control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (std::none_of(message.begin(), message.end(), is_control)) return status;
  std::string escaped;
  for (char c : message) {
    escaped += is_control(c) ? absl::CHexEscape(absl::string_view(&c, 1)) : std::string(1, c);
  }
  return absl::Status(status.code(), escaped);
}

}  // namespace

absl::StatusOr<Duration> ParseDuration(absl::string_view v, absl::Duration bare_unit) {
  constexpr absl::string_view kHelp = "is not a duration (a number of seconds, or 500ms, 1s, 2.5s)";
  constexpr absl::string_view kHelpMs =
      "is not a duration (a number of milliseconds, or 500ms, 5s)";
  absl::string_view help = bare_unit == absl::Seconds(1) ? kHelp : kHelpMs;
  absl::Duration d;
  double number = 0;
  if (absl::SimpleAtod(v, &number)) {
    if (!std::isfinite(number)) return Bad(v, help);
    d = number * bare_unit;
  } else if (!absl::ParseDuration(v, &d) || d == absl::InfiniteDuration() ||
             d == -absl::InfiniteDuration()) {
    return Bad(v, help);
  }
  if (d < absl::ZeroDuration()) return Bad(v, "must not be negative");
  if (d > absl::Hours(24 * 365)) return Bad(v, "is longer than a year");
  return absl::ToChronoNanoseconds(d);
}

absl::StatusOr<Config> Load(const LoadInputs& inputs) {
  absl::StatusOr<Config> config = LoadLayers(inputs);
  if (!config.ok()) return OneLine(config.status());
  return config;
}

}  // namespace coordha::config
