#include "chaos/history.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace coordha::chaos {
namespace {

using nlohmann::json;

std::optional<Operation::Kind> ParseKind(const std::string& s) {
  if (s == "ts") return Operation::Kind::kTimestamp;
  if (s == "id") return Operation::Kind::kId;
  if (s == "ddl") return Operation::Kind::kDdl;
  if (s == "seg") return Operation::Kind::kSegment;
  return std::nullopt;
}

std::optional<Operation::Outcome> ParseOutcome(const std::string& s) {
  if (s == "ok") return Operation::Outcome::kOk;
  if (s == "failed") return Operation::Outcome::kFailed;
  if (s == "unknown") return Operation::Outcome::kUnknown;
  return std::nullopt;
}

}  // namespace

const char* KindName(Operation::Kind kind) {
  switch (kind) {
    case Operation::Kind::kTimestamp:
      return "ts";
    case Operation::Kind::kId:
      return "id";
    case Operation::Kind::kDdl:
      return "ddl";
    case Operation::Kind::kSegment:
      return "seg";
  }
  return "?";
}

const char* OutcomeName(Operation::Outcome outcome) {
  switch (outcome) {
    case Operation::Outcome::kOk:
      return "ok";
    case Operation::Outcome::kFailed:
      return "failed";
    case Operation::Outcome::kUnknown:
      return "unknown";
  }
  return "?";
}

std::string ToJsonLine(const Operation& op) {
  json j = {{"type", "op"},
            {"kind", KindName(op.kind)},
            {"client", op.client},
            {"invoke_us", op.invoke_us},
            {"complete_us", op.complete_us},
            {"outcome", OutcomeName(op.outcome)},
            {"role", op.role},
            {"server_id", op.server_id},
            {"epoch", op.epoch}};
  if (op.kind == Operation::Kind::kDdl) {
    j["name"] = op.name;
    j["request_id"] = op.request_id;
    j["error"] = op.error;
  } else {
    j["first"] = op.first;
    j["count"] = op.count;
  }
  if (op.kind == Operation::Kind::kSegment) j["segment"] = op.segment;
  return j.dump();
}

std::string ToJsonLine(const Fault& fault) {
  return json{{"type", "fault"},    {"kind", fault.kind},   {"target", fault.target},
              {"role", fault.role}, {"at_us", fault.at_us}, {"bound_ms", fault.bound_ms}}
      .dump();
}

std::string FinalJsonLine(const std::set<std::string>& collections) {
  return json{{"type", "final"}, {"collections", collections}}.dump();
}

std::string SegmentsJsonLine(const std::map<int64_t, int64_t>& rows) {
  json by_id = json::object();
  for (const auto& entry : rows) by_id[absl::StrCat(entry.first)] = entry.second;
  return json{{"type", "segments"}, {"rows", by_id}}.dump();
}

absl::StatusOr<History> ParseHistory(std::istream& in) {
  History history;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat("history line ", number, ": ", why));
    };
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return bad("not a JSON object");
    try {
      const std::string type = j.value("type", "");
      if (type == "op") {
        Operation op;
        std::optional<Operation::Kind> kind = ParseKind(j.value("kind", ""));
        if (!kind) return bad("kind must be ts, id, ddl or seg");
        std::optional<Operation::Outcome> outcome = ParseOutcome(j.value("outcome", ""));
        if (!outcome) return bad("outcome must be ok, failed or unknown");
        op.kind = *kind;
        op.outcome = *outcome;
        op.client = j.value("client", 0);
        op.invoke_us = j.value("invoke_us", int64_t{0});
        op.complete_us = j.value("complete_us", int64_t{0});
        if (op.complete_us < op.invoke_us) return bad("complete_us is before invoke_us");
        op.role = j.value("role", std::string("rootcoord"));
        op.server_id = j.value("server_id", int64_t{0});
        op.epoch = j.value("epoch", int64_t{0});
        op.first = j.value("first", uint64_t{0});
        op.count = j.value("count", uint32_t{0});
        op.name = j.value("name", std::string());
        op.request_id = j.value("request_id", std::string());
        op.error = j.value("error", std::string());
        op.segment = j.value("segment", int64_t{0});
        if (op.kind != Operation::Kind::kDdl && op.outcome == Operation::Outcome::kOk &&
            op.count == 0) {
          return bad("an acknowledged ts, id or seg operation needs count >= 1");
        }
        if (op.kind == Operation::Kind::kDdl && op.name.empty()) return bad("a ddl needs a name");
        history.ops.push_back(std::move(op));
      } else if (type == "fault") {
        Fault fault;
        fault.kind = j.value("kind", std::string());
        fault.target = j.value("target", std::string());
        fault.role = j.value("role", std::string());
        fault.at_us = j.value("at_us", int64_t{0});
        fault.bound_ms = j.value("bound_ms", int64_t{0});
        if (fault.kind.empty()) return bad("a fault needs a kind");
        history.faults.push_back(std::move(fault));
      } else if (type == "final") {
        std::set<std::string> collections;
        for (const json& c : j.at("collections")) collections.insert(c.get<std::string>());
        history.final_collections = std::move(collections);
      } else if (type == "segments") {
        std::map<int64_t, int64_t> rows;
        for (const auto& [id, n] : j.at("rows").items()) {
          int64_t segment = 0;
          if (!absl::SimpleAtoi(id, &segment)) return bad("segments: a key is not a segment ID");
          rows[segment] = n.get<int64_t>();
        }
        history.final_segment_rows = std::move(rows);
      } else {
        return bad("type must be op, fault, final or segments");
      }
    } catch (const json::exception& e) {  // a field of the wrong type
      return bad(e.what());
    }
  }
  return history;
}

}  // namespace coordha::chaos
