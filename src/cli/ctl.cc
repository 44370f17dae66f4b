// `coordha ctl ...`: calls to rootcoord through the client library (DESIGN.md §7).
//
// Every command finds the active through etcd (the same config and environment as `run`), retries
// refusals under --timeout and prints its result; with --json one object with the result plus the
// answering server's `serverId` and `epoch`. `--address HOST:PORT` asks that one server as-is (no
// discovery, no retry) and shows its error. Errors are one line on stderr: exit 1 for runtime
// errors (`coordha: collection 'x' not found`), exit 2 for usage.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/ctl_cluster.h"
#include "cli/status_view.h"
#include "client/client.h"
#include "etcd/client.h"
#include "nlohmann/json.hpp"
#include "rootcoord/schema.h"

namespace coordha::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
constexpr int kExitUsage = 2;

using nlohmann::json;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "coordha: %s\n", message.c_str());
  return code;
}

int Print(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  return kExitOk;
}

void AddReply(json* out, const client::ReplyInfo& from) {
  (*out)["serverId"] = from.server_id;
  (*out)["epoch"] = from.epoch;
}

std::string TypeName(v1::DataType type) { return v1::DataType_Name(type); }

absl::StatusOr<v1::DataType> ParseType(const std::string& name) {
  const auto* descriptor = v1::DataType_descriptor();
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const std::string& candidate = descriptor->value(i)->name();
    if (candidate == "None") continue;
    if (absl::EqualsIgnoreCase(candidate, name)) {
      return static_cast<v1::DataType>(descriptor->value(i)->number());
    }
    names.push_back(candidate);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown type '", name, "' (one of ", absl::StrJoin(names, ", "), ")"));
}

// {"name":..,"description":..,"fields":[{"name","type","isPrimaryKey","dim","maxLength","autoId",
// "description"}]}: the schema for `ctl collection create NAME --schema FILE.json`.
absl::StatusOr<v1::CollectionSchema> ReadSchemaFile(const std::string& path,
                                                    const std::string& collection) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--schema: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  v1::CollectionSchema schema;
  schema.set_name(collection);
  try {
    for (const auto& [key, value] : doc.items()) {
      if (key == "name") {
        if (value.get<std::string>() != collection) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": name '", value.get<std::string>(),
                                                         "' differs from the collection name '",
                                                         collection, "'"));
        }
      } else if (key == "description") {
        schema.set_description(value.get<std::string>());
      } else if (key != "fields") {
        return absl::InvalidArgumentError(absl::StrCat(path, ": unknown key '", key, "'"));
      }
    }
    if (!doc.contains("fields") || !doc["fields"].is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": \"fields\" must be an array"));
    }
    int index = 0;
    for (const json& entry : doc["fields"]) {
      const std::string where = absl::StrCat(path, ": fields[", index++, "]");
      if (!entry.is_object()) return absl::InvalidArgumentError(where + ": not an object");
      v1::FieldSchema* field = schema.add_fields();
      for (const auto& [key, value] : entry.items()) {
        if (key == "name") {
          field->set_name(value.get<std::string>());
        } else if (key == "type") {
          absl::StatusOr<v1::DataType> type = ParseType(value.get<std::string>());
          if (!type.ok())
            return absl::InvalidArgumentError(where + ": " + std::string(type.status().message()));
          field->set_data_type(*type);
        } else if (key == "isPrimaryKey") {
          field->set_is_primary_key(value.get<bool>());
        } else if (key == "autoId") {
          field->set_auto_id(value.get<bool>());
        } else if (key == "dim") {
          field->set_dim(value.get<int64_t>());
        } else if (key == "maxLength") {
          field->set_max_length(value.get<int64_t>());
        } else if (key == "description") {
          field->set_description(value.get<std::string>());
        } else {
          return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key '", key, "'"));
        }
      }
      if (field->data_type() == v1::None) {
        return absl::InvalidArgumentError(where + ": \"type\" is missing");
      }
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  return schema;
}

