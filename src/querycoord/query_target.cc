#include "querycoord/query_target.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace coordha::querycoord {

std::string LoadedCollectionKey(int64_t collection_id) {
  return absl::StrCat(kLoadedCollectionDir, collection_id);
}

std::string ChannelItemId(const std::string& vchannel) { return "channel/" + vchannel; }

std::string SegmentItemId(int64_t segment_id) { return absl::StrCat("segment/", segment_id); }

std::vector<coordinator::DesiredItem> DesiredItems(const std::vector<v1::LoadedCollection>& loaded,
                                                   const std::vector<v1::SegmentInfo>& segments) {
  std::map<std::string, coordinator::DesiredItem> by_id;
  std::set<int64_t> loaded_ids;
  for (const v1::LoadedCollection& c : loaded) {
    loaded_ids.insert(c.collection_id());
    for (const std::string& vchannel : c.virtual_channel_names()) {
      coordinator::DesiredItem& d = by_id[ChannelItemId(vchannel)];
      if (!d.item.id().empty()) continue;  // first collection naming it keeps it
      d.item.set_id(ChannelItemId(vchannel));
      d.item.set_collection_id(c.collection_id());
    }
  }
  for (const v1::SegmentInfo& s : segments) {
    // Only sealed data that is durable is loaded; growing data is served from the channel.
    if (s.state() != v1::Flushed || !loaded_ids.contains(s.collection_id())) continue;
    coordinator::DesiredItem& d = by_id[SegmentItemId(s.segment_id())];
    d.item.set_id(SegmentItemId(s.segment_id()));
    d.item.set_collection_id(s.collection_id());
    d.item.set_payload(s.SerializeAsString());
  }
  std::vector<coordinator::DesiredItem> out;
  out.reserve(by_id.size());
  for (auto& [id, d] : by_id) out.push_back(std::move(d));
  return out;
}

std::vector<v1::LoadedCollection> LoadedCollections(const coordinator::MetaCopy& querycoord_copy) {
  std::vector<v1::LoadedCollection> out;
  for (const etcd::KeyValue& kv : querycoord_copy.List(kLoadedCollectionDir)) {
    absl::StatusOr<v1::LoadedCollection> c =
        coordinator::ParseStoredProto<v1::LoadedCollection>(kv);
    if (!c.ok()) {
      spdlog::error("querycoord: {}", c.status().message());
      continue;
    }
    out.push_back(*std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.collection_id() < b.collection_id(); });
  return out;
}

std::vector<v1::SegmentInfo> Segments(const coordinator::MetaCopy& segment_copy) {
  std::vector<v1::SegmentInfo> out;
  for (const etcd::KeyValue& kv : segment_copy.List("")) {
    absl::StatusOr<v1::SegmentInfo> s = coordinator::ParseStoredProto<v1::SegmentInfo>(kv);
    if (!s.ok()) {
      spdlog::error("querycoord: {}", s.status().message());
      continue;
    }
    out.push_back(*std::move(s));
  }
  return out;
}

std::optional<v1::CollectionInfo> FindCollection(const std::vector<etcd::KeyValue>& catalog,
                                                 int64_t collection_id) {
  for (const etcd::KeyValue& kv : catalog) {
    absl::StatusOr<v1::CollectionInfo> c = coordinator::ParseStoredProto<v1::CollectionInfo>(kv);
    if (c.ok() && c->collection_id() == collection_id) return *std::move(c);
  }
  return std::nullopt;
}

std::vector<coordinator::DesiredItem> QueryTargetPolicy::Desired() {
  return DesiredItems(LoadedCollections(*querycoord_copy_), Segments(*segment_copy_));
}

std::vector<coordinator::DesiredItem> QueryTargetPolicy::DesiredOf(int64_t collection_id) {
  std::vector<coordinator::DesiredItem> all = Desired();
  std::erase_if(all, [&](const coordinator::DesiredItem& d) {
    return d.item.collection_id() != collection_id;
  });
  return all;
}

}  // namespace coordha::querycoord
