// Unit tests of config/: defaults, the YAML file, env and --set layers, and the one-line errors.
#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace coordha::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Loads `yaml` as a file (if non-empty) with `env` and `sets`.
  absl::StatusOr<Config> LoadYaml(const std::string& yaml,
                                  std::vector<std::pair<std::string, std::string>> env = {},
                                  std::vector<std::string> sets = {}) {
    LoadInputs in{.env = std::move(env), .sets = std::move(sets)};
    if (!yaml.empty()) in.file = Write("coordha.yaml", yaml);
    return Load(in);
  }

  std::string dir_;
};

// Expects a one-line kInvalidArgument error containing every piece of `parts`.
void ExpectError(const absl::StatusOr<Config>& result, const std::vector<std::string>& parts) {
  ASSERT_FALSE(result.ok()) << "expected an error containing '" << parts.front() << "'";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(result.status().message());
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(message.rfind("config: ", 0), 0u) << message;
  for (const std::string& part : parts) EXPECT_THAT(message, HasSubstr(part));
}

TEST(Roles, NamesPrefixesPortsAndKinds) {
  EXPECT_EQ(AllRoles().size(), 8u);
  EXPECT_EQ(*ParseRole("mixcoord"), Role::kMixCoord);
  EXPECT_EQ(RoleKeyPrefix(Role::kMixCoord), "mixCoord");
  EXPECT_TRUE(IsCoordinator(Role::kMixCoord));
  EXPECT_EQ(*ParseRole("rootcoord"), Role::kRootCoord);
  EXPECT_EQ(*ParseRole("IndexNode"), Role::kIndexNode);
  EXPECT_EQ(RoleName(Role::kQueryCoord), "querycoord");
  EXPECT_EQ(RoleKeyPrefix(Role::kDataNode), "dataNode");
  EXPECT_TRUE(IsCoordinator(Role::kIndexCoord));
  EXPECT_FALSE(IsCoordinator(Role::kQueryNode));
  EXPECT_EQ(DefaultPort(Role::kRootCoord), 53100);
  EXPECT_EQ(DefaultPort(Role::kDataCoord), 13333);
  EXPECT_EQ(DefaultPort(Role::kQueryCoord), 19531);
  EXPECT_EQ(DefaultPort(Role::kIndexCoord), 31000);
  EXPECT_EQ(DefaultPort(Role::kQueryNode), 21123);
  EXPECT_EQ(DefaultPort(Role::kDataNode), 21124);
  EXPECT_EQ(DefaultPort(Role::kIndexNode), 21121);
}

TEST(Roles, UnknownRoleErrorListsTheValidOnes) {
  absl::StatusOr<Role> r = ParseRole("proxy");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("'proxy'; valid roles: rootcoord, datacoord, querycoord, indexcoord, "
                        "querynode, datanode, indexnode"));
}

void ExpectDefaults(const Config& c) {
  EXPECT_THAT(c.etcd.endpoints, ElementsAre("localhost:2379"));
  EXPECT_EQ(c.etcd.MetaRoot(), "by-dev/meta");
  EXPECT_EQ(c.etcd.KvRoot(), "by-dev/kv");
  EXPECT_EQ(c.etcd.request_timeout, seconds(5));
  EXPECT_FALSE(c.etcd.ssl_enabled);
  EXPECT_FALSE(c.etcd.auth_enabled);
  EXPECT_EQ(c.session.ttl_seconds, 10);
  EXPECT_EQ(c.session.serve_grant, seconds(1));
  EXPECT_EQ(c.session.suspect_after, seconds(2));
  EXPECT_EQ(c.session.min_active_time, seconds(0));
  ASSERT_EQ(c.roles.size(), 8u);
  for (Role role : AllRoles()) {
    EXPECT_EQ(c.role(role).address, "") << RoleName(role);
    EXPECT_EQ(c.role(role).port, DefaultPort(role)) << RoleName(role);
    EXPECT_FALSE(c.role(role).enable_active_standby) << RoleName(role);
    EXPECT_EQ(c.role(role).priority, 0) << RoleName(role);
    EXPECT_EQ(c.role(role).work_duration, milliseconds(200)) << RoleName(role);
  }
  EXPECT_EQ(c.datacoord.segment_max_rows, 100000);
  EXPECT_EQ(c.metrics.port, 9091);
  EXPECT_FALSE(c.metrics.port_explicit);
  EXPECT_EQ(c.log_level, "info");
}