json FieldJson(const v1::FieldSchema& field) {
  json out = {{"fieldId", field.field_id()},
              {"name", field.name()},
              {"type", TypeName(field.data_type())},
              {"isPrimaryKey", field.is_primary_key()},
              {"autoId", field.auto_id()}};
  if (field.dim() != 0) out["dim"] = field.dim();
  if (field.max_length() != 0) out["maxLength"] = field.max_length();
  if (!field.description().empty()) out["description"] = field.description();
  return out;
}

json PartitionJson(const v1::PartitionInfo& p) {
  return {
      {"name", p.name()}, {"id", p.partition_id()}, {"createdTimestamp", p.created_timestamp()}};
}

json CollectionJson(const v1::CollectionInfo& c) {
  json fields = json::array();
  for (const v1::FieldSchema& f : c.schema().fields()) fields.push_back(FieldJson(f));
  json partitions = json::array();
  for (const v1::PartitionInfo& p : c.partitions()) partitions.push_back(PartitionJson(p));
  return {{"name", c.schema().name()},
          {"id", c.collection_id()},
          {"db", c.db_name()},
          {"description", c.schema().description()},
          {"fields", std::move(fields)},
          {"shards", c.shards_num()},
          {"virtualChannels", std::vector<std::string>(c.virtual_channel_names().begin(),
                                                       c.virtual_channel_names().end())},
          {"physicalChannels", std::vector<std::string>(c.physical_channel_names().begin(),
                                                        c.physical_channel_names().end())},
          {"createdTimestamp", c.created_timestamp()},
          {"partitions", std::move(partitions)}};
}

std::string CollectionText(const v1::CollectionInfo& c) {
  std::string out = absl::StrCat("collection ", c.schema().name(), " (id ", c.collection_id(),
                                 ", db ", c.db_name().empty() ? "default" : c.db_name(), ")\n");
  if (!c.schema().description().empty()) {
    absl::StrAppend(&out, "  description: ", c.schema().description(), "\n");
  }
  absl::StrAppend(&out, "  shards: ", c.shards_num(), " (",
                  absl::StrJoin(c.virtual_channel_names(), ", "), ")\n");
  absl::StrAppend(&out, "  created: ", c.created_timestamp(), "\n  fields:\n");
  size_t name_width = 0;
  size_t type_width = 0;
  for (const v1::FieldSchema& f : c.schema().fields()) {
    name_width = std::max(name_width, f.name().size());
    type_width = std::max(type_width, TypeName(f.data_type()).size());
  }
  for (const v1::FieldSchema& f : c.schema().fields()) {
    std::vector<std::string> notes;
    if (f.is_primary_key()) notes.push_back("primary key");
    if (f.auto_id()) notes.push_back("autoId");
    if (f.dim() != 0) notes.push_back(absl::StrCat("dim ", f.dim()));
    if (f.max_length() != 0) notes.push_back(absl::StrCat("maxLength ", f.max_length()));
    std::string line =
        absl::StrCat("    ", f.name(), std::string(name_width - f.name().size() + 2, ' '),
                     TypeName(f.data_type()));
    if (!notes.empty()) {
      absl::StrAppend(&line, std::string(type_width - TypeName(f.data_type()).size() + 2, ' '),
                      absl::StrJoin(notes, ", "));
    }
    absl::StrAppend(&out, line, "\n");
  }
  std::vector<std::string> partitions;
  for (const v1::PartitionInfo& p : c.partitions()) partitions.push_back(p.name());
  absl::StrAppend(&out, "  partitions: ", absl::StrJoin(partitions, ", "), "\n");
  return out;
}

// The result of a DDL: text or JSON. `what` is e.g. "database 'x'".
int PrintDdl(const CtlOptions& options, const absl::StatusOr<client::DdlOutcome>& outcome,
             const char* verb, const std::string& what, json object) {
  if (!outcome.ok()) return Fail(kExitRuntimeError, std::string(outcome.status().message()));
  if (options.json) {
    object["id"] = outcome->id;
    object["replayed"] = outcome->replayed;
    object["requestId"] = outcome->request_id;
    AddReply(&object, outcome->from);
    return Print(object.dump());
  }
  std::string text = absl::StrCat(verb, " ", what);
  if (outcome->id != 0) absl::StrAppend(&text, " (id ", outcome->id, ")");
  return Print(text);
}

