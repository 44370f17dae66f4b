#include "cli/ctl_cluster.h"

#include <cstdio>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace coordha::cli {
namespace {

using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
constexpr int kExitUsage = 2;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "coordha: %s\n", message.c_str());
  return code;
}
int FailStatus(const absl::Status& status) {
  return Fail(kExitRuntimeError, std::string(status.message()));
}
int Print(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  return kExitOk;
}
template <typename T>
int PrintJson(json out, const client::Answer<T>& answer) {
  out["serverId"] = answer.from.server_id;
  out["epoch"] = answer.from.epoch;
  return Print(out.dump());
}

}  // namespace

std::string ServingRole(const client::ClientOptions& base, const std::string& role) {
  if (base.etcd_client == nullptr) return role;
  const std::string prefix = base.meta_root + "/session/";
  absl::StatusOr<std::optional<etcd::KeyValue>> own =
      base.etcd_client->Get(prefix + role, Deadline::In(std::chrono::seconds(2)));
  if (own.ok() && own->has_value()) return role;
  absl::StatusOr<std::optional<etcd::KeyValue>> mix =
      base.etcd_client->Get(prefix + "mixcoord", Deadline::In(std::chrono::seconds(2)));
  if (mix.ok() && mix->has_value()) return "mixcoord";
  return role;
}