TEST_F(ConfigTest, NoInputs_Defaults) {
  absl::StatusOr<Config> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectDefaults(*c);
  EXPECT_EQ(c->file, "");
}

TEST_F(ConfigTest, ShippedCoordhaYaml_LoadsToTheDefaults) {
  std::string path = std::string(COORDHA_SOURCE_DIR) + "/configs/coordha.yaml";
  absl::StatusOr<Config> c = Load({.file = path});
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectDefaults(*c);
  EXPECT_EQ(c->file, path);
}

TEST_F(ConfigTest, File_SetsEveryKind) {
  absl::StatusOr<Config> c = LoadYaml(R"(
etcd:
  endpoints: [https://e1:2379, https://e2:2379]
  rootPath: /prod/
  metaSubPath: m
  kvSubPath: /k
  requestTimeout: 10000
  ssl: {enabled: true, tlsCert: c.pem, tlsKey: k.pem, tlsCACert: ca.pem}
  auth: {enabled: true, userName: root, password: pw}
common:
  session: {ttl: 15, serveGrant: 500ms, suspectAfter: 1.5, minActiveTime: 2.5s}
rootCoord: {address: "10.0.0.1", port: 53101, enableActiveStandby: true, priority: 7}
queryNode: {ip: "[::1]:21200"}
metrics: {port: 9100}
log: {level: DEBUG}
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->etcd.endpoints, ElementsAre("https://e1:2379", "https://e2:2379"));
  EXPECT_EQ(c->etcd.MetaRoot(), "/prod/m");
  EXPECT_EQ(c->etcd.KvRoot(), "/prod/k");
  EXPECT_EQ(c->etcd.request_timeout, seconds(10));
  EXPECT_EQ(c->session.ttl_seconds, 15);
  EXPECT_EQ(c->session.serve_grant, milliseconds(500));
  EXPECT_EQ(c->session.suspect_after, milliseconds(1500));
  EXPECT_EQ(c->session.min_active_time, milliseconds(2500));
  EXPECT_EQ(c->role(Role::kRootCoord).address, "10.0.0.1");
  EXPECT_EQ(c->role(Role::kRootCoord).port, 53101);
  EXPECT_TRUE(c->role(Role::kRootCoord).enable_active_standby);
  EXPECT_EQ(c->role(Role::kRootCoord).priority, 7);
  EXPECT_FALSE(c->role(Role::kDataCoord).enable_active_standby);
  EXPECT_EQ(c->role(Role::kQueryNode).address, "::1");
  EXPECT_EQ(c->role(Role::kQueryNode).port, 21200);
  EXPECT_EQ(c->metrics.port, 9100);
  EXPECT_TRUE(c->metrics.port_explicit);
  EXPECT_EQ(c->log_level, "debug");

  etcd::ClientOptions o = c->etcd.ToClientOptions();
  EXPECT_EQ(o.endpoints, c->etcd.endpoints);
  EXPECT_EQ(o.request_timeout, seconds(10));
  EXPECT_EQ(o.username, "root");
  EXPECT_EQ(o.password, "pw");
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_EQ(o.tls.ca_file, "ca.pem");
  EXPECT_EQ(o.tls.cert_file, "c.pem");
  EXPECT_EQ(o.tls.key_file, "k.pem");
}

TEST_F(ConfigTest, ClientOptions_LeaveOutTlsAndAuthThatAreNotEnabled) {
  absl::StatusOr<Config> c = LoadYaml(R"(
etcd:
  ssl: {enabled: false, tlsCert: /path/to/etcd-client.pem, tlsKey: /path/to/etcd-client-key.pem}
  auth: {enabled: false, userName: u, password: p}
)");
  ASSERT_TRUE(c.ok()) << c.status();
  etcd::ClientOptions o = c->etcd.ToClientOptions();
  EXPECT_FALSE(o.tls.enabled);
  EXPECT_EQ(o.tls.cert_file, "");
  EXPECT_EQ(o.username, "");
}

TEST_F(ConfigTest, MilvusYaml_ForeignSectionsAndKeysAreIgnored) {
  absl::StatusOr<Config> c = LoadYaml(R"(
etcd:
  endpoints: localhost:2379,other:2379
  rootPath: by-dev
  metaSubPath: meta
  kvSubPath: kv
  log:
    level: info
    path: stdout
  ssl:
    enabled: false
    tlsCert: /path/to/etcd-client.pem
    tlsKey: /path/to/etcd-client-key.pem
    tlsCACert: /path/to/ca.pem
    tlsMinVersion: 1.3
  requestTimeout: 10000
  use:
    embed: false
  data:
    dir: default.etcd
  auth:
    enabled: false
    userName:
    password:
metastore:
  type: etcd
minio:
  address: localhost
  port: 9000
  region: ''
pulsar:
  address: localhost
  port: 6650
rocksmq:
  compressionTypes: [0, 0, 7, 7, 7]
rootCoord:
  dmlChannelNum: 16
  maxPartitionNum: 4096
  enableActiveStandby: true
  ip:
  port: 53100
  grpc:
    serverMaxSendSize: 536870912
proxy:
  port: 19530
  accessLog:
    formatters:
      query:
        methods: ["Query", "Search", "Delete"]
queryCoord:
  autoHandoff: true
  autoBalance: true
  balancer: ScoreBasedBalancer
  ip:
  port: 19531
  enableActiveStandby: false
dataCoord:
  segment:
    maxSize: 1024
  gc:
    interval: 3600
  enableActiveStandby: false
  port: 13333
dataNode:
  dataSync:
    flowGraph:
      maxQueueLength: 16
  port: 21124
log:
  level: warn
  file:
    rootPath:
    maxSize: 300
  format: text
common:
  retentionDuration: 432000
  defaultPartitionName: _default
  security:
    authorizationEnabled: false
  session:
    ttl: 30
    retryTimes: 30
quotaAndLimits:
  enabled: true
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->etcd.endpoints, ElementsAre("localhost:2379", "other:2379"));
  EXPECT_TRUE(c->role(Role::kRootCoord).enable_active_standby);
  EXPECT_EQ(c->role(Role::kRootCoord).address, "");
  EXPECT_EQ(c->session.ttl_seconds, 30);
  EXPECT_EQ(c->log_level, "warn");
  EXPECT_EQ(c->etcd.request_timeout, seconds(10));
}

TEST_F(ConfigTest, File_KeysCompareLikeMilvus_DottedAndAnyCase) {
  absl::StatusOr<Config> c = LoadYaml(R"(
rootcoord.enable_active_standby: true
ETCD:
  Root_Path: x
common.session:
  TTL: 12
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->role(Role::kRootCoord).enable_active_standby);
  EXPECT_EQ(c->etcd.root_path, "x");
  EXPECT_EQ(c->session.ttl_seconds, 12);
}

TEST_F(ConfigTest, EmptyFile_Defaults) {
  absl::StatusOr<Config> c = LoadYaml("# nothing\n");
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectDefaults(*c);
}

TEST_F(ConfigTest, Env_MilvusNamesOverrideTheFile) {
  absl::StatusOr<Config> c = LoadYaml("etcd: {endpoints: f:1}\nrootCoord: {port: 1}\n",
                                      {
                                          {"PATH", "/usr/bin:/bin"},
                                          {"HOME", "/root"},
                                          {"ROOT_COORD_ENABLE_ACTIVE_STANDBY", "true"},
                                          {"ETCD_ENDPOINTS", "a:1, b:2"},
                                          {"ROOT_COORD_ADDRESS", "host:1234"},
                                          {"QUERY_COORD_PORT", "tcp://10.0.0.7:19531"},
                                          {"QUERYCOORD_ADDRESS", "tcp://10.0.0.7:19531"},
                                          {"DATA_COORD_PORT", ""},
                                          {"METRICS_PORT", "9200"},
                                          {"COMMON_SESSION_SERVE_GRANT", "0.5"},
                                          {"ETCD_SSL_TLS_CA_CERT", "/ca.pem"},
                                      });
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->role(Role::kRootCoord).enable_active_standby);
  EXPECT_THAT(c->etcd.endpoints, ElementsAre("a:1", "b:2"));
  EXPECT_EQ(c->role(Role::kRootCoord).address, "host");
  EXPECT_EQ(c->role(Role::kRootCoord).port, 1234);
  EXPECT_EQ(c->role(Role::kQueryCoord).address, "");
  EXPECT_EQ(c->role(Role::kQueryCoord).port, 19531);
  EXPECT_EQ(c->role(Role::kDataCoord).port, 13333);
  EXPECT_EQ(c->metrics.port, 9200);
  EXPECT_TRUE(c->metrics.port_explicit);
  EXPECT_EQ(c->session.serve_grant, milliseconds(500));
  EXPECT_EQ(c->etcd.tls_ca_cert, "/ca.pem");
}