int Dispatch(client::Client& c, const CtlOptions& o) {
  const std::string& cmd = o.command;
  const std::string db = o.db;
  const std::string db_label = o.db.empty() ? "default" : o.db;  // the server's meaning of ""
  auto fail = [](const absl::Status& status) {
    return Fail(kExitRuntimeError, std::string(status.message()));
  };

  if (cmd == "ts") {
    absl::StatusOr<client::TimestampRange> ts = c.AllocTimestamp(o.count);
    if (!ts.ok()) return fail(ts.status());
    if (!o.json) return Print(std::to_string(ts->first));
    json out = {{"timestamp", ts->first},
                {"count", ts->count},
                {"physical", ts->physical_ms()},
                {"logical", ts->logical()}};
    AddReply(&out, ts->from);
    return Print(out.dump());
  }
  if (cmd == "id") {
    absl::StatusOr<client::IdRange> ids = c.AllocID(o.count);
    if (!ids.ok()) return fail(ids.status());
    if (!o.json) {
      return Print(ids->end - ids->begin == 1 ? std::to_string(ids->begin)
                                              : absl::StrCat(ids->begin, " ", ids->end));
    }
    json out = {{"begin", ids->begin}, {"end", ids->end}, {"count", ids->end - ids->begin}};
    AddReply(&out, ids->from);
    return Print(out.dump());
  }

  if (cmd == "db create") {
    return PrintDdl(o, c.CreateDatabase(o.name), "created", absl::StrCat("database '", o.name, "'"),
                    {{"database", o.name}});
  }
  if (cmd == "db drop") {
    return PrintDdl(o, c.DropDatabase(o.name), "dropped", absl::StrCat("database '", o.name, "'"),
                    {{"database", o.name}});
  }
  if (cmd == "db list") {
    auto dbs = c.ListDatabases();
    if (!dbs.ok()) return fail(dbs.status());
    if (o.json) {
      json list = json::array();
      for (const v1::DatabaseInfo& d : dbs->value) {
        list.push_back(
            {{"name", d.name()}, {"id", d.db_id()}, {"createdTimestamp", d.created_timestamp()}});
      }
      json out = {{"databases", std::move(list)}};
      AddReply(&out, dbs->from);
      return Print(out.dump());
    }
    std::string text;
    for (const v1::DatabaseInfo& d : dbs->value) absl::StrAppend(&text, d.name(), "\n");
    std::fputs(text.c_str(), stdout);
    return kExitOk;
  }

  if (cmd == "collection create") {
    v1::CollectionSchema schema;
    if (!o.schema_file.empty()) {
      absl::StatusOr<v1::CollectionSchema> read = ReadSchemaFile(o.schema_file, o.name);
      if (!read.ok()) return Fail(kExitUsage, std::string(read.status().message()));
      schema = *std::move(read);
    } else {
      schema = rootcoord::QuickSchema(o.name, o.dim);
    }
    return PrintDdl(o, c.CreateCollection(db, schema, o.shards), "created",
                    absl::StrCat("collection '", o.name, "'"),
                    {{"collection", o.name}, {"db", db_label}});
  }
  if (cmd == "collection drop") {
    return PrintDdl(o, c.DropCollection(db, o.name), "dropped",
                    absl::StrCat("collection '", o.name, "'"),
                    {{"collection", o.name}, {"db", db_label}});
  }
  if (cmd == "collection describe") {
    auto described = c.DescribeCollection(db, o.name);
    if (!described.ok()) return fail(described.status());
    if (!o.json) return Print(CollectionText(described->value));
    json out = {{"collection", CollectionJson(described->value)}};
    AddReply(&out, described->from);
    return Print(out.dump());
  }
  if (cmd == "collection has") {
    auto has = c.HasCollection(db, o.name);
    if (!has.ok()) return fail(has.status());
    if (!o.json) return Print(has->value ? "true" : "false");
    json out = {{"collection", o.name}, {"db", db_label}, {"has", has->value}};
    AddReply(&out, has->from);
    return Print(out.dump());
  }
  if (cmd == "collection list") {
    auto names = c.ListCollections(db);
    if (!names.ok()) return fail(names.status());
    if (o.json) {
      json out = {{"db", db_label}, {"collections", names->value}};
      AddReply(&out, names->from);
      return Print(out.dump());
    }
    for (const std::string& name : names->value) std::printf("%s\n", name.c_str());
    return kExitOk;
  }

  const std::string partition_what =
      absl::StrCat("partition '", o.partition, "' of collection '", o.name, "'");
  if (cmd == "partition create") {
    return PrintDdl(o, c.CreatePartition(db, o.name, o.partition), "created", partition_what,
                    {{"collection", o.name}, {"partition", o.partition}, {"db", db_label}});
  }
  if (cmd == "partition drop") {
    return PrintDdl(o, c.DropPartition(db, o.name, o.partition), "dropped", partition_what,
                    {{"collection", o.name}, {"partition", o.partition}, {"db", db_label}});
  }
  if (cmd == "partition list") {
    auto partitions = c.ListPartitions(db, o.name);
    if (!partitions.ok()) return fail(partitions.status());
    if (o.json) {
      json list = json::array();
      for (const v1::PartitionInfo& p : partitions->value) list.push_back(PartitionJson(p));
      json out = {{"collection", o.name}, {"db", db_label}, {"partitions", std::move(list)}};
      AddReply(&out, partitions->from);
      return Print(out.dump());
    }
    for (const v1::PartitionInfo& p : partitions->value) std::printf("%s\n", p.name().c_str());
    return kExitOk;
  }
  return Fail(kExitUsage, absl::StrCat("ctl: unknown command '", cmd, "'"));
}

}  // namespace