namespace {

struct Collection {
  int64_t id = 0;
  std::vector<std::string> channels;  // known when found by name
  std::string label;
};

// A numeric ID as is; a name through rootcoord's catalog.
absl::StatusOr<Collection> ResolveCollection(const client::ClientOptions& base,
                                             const CtlOptions& o) {
  Collection c;
  if (absl::SimpleAtoi(o.name, &c.id)) {
    c.label = absl::StrCat("collection ", c.id);
    return c;
  }
  client::ClientOptions root = base;
  root.role = ServingRole(base, "rootcoord");
  root.fixed_address.clear();
  if (root.etcd_client == nullptr) {
    return absl::InvalidArgumentError(
        "with --address, give the collection by its numeric ID (names are looked up in rootcoord)");
  }
  absl::StatusOr<std::unique_ptr<client::Client>> made = client::Client::Create(root);
  if (!made.ok()) return made.status();
  auto described = (*made)->DescribeCollection(o.db, o.name);
  (*made)->Stop();
  if (!described.ok()) return described.status();
  c.id = described->value.collection_id();
  c.channels.assign(described->value.virtual_channel_names().begin(),
                    described->value.virtual_channel_names().end());
  c.label = absl::StrCat("collection '", o.name, "' (id ", c.id, ")");
  return c;
}

std::string StateName(v1::SegmentState s) { return v1::SegmentState_Name(s); }

int Segment(client::Client& c, const CtlOptions& o, const client::ClientOptions& base) {
  if (o.command == "segment channels") {
    auto got = c.GetChannels({});
    if (!got.ok()) return FailStatus(got.status());
    json list = json::array();
    std::string text;
    for (const v1::ChannelAssignment& a : got->value.channels()) {
      list.push_back(
          {{"channel", a.channel()}, {"collectionId", a.collection_id()}, {"node", a.node_id()}});
      absl::StrAppend(&text, a.channel(), "  collection ", a.collection_id(), "  datanode-",
                      a.node_id() == 0 ? std::string("none") : std::to_string(a.node_id()), "\n");
    }
    if (o.json) return PrintJson({{"channels", list}}, *got);
    return Print(text.empty() ? "no channels yet" : text);
  }
  if (o.command == "segment list" && o.name.empty()) {
    auto got = c.GetSegmentInfo({});
    if (!got.ok()) return FailStatus(got.status());
    json list = json::array();
    std::string text;
    for (const v1::SegmentInfo& s : got->value.segments()) {
      list.push_back({{"segmentId", s.segment_id()},
                      {"collectionId", s.collection_id()},
                      {"channel", s.channel()},
                      {"state", StateName(s.state())},
                      {"rows", s.num_rows()},
                      {"maxRows", s.max_rows()}});
      absl::StrAppend(&text, s.segment_id(), "  collection ", s.collection_id(), "  ", s.channel(),
                      "  ", StateName(s.state()), "  ", s.num_rows(), "/", s.max_rows(), " rows\n");
    }
    if (o.json) return PrintJson({{"segments", list}}, *got);
    return Print(text.empty() ? "no segments yet" : text);
  }
  absl::StatusOr<Collection> col = ResolveCollection(base, o);
  if (!col.ok()) return FailStatus(col.status());
  if (o.command == "segment assign") {
    v1::AssignSegmentIDRequest request;
    v1::SegmentIDRequest* r = request.add_requests();
    r->set_collection_id(col->id);
    r->set_partition_id(o.partition_id);
    std::string channel = o.channel;
    if (channel.empty() && !col->channels.empty()) channel = col->channels.front();
    if (channel.empty()) {
      return Fail(kExitUsage, "ctl segment assign: give --channel (the collection's shard)");
    }
    r->set_channel(channel);
    r->set_count(o.count);
    auto got = c.AssignSegmentID(std::move(request));
    if (!got.ok()) return FailStatus(got.status());
    const v1::SegmentIDAssignment& a = got->value.assignments(0);
    if (o.json) {
      return PrintJson({{"segmentId", a.segment_id()},
                        {"channel", a.channel()},
                        {"count", a.count()},
                        {"rowOffset", a.row_offset()}},
                       *got);
    }
    return Print(absl::StrCat("segment ", a.segment_id(), " rows [", a.row_offset(), ", ",
                              a.row_offset() + a.count(), ") on ", a.channel()));
  }
  if (o.command == "segment flush") {
    v1::FlushRequest request;
    request.set_collection_id(col->id);
    auto got = c.Flush(request);
    if (!got.ok()) return FailStatus(got.status());
    std::vector<int64_t> ids(got->value.sealed_segment_ids().begin(),
                             got->value.sealed_segment_ids().end());
    if (o.json) return PrintJson({{"collectionId", col->id}, {"sealed", ids}}, *got);
    if (ids.empty()) return Print(absl::StrCat(col->label, ": nothing growing to flush"));
    return Print(absl::StrCat(col->label, ": sealed ", absl::StrJoin(ids, ", "),
                              "; the datanodes flush them"));
  }
  // segment list COLLECTION
  v1::GetSegmentInfoRequest request;
  request.set_collection_id(col->id);
  auto got = c.GetSegmentInfo(request);
  if (!got.ok()) return FailStatus(got.status());
  json list = json::array();
  std::string text;
  for (const v1::SegmentInfo& s : got->value.segments()) {
    list.push_back({{"segmentId", s.segment_id()},
                    {"channel", s.channel()},
                    {"state", StateName(s.state())},
                    {"rows", s.num_rows()},
                    {"maxRows", s.max_rows()}});
    absl::StrAppend(&text, s.segment_id(), "  ", s.channel(), "  ", StateName(s.state()), "  ",
                    s.num_rows(), "/", s.max_rows(), " rows\n");
  }
  if (o.json) return PrintJson({{"collectionId", col->id}, {"segments", list}}, *got);
  return Print(text.empty() ? absl::StrCat(col->label, ": no segments") : text);
}

const char* LoadStateName(v1::LoadState s) {
  switch (s) {
    case v1::LoadStateNotExist:
      return "NotExist";
    case v1::LoadStateNotLoad:
      return "NotLoad";
    case v1::LoadStateLoading:
      return "Loading";
    case v1::LoadStateLoaded:
      return "Loaded";
    default:
      return "Unknown";
  }
}

int Load(client::Client& c, const CtlOptions& o, const client::ClientOptions& base) {
  if (o.command == "load summary") {
    auto got = c.GetDistributionSummary({});
    if (!got.ok()) return FailStatus(got.status());
    json list = json::array();
    std::string text;
    for (const v1::Placement& p : got->value.placements()) {
      list.push_back(
          {{"item", p.item()}, {"collectionId", p.collection_id()}, {"node", p.node_id()}});
      absl::StrAppend(&text, p.item(), "  collection ", p.collection_id(), "  querynode-",
                      p.node_id() == 0 ? std::string("none") : std::to_string(p.node_id()), "\n");
    }
    std::vector<int64_t> loaded(got->value.loaded_collections().begin(),
                                got->value.loaded_collections().end());
    if (o.json) return PrintJson({{"loaded", loaded}, {"placements", list}}, *got);
    return Print(text.empty() ? "nothing loaded" : text);
  }
  absl::StatusOr<Collection> col = ResolveCollection(base, o);
  if (!col.ok()) return FailStatus(col.status());
  auto state = [&]() -> absl::StatusOr<client::Answer<v1::GetLoadStateResponse>> {
    v1::GetLoadStateRequest request;
    request.set_collection_id(col->id);
    return c.GetLoadState(request);
  };
  if (o.command == "load collection") {
    v1::LoadCollectionRequest request;
    request.set_collection_id(col->id);
    auto got = c.LoadCollection(request);
    if (!got.ok()) return FailStatus(got.status());
    if (o.wait) {
      // Progress until Loaded, bounded by --timeout.
      const Deadline until = Deadline::In(
          std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.timeout_seconds)));
      int last = -1;
      while (true) {
        auto s = state();
        if (!s.ok()) return FailStatus(s.status());
        if (!o.json && s->value.progress() != last) {
          std::fprintf(stderr, "loading %s: %d%%\n", col->label.c_str(), s->value.progress());
          last = s->value.progress();
        }
        if (s->value.state() == v1::LoadStateLoaded) break;
        if (until.Expired()) {
          return Fail(kExitRuntimeError,
                      absl::StrCat(col->label, " is still loading (", s->value.progress(),
                                   "%); are querynodes running? see coordha status"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    if (o.json) return PrintJson({{"collectionId", col->id}, {"loading", true}}, *got);
    return Print(absl::StrCat(o.wait ? "loaded " : "loading ", col->label));
  }
  if (o.command == "load release") {
    v1::ReleaseCollectionRequest request;
    request.set_collection_id(col->id);
    auto got = c.ReleaseCollection(request);
    if (!got.ok()) return FailStatus(got.status());
    if (o.json) return PrintJson({{"collectionId", col->id}, {"released", true}}, *got);
    return Print(absl::StrCat("released ", col->label));
  }
  if (o.command == "load state") {
    auto got = state();
    if (!got.ok()) return FailStatus(got.status());
    if (o.json) {
      return PrintJson({{"collectionId", col->id},
                        {"state", LoadStateName(got->value.state())},
                        {"progress", got->value.progress()}},
                       *got);
    }
    return Print(absl::StrCat(col->label, ": ", LoadStateName(got->value.state()), " (",
                              got->value.progress(), "%)"));
  }
  // load leaders
  v1::GetShardLeadersRequest request;
  request.set_collection_id(col->id);
  auto got = c.GetShardLeaders(request);
  if (!got.ok()) return FailStatus(got.status());
  json list = json::array();
  std::string text;
  for (const v1::ShardLeader& l : got->value.shards()) {
    list.push_back(
        {{"channel", l.channel()}, {"node", l.node_id()}, {"address", l.node_address()}});
    absl::StrAppend(&text, l.channel(), "  querynode-",
                    l.node_id() == 0 ? std::string("none") : std::to_string(l.node_id()), "  ",
                    l.node_address(), "\n");
  }
  if (o.json) return PrintJson({{"collectionId", col->id}, {"shards", list}}, *got);
  return Print(text.empty() ? absl::StrCat(col->label, ": no shard leaders") : text);
}

const char* IndexStateName(v1::IndexState s) {
  switch (s) {
    case v1::Unissued:
      return "Unissued";
    case v1::InProgress:
      return "InProgress";
    case v1::Finished:
      return "Finished";
    case v1::Failed:
      return "Failed";
    default:
      return "None";
  }
}

int Index(client::Client& c, const CtlOptions& o, const client::ClientOptions& base) {
  absl::StatusOr<Collection> col = ResolveCollection(base, o);
  if (!col.ok()) return FailStatus(col.status());
  if (o.command == "index create") {
    v1::CreateIndexRequest request;
    request.set_collection_id(col->id);
    request.set_field_name(o.field);
    request.set_index_name(o.index_name);
    for (const std::string& p : o.params) {
      const size_t eq = p.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Fail(kExitUsage, absl::StrCat("--param '", p, "': expected key=value"));
      }
      (*request.mutable_params())[p.substr(0, eq)] = p.substr(eq + 1);
    }
    auto got = c.CreateIndex(request);
    if (!got.ok()) return FailStatus(got.status());
    if (o.wait) {
      // Progress until every flushed segment is built, bounded by --timeout.
      const Deadline until = Deadline::In(
          std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.timeout_seconds)));
      int64_t last = -1;
      while (true) {
        v1::GetIndexStateRequest state_request;
        state_request.set_collection_id(col->id);
        state_request.set_index_name(o.index_name);
        auto s = c.GetIndexState(state_request);
        if (!s.ok()) return FailStatus(s.status());
        if (!o.json && s->value.finished_segments() != last) {
          std::fprintf(stderr, "building index on %s: %lld/%lld segments\n", col->label.c_str(),
                       static_cast<long long>(s->value.finished_segments()),
                       static_cast<long long>(s->value.total_segments()));
          last = s->value.finished_segments();
        }
        if (s->value.state() == v1::Finished || s->value.total_segments() == 0) break;
        if (s->value.state() == v1::Failed) {
          return Fail(kExitRuntimeError,
                      absl::StrCat("index build on ", col->label,
                                   " failed; see coordha ctl index state --json"));
        }
        if (until.Expired()) {
          return Fail(kExitRuntimeError,
                      absl::StrCat("index on ", col->label, " is still building (",
                                   s->value.finished_segments(), "/", s->value.total_segments(),
                                   "); are indexnodes running? see coordha status"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    if (o.json) {
      return PrintJson({{"collectionId", col->id},
                        {"indexId", got->value.index_id()},
                        {"existed", got->value.existed()}},
                       *got);
    }
    return Print(absl::StrCat(got->value.existed() ? "index exists on " : "created index on ",
                              col->label, " (index id ", got->value.index_id(), ")"));
  }
  if (o.command == "index drop") {
    v1::DropIndexRequest request;
    request.set_collection_id(col->id);
    request.set_index_name(o.index_name);
    auto got = c.DropIndex(request);
    if (!got.ok()) return FailStatus(got.status());
    if (o.json) return PrintJson({{"collectionId", col->id}, {"dropped", true}}, *got);
    return Print(absl::StrCat("dropped index of ", col->label));
  }
  if (o.command == "index describe") {
    v1::DescribeIndexRequest request;
    request.set_collection_id(col->id);
    request.set_index_name(o.index_name);
    auto got = c.DescribeIndex(request);
    if (!got.ok()) return FailStatus(got.status());
    json list = json::array();
    std::string text;
    for (const v1::IndexInfo& i : got->value.indexes()) {
      json params = json::object();
      for (const auto& [k, v] : i.params()) params[k] = v;
      list.push_back({{"indexId", i.index_id()},
                      {"name", i.index_name()},
                      {"field", i.field_name()},
                      {"params", params}});
      absl::StrAppend(&text, i.index_name(), "  id ", i.index_id(), "  field ", i.field_name(),
                      "\n");
    }
    if (o.json) return PrintJson({{"collectionId", col->id}, {"indexes", list}}, *got);
    return Print(text.empty() ? absl::StrCat(col->label, ": no indexes") : text);
  }
  // index state
  v1::GetIndexStateRequest request;
  request.set_collection_id(col->id);
  request.set_index_name(o.index_name);
  auto got = c.GetIndexState(request);
  if (!got.ok()) return FailStatus(got.status());
  if (o.json) {
    json list = json::array();
    for (const v1::SegmentIndexState& s : got->value.segments()) {
      list.push_back({{"segmentId", s.segment_id()},
                      {"state", IndexStateName(s.state())},
                      {"node", s.node_id()},
                      {"attempt", s.attempt()}});
    }
    return PrintJson({{"collectionId", col->id},
                      {"state", IndexStateName(got->value.state())},
                      {"total", got->value.total_segments()},
                      {"finished", got->value.finished_segments()},
                      {"segments", list}},
                     *got);
  }
  return Print(absl::StrCat(col->label, ": ", IndexStateName(got->value.state()), " (",
                            got->value.finished_segments(), "/", got->value.total_segments(),
                            " segments built)"));
}

}  // namespace

bool IsClusterCtlCommand(const std::string& command) {
  return absl::StartsWith(command, "segment ") || absl::StartsWith(command, "load ") ||
         absl::StartsWith(command, "index ");
}

void AddClusterCtlCommands(CLI::App* ctl, CtlOptions* o, const CtlLeafFactory& leaf) {
  auto collection_arg = [o](CLI::App* sub, bool required) {
    auto* opt = sub->add_option("collection", o->name, "collection name (in --db) or numeric ID");
    if (required) opt->required();
    return sub;
  };
  CLI::App* segment = ctl->add_subcommand("segment", "datacoord: assign, flush, list, channels");
  segment->require_subcommand(1);
  CLI::App* assign = collection_arg(
      leaf(segment, "assign", "segment assign", "assign rows to a growing segment"), true);
  assign->add_option("--count", o->count, "rows (default 1)")->check(CLI::Range(1u, 1u << 30));
  assign->add_option("--channel", o->channel, "virtual channel (default: the first shard's)");
  assign->add_option("--partition-id", o->partition_id, "partition ID (default 0)");
  collection_arg(leaf(segment, "flush", "segment flush",
                      "seal the collection's growing segments; datanodes flush them"),
                 true);
  collection_arg(leaf(segment, "list", "segment list", "segments and their states"), false);
  leaf(segment, "channels", "segment channels", "virtual channels and the datanode of each");

  CLI::App* load = ctl->add_subcommand("load",
                                       "querycoord: collection, release, state, leaders, "
                                       "summary");
  load->require_subcommand(1);
  collection_arg(
      leaf(load, "collection", "load collection", "load a collection onto the querynodes"), true)
      ->add_flag("--wait", o->wait, "show progress until it is loaded (bounded by --timeout)");
  collection_arg(leaf(load, "release", "load release", "release a loaded collection"), true);
  collection_arg(leaf(load, "state", "load state", "NotLoad, Loading (with progress) or Loaded"),
                 true);
  collection_arg(leaf(load, "leaders", "load leaders", "the querynode serving each shard"), true);
  leaf(load, "summary", "load summary", "every loaded channel and segment and its querynode");

  CLI::App* index = ctl->add_subcommand("index", "indexcoord: create, describe, drop, state");
  index->require_subcommand(1);
  CLI::App* create = collection_arg(
      leaf(index, "create", "index create", "build an index on every flushed segment"), true);
  create->add_option("--field", o->field, "the vector field")->required();
  create->add_option("--name", o->index_name, "index name (default _default_idx)");
  create->add_option("--param", o->params, "index parameter key=value (repeatable)");
  create->add_flag("--wait", o->wait,
                   "show progress until every flushed segment is built (bounded by --timeout)");
  for (const auto& [name, help] : std::vector<std::pair<std::string, std::string>>{
           {"describe", "a collection's indexes"},
           {"drop", "drop an index"},
           {"state", "build progress: Finished when every segment is built"}}) {
    collection_arg(leaf(index, name, "index " + name, help), true)
        ->add_option("--name", o->index_name, "index name (default: the collection's only one)");
  }
}

int ClusterCtlCommand(const config::Config&, const CtlOptions& options,
                      const client::ClientOptions& base) {
  std::string role = "datacoord";
  if (absl::StartsWith(options.command, "load ")) role = "querycoord";
  if (absl::StartsWith(options.command, "index ")) role = "indexcoord";
  client::ClientOptions client_options = base;
  client_options.role = ServingRole(base, role);
  absl::StatusOr<std::unique_ptr<client::Client>> made = client::Client::Create(client_options);
  if (!made.ok()) return Fail(kExitUsage, std::string(made.status().message()));
  int code = kExitOk;
  if (role == "datacoord") {
    code = Segment(**made, options, base);
  } else if (role == "querycoord") {
    code = Load(**made, options, base);
  } else {
    code = Index(**made, options, base);
  }
  (*made)->Stop();
  return code;
}

}  // namespace coordha::cli