TEST_F(ConfigTest, Env_ExplicitPortBeatsThePortInAddress) {
  absl::StatusOr<Config> c =
      Load({.env = {{"ROOT_COORD_PORT", "5678"}, {"ROOT_COORD_ADDRESS", "host:1234"}}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->role(Role::kRootCoord).address, "host");
  EXPECT_EQ(c->role(Role::kRootCoord).port, 5678);
}

TEST_F(ConfigTest, Precedence_SetBeatsEnvBeatsFile) {
  const std::string yaml = "common: {session: {ttl: 20}}\n";
  const std::vector<std::pair<std::string, std::string>> env = {{"COMMON_SESSION_TTL", "30"}};
  EXPECT_EQ(LoadYaml(yaml)->session.ttl_seconds, 20);
  EXPECT_EQ(LoadYaml(yaml, env)->session.ttl_seconds, 30);
  EXPECT_EQ(LoadYaml(yaml, env, {"common.session.ttl=40"})->session.ttl_seconds, 40);
  // A later --set of the same key wins.
  EXPECT_EQ(
      LoadYaml(yaml, env, {"common.session.ttl=40", "common.session.ttl=50"})->session.ttl_seconds,
      50);
  absl::StatusOr<Config> c =
      LoadYaml(yaml, env,
               {"etcd.endpoints=x:1,y:2", "rootCoord.enableActiveStandby=TRUE", "log.level=error"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->etcd.endpoints, ElementsAre("x:1", "y:2"));
  EXPECT_TRUE(c->role(Role::kRootCoord).enable_active_standby);
  EXPECT_EQ(c->log_level, "error");
}

TEST_F(ConfigTest, Set_ClearsAddressWithAnEmptyValue) {
  absl::StatusOr<Config> c = LoadYaml("rootCoord: {address: h}\n", {}, {"rootCoord.address="});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->role(Role::kRootCoord).address, "");
}

// ---- errors: one line, naming the key, the value and where it came from ----

TEST_F(ConfigTest, Error_BadEndpointFromSet) {
  ExpectError(Load({.sets = {"etcd.endpoints=localhost"}}),
              {"config: etcd.endpoints: 'localhost' is not host:port (from --set)"});
  ExpectError(Load({.sets = {"etcd.endpoints=unix:///tmp/s"}}), {"etcd.endpoints", "unix://"});
  ExpectError(Load({.sets = {"etcd.endpoints=http://a:1,https://b:2"}}),
              {"etcd.endpoints", "mixes https://"});
  ExpectError(Load({.sets = {"etcd.endpoints= , "}}), {"etcd.endpoints", "has no endpoint"});
}

TEST_F(ConfigTest, Error_NegativeTtlNamesTheFile) {
  absl::StatusOr<Config> c = LoadYaml("common:\n  session:\n    ttl: -5\n");
  ExpectError(c, {"config: common.session.ttl: -5 must be > 0 (from " + dir_ + "/coordha.yaml)"});
}

TEST_F(ConfigTest, Error_TtlBelowEtcdMinimum) {
  ExpectError(Load({.sets = {"common.session.ttl=1"}}),
              {"common.session.ttl: 1 is below etcd's minimum lease TTL (2 s) (from --set)"});
}

TEST_F(ConfigTest, Error_ServeGrantNotBelowTtl) {
  ExpectError(
      LoadYaml("common: {session: {ttl: 5}}\n", {}, {"common.session.serveGrant=5s"}),
      {"common.session.serveGrant: 5s must be less than common.session.ttl (5 s)", "(from --set)"});
  ExpectError(Load({.sets = {"common.session.serveGrant=0"}}),
              {"common.session.serveGrant: '0' must be > 0"});
}

TEST_F(ConfigTest, Error_BadDuration) {
  ExpectError(Load({.sets = {"common.session.suspectAfter=soon"}}),
              {"common.session.suspectAfter: 'soon' is not a duration"});
  ExpectError(Load({.sets = {"common.session.minActiveTime=-1s"}}),
              {"common.session.minActiveTime: '-1s' must not be negative"});
}

TEST_F(ConfigTest, Error_UnknownKeyInOwnedSectionWithDidYouMean) {
  absl::StatusOr<Config> c = LoadYaml("etcd:\n  endpoint: a:1\n");
  ExpectError(c, {"config: unknown key 'etcd.endpoint' in " + dir_ +
                  "/coordha.yaml; did you mean 'etcd.endpoints'?"});
  ExpectError(LoadYaml("etcd:\n  tlsCert: a.pem\n"),
              {"unknown key 'etcd.tlsCert'", "did you mean 'etcd.ssl.tlsCert'?"});
  ExpectError(
      LoadYaml("common:\n  session:\n    serveGrnat: 1s\n"),
      {"unknown key 'common.session.serveGrnat'", "did you mean 'common.session.serveGrant'?"});
  ExpectError(LoadYaml("metrics:\n  prot: 1\n"), {"unknown key 'metrics.prot'"});
}

TEST_F(ConfigTest, Error_LikelyTypoInRoleSection) {
  ExpectError(LoadYaml("rootCoord:\n  prot: 53100\n"),
              {"unknown key 'rootCoord.prot'", "did you mean 'rootCoord.port'?"});
  ExpectError(LoadYaml("dataCoord:\n  enableActivStandby: true\n"),
              {"unknown key 'dataCoord.enableActivStandby'",
               "did you mean 'dataCoord.enableActiveStandby'?"});
  ExpectError(LoadYaml("queryCoord:\n  adress: h\n"), {"did you mean 'queryCoord.address'?"});
  ExpectError(LoadYaml("log:\n  levle: info\n"), {"did you mean 'log.level'?"});
}

TEST_F(ConfigTest, Error_UnknownSetKey) {
  ExpectError(Load({.sets = {"etcd.endpoint=a:1"}}),
              {"config: unknown key 'etcd.endpoint' (from --set); did you mean 'etcd.endpoints'?"});
  ExpectError(Load({.sets = {"minio.address=x"}}), {"unknown key 'minio.address' (from --set)"});
  ExpectError(Load({.sets = {"rootCoord.port"}}), {"--set 'rootCoord.port': expected key=value"});
}

TEST_F(ConfigTest, Error_UnreadableFile) {
  ExpectError(Load({.file = dir_ + "/missing.yaml"}),
              {"config: cannot read " + dir_ + "/missing.yaml: No such file or directory"});
  ExpectError(Load({.file = dir_}), {"config: cannot read " + dir_ + ": Is a directory"});
}

TEST_F(ConfigTest, Error_YamlSyntaxNamesTheLine) {
  absl::StatusOr<Config> c = LoadYaml("etcd:\n  rootPath: a\n  endpoints: [a:1\n");
  ExpectError(c, {"config: " + dir_ + "/coordha.yaml:", "invalid YAML"});
  ExpectError(LoadYaml("- a\n- b\n"), {"expected a map of keys at the top level"});
}

// Found by tests/fuzz/config_fuzz.cc: values and YAML's messages may hold control characters.
TEST_F(ConfigTest, Error_ControlCharactersAreEscaped_StaysOneLine) {
  ExpectError(LoadYaml("etcd:\n  endpoints: \"a\\nb:1\"\n"),
              {"config: etcd.endpoints: 'a\\nb:1' is not host:port"});
  ExpectError(Load({.sets = {"rootCoord.port=1\n2"}}),
              {"config: rootCoord.port: '1\\n2' is not a port"});
  ExpectError(LoadYaml("a: \"\\\r\"\n"), {"invalid YAML: unknown escape character: \\r"});
}

// A few lines of aliases that expand to 2^40 keys ("billion laughs") are refused at once, not
// walked (found while writing tests/fuzz/config_fuzz.cc: fuzz_config timed out on 26 such lines).
TEST_F(ConfigTest, Error_AliasesThatExpandTooFar) {
  std::string yaml = "l0: &a0 {x: 1, y: 1}\n";
  for (int i = 1; i <= 40; ++i) {
    yaml += "l" + std::to_string(i) + ": &a" + std::to_string(i) + " {x: *a" +
            std::to_string(i - 1) + ", y: *a" + std::to_string(i - 1) + "}\n";
  }
  ExpectError(LoadYaml(yaml), {"coordha.yaml: more than 10000 keys"});
  // A map that holds an alias of itself nests without end (fuzz_config: a stack overflow).
  ExpectError(LoadYaml("rootCoord: &c\n  port: 1\n  again: *c\n"),
              {"coordha.yaml: 'rootCoord.again.again.", "nests more than 64 maps deep"});
  // Aliases as people use them still work.
  absl::StatusOr<Config> c =
      LoadYaml("rootCoord: &coord {enableActiveStandby: true}\ndataCoord: *coord\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->role(Role::kDataCoord).enable_active_standby);
}

TEST_F(ConfigTest, Error_BadBoolAndWrongType) {
  ExpectError(LoadYaml("rootCoord:\n  enableActiveStandby: yes\n"),
              {"config: rootCoord.enableActiveStandby: 'yes' is not true or false (from "});
  ExpectError(LoadYaml("etcd:\n  rootPath:\n    a: 1\n"),
              {"config: etcd.rootPath: expected a single value, got a map"});
  ExpectError(LoadYaml("etcd:\n  rootPath: [a, b]\n"),
              {"config: etcd.rootPath: expected a single value, got a list"});
  ExpectError(LoadYaml("etcd: 5\n"), {"config: etcd: expected a map of keys"});
  ExpectError(LoadYaml("etcd:\n  rootPath: ''\n"), {"etcd.rootPath: must not be empty"});
}

TEST_F(ConfigTest, Error_BadPortsAndAddresses) {
  ExpectError(Load({.sets = {"rootCoord.port=70000"}}),
              {"rootCoord.port: '70000' is not a port (1..65535) (from --set)"});
  ExpectError(Load({.sets = {"metrics.port=0"}}), {"metrics.port: '0' is not a port"});
  ExpectError(Load({.sets = {"rootCoord.address=h:99999"}}), {"rootCoord.address: 'h:99999'"});
  ExpectError(Load({.sets = {"rootCoord.address=a b"}}),
              {"rootCoord.address: 'a b' is not a host or host:port"});
}

TEST_F(ConfigTest, Error_BadEnvValueNamesTheVariable) {
  ExpectError(
      Load({.env = {{"ROOT_COORD_PORT", "abc"}}}),
      {"config: rootCoord.port: 'abc' is not a port (1..65535) (from env ROOT_COORD_PORT)"});
  ExpectError(Load({.env = {{"ROOTCOORD_PORT", "1"}, {"ROOT_COORD_PORT", "2"}}}),
              {"env ROOTCOORD_PORT and ROOT_COORD_PORT both set rootCoord.port"});
  EXPECT_TRUE(Load({.env = {{"ROOTCOORD_PORT", "2"}, {"ROOT_COORD_PORT", "2"}}}).ok());
}

TEST_F(ConfigTest, Error_ThingsCoordhaDoesNotDo) {
  ExpectError(LoadYaml("etcd:\n  use:\n    embed: true\n"),
              {"etcd.use.embed: true is not supported"});
  ExpectError(Load({.sets = {"queryNode.enableActiveStandby=true"}}),
              {"queryNode.enableActiveStandby: true is not supported"});
  EXPECT_TRUE(Load({.sets = {"queryNode.enableActiveStandby=false"}}).ok());
  ExpectError(Load({.env = {{"DATA_NODE_PRIORITY", "3"}}}),
              {"dataNode.priority: 3 is not supported", "(from env DATA_NODE_PRIORITY)"});
  ExpectError(Load({.sets = {"log.level=verbose"}}),
              {"log.level: 'verbose' is not one of debug, info, warn, error, panic, fatal"});
}

TEST_F(ConfigTest, WorkDuration_PerWorkerRole) {
  absl::StatusOr<Config> c =
      LoadYaml("queryNode:\n  workDuration: 1.5\n", {{"DATA_NODE_WORK_DURATION", "50ms"}},
               {"indexNode.workDuration=0"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->role(Role::kQueryNode).work_duration, milliseconds(1500));
  EXPECT_EQ(c->role(Role::kDataNode).work_duration, milliseconds(50));
  EXPECT_EQ(c->role(Role::kIndexNode).work_duration, seconds(0));
  ExpectError(Load({.sets = {"queryNode.workDuration=soon"}}),
              {"config: queryNode.workDuration: 'soon' is not a duration", "(from --set)"});
  ExpectError(Load({.env = {{"INDEX_NODE_WORK_DURATION", "-1"}}}),
              {"config: indexNode.workDuration: '-1' must not be negative",
               "(from env INDEX_NODE_WORK_DURATION)"});
  ExpectError(LoadYaml("dataNode:\n  workDuraton: 1\n"), {"did you mean 'dataNode.workDuration'?"});
  // A coordinator runs no executor: the key is not one of its.
  ExpectError(Load({.sets = {"rootCoord.workDuration=1"}}), {"rootCoord.workDuration"});
}

TEST_F(ConfigTest, DataCoordSegmentMaxRows) {
  absl::StatusOr<Config> c =
      LoadYaml("dataCoord:\n  segment:\n    maxRows: 100\n    maxSize: 1024\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->datacoord.segment_max_rows, 100);
  c = Load({.env = {{"DATA_COORD_SEGMENT_MAX_ROWS", "7"}}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->datacoord.segment_max_rows, 7);
  ExpectError(Load({.sets = {"dataCoord.segment.maxRows=0"}}),
              {"config: dataCoord.segment.maxRows: 0 must be >= 1", "(from --set)"});
}

TEST_F(ConfigTest, Error_TlsAndAuthNeedTheirPartners) {
  ExpectError(LoadYaml("etcd:\n  ssl: {enabled: true, tlsCert: c.pem}\n"),
              {"config: etcd.ssl.tlsKey: required when etcd.ssl.tlsCert is set (default)"});
  ExpectError(Load({.sets = {"etcd.auth.enabled=true"}}),
              {"config: etcd.auth.userName: required when etcd.auth.enabled is true"});
}

TEST(ProcessEnvironment, ReadsEnviron) {
  ASSERT_EQ(setenv("COORDHA_CONFIG_TEST_VAR", "a=b", 1), 0);
  auto env = ProcessEnvironment();
  EXPECT_NE(std::find(env.begin(), env.end(),
                      std::pair<std::string, std::string>("COORDHA_CONFIG_TEST_VAR", "a=b")),
            env.end());
}

}  // namespace
}  // namespace coordha::config