CLI::App* AddCtlCommand(CLI::App& app, CtlOptions* options,
                        const std::function<void(CLI::App*)>& add_config_flags) {
  CLI::App* ctl = app.add_subcommand("ctl",
                                     "call the coordinators' actives: ts, id, db, collection, "
                                     "partition (rootcoord), segment, load, index");
  ctl->require_subcommand(1);
  // Flags every leaf command takes (after the command words: `ctl ts --json`).
  auto leaf = [&, options](CLI::App* parent, const std::string& name, const std::string& command,
                           const std::string& help) {
    CLI::App* sub = parent->add_subcommand(name, help);
    sub->add_flag("--json", options->json, "print one JSON object with serverId and epoch");
    sub->add_option("--address", options->address,
                    "ask this server as-is: no discovery, no retry, its error shown")
        ->type_name("HOST:PORT");
    sub->add_option("--timeout", options->timeout_seconds,
                    "give up after this many seconds, retries included (default 10)")
        ->check(CLI::PositiveNumber);
    add_config_flags(sub);
    sub->callback([options, command] { options->command = command; });
    return sub;
  };
  auto with_db = [options](CLI::App* sub) {
    sub->add_option("--db", options->db, "database (default: \"default\")");
    return sub;
  };

  for (const char* what : {"ts", "id"}) {
    CLI::App* sub = leaf(ctl, what, what,
                         std::string(what) == "ts"
                             ? "allocate timestamps; prints the first one"
                             : "allocate IDs; prints the first one (BEGIN END with --count > 1)");
    sub->add_option("--count", options->count, "how many (default 1)")
        ->check(CLI::Range(1u, 1u << 18));
  }

  CLI::App* db = ctl->add_subcommand("db", "databases: create, drop, list");
  db->require_subcommand(1);
  leaf(db, "create", "db create", "create a database")
      ->add_option("name", options->name, "database name")
      ->required();
  leaf(db, "drop", "db drop", "drop a database")
      ->add_option("name", options->name, "database name")
      ->required();
  leaf(db, "list", "db list", "list databases");

  CLI::App* collection =
      ctl->add_subcommand("collection", "collections: create, drop, describe, list, has");
  collection->require_subcommand(1);
  CLI::App* create =
      with_db(leaf(collection, "create", "collection create",
                   "create a collection: --dim D (int64 key \"id\" + float vector \"vector\") or "
                   "--schema FILE.json"));
  create->add_option("name", options->name, "collection name")->required();
  create->add_option("--dim", options->dim, "quick form: dimension of the float vector field");
  create
      ->add_option("--schema", options->schema_file,
                   "JSON schema: {\"fields\":[{\"name\",\"type\",\"isPrimaryKey\",\"dim\","
                   "\"maxLength\",\"autoId\"}]}")
      ->type_name("FILE.json");
  create->add_option("--shards", options->shards, "shard count (default 1)")
      ->check(CLI::Range(1, 1024));
  for (const auto& [name, help] : std::vector<std::pair<std::string, std::string>>{
           {"drop", "drop a collection"},
           {"describe", "show a collection's schema, shards and partitions"},
           {"has", "print true or false"}}) {
    with_db(leaf(collection, name, "collection " + name, help))
        ->add_option("name", options->name, "collection name")
        ->required();
  }
  with_db(leaf(collection, "list", "collection list", "list the collections of a database"));

  CLI::App* partition = ctl->add_subcommand("partition", "partitions: create, drop, list");
  partition->require_subcommand(1);
  for (const char* verb : {"create", "drop"}) {
    CLI::App* sub = with_db(leaf(partition, verb, std::string("partition ") + verb,
                                 std::string(verb) + " a partition"));
    sub->add_option("collection", options->name, "collection name")->required();
    sub->add_option("partition", options->partition, "partition name")->required();
  }
  with_db(leaf(partition, "list", "partition list", "list a collection's partitions"))
      ->add_option("collection", options->name, "collection name")
      ->required();
  AddClusterCtlCommands(
      ctl, options,
      [&](CLI::App* parent, const std::string& name, const std::string& command,
          const std::string& help) { return with_db(leaf(parent, name, command, help)); });
  return ctl;
}

int CtlCommand(const config::Config& config, const CtlOptions& options) {
  if (options.command == "collection create") {
    if (options.schema_file.empty() == (options.dim == 0)) {
      return Fail(kExitUsage,
                  "ctl collection create: give either --dim D or --schema FILE.json "
                  "(see coordha ctl collection create --help)");
    }
    if (options.schema_file.empty() && options.dim < 0) {
      return Fail(kExitUsage, "ctl collection create: --dim must be > 0");
    }
  }

  client::ClientOptions client_options;
  client_options.meta_root = config.etcd.MetaRoot();
  client_options.call_timeout =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(options.timeout_seconds));
  std::unique_ptr<etcd::Client> etcd_client;
  if (!options.address.empty()) {
    client_options.fixed_address = options.address;
  } else {
    absl::StatusOr<std::unique_ptr<etcd::Client>> connected =
        etcd::Client::Connect(config.etcd.ToClientOptions());
    if (!connected.ok()) {
      return Fail(kExitRuntimeError,
                  connected.status().code() == absl::StatusCode::kUnavailable
                      ? UnreachableMessage(config.etcd.endpoints, connected.status())
                      : absl::StrCat("etcd: ", connected.status().message()));
    }
    etcd_client = *std::move(connected);
    client_options.etcd_client = etcd_client.get();
  }
  if (IsClusterCtlCommand(options.command)) {
    return ClusterCtlCommand(config, options, client_options);
  }
  client_options.role = ServingRole(client_options, "rootcoord");
  absl::StatusOr<std::unique_ptr<client::Client>> made = client::Client::Create(client_options);
  if (!made.ok()) return Fail(kExitUsage, std::string(made.status().message()));
  const int code = Dispatch(**made, options);
  (*made)->Stop();
  made->reset();  // before the etcd client it borrows
  return code;
}

}  // namespace coordha::cli
