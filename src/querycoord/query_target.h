// QueryTarget: what querycoord wants the querynodes to hold — the channels and flushed segments of
// every loaded collection — and the key layout of querycoord's state (DESIGN.md §5 querycoord).
//
// Key layout, under <meta_root>/querycoord/ (querycoord's MetaCopy; values are serialized protos
// unless said otherwise):
//
//   collection/<collection id>  v1::LoadedCollection (querycoord.proto): the collection's id, its
//                               virtual channels as the rootcoord catalog listed them at load time,
//                               when and by which epoch it was loaded. Written by LoadCollection,
//                               deleted by ReleaseCollection, both fenced (S1).
//   assignment/<item id>        "<querynode server ID> <attempt>": where the Scheduler placed each
//                               item (coordinator/scheduler.h), fenced.
//   epoch                       the newest activation's epoch (MetaCopy::CatchUpAsActive, S7).
//
// Read-only copies of other coordinators' state (the contract of DESIGN.md §3):
//   <meta_root>/rootcoord/collection/<db>/<name>  v1::CollectionInfo: a collection's channels.
//   <meta_root>/datacoord/segment/<segment id>    v1::SegmentInfo: its Flushed segments.
//
// The target (Desired): for each loaded collection, "channel/<vchannel>" for each of its virtual
// channels and "segment/<id>" for each of its Flushed segments, collection_id set. A released
// collection's items are no longer desired: the Scheduler deletes their placement records and the
// next Sync drops them from the querynodes. A segment that is compacted away (Dropped) likewise.
#ifndef COORDHA_QUERYCOORD_QUERY_TARGET_H_
#define COORDHA_QUERYCOORD_QUERY_TARGET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/meta_copy.h"
#include "coordinator/scheduler.h"
#include "datacoord.pb.h"
#include "querycoord.pb.h"
#include "rootcoord.pb.h"

namespace coordha::querycoord {

// Relative keys in querycoord's copy.
std::string LoadedCollectionKey(int64_t collection_id);
inline constexpr char kLoadedCollectionDir[] = "collection/";

// Work item ids (proto/worker.proto).
std::string ChannelItemId(const std::string& vchannel);
std::string SegmentItemId(int64_t segment_id);

// Pure: the desired items for `loaded` given every known segment (any state, any collection).
// Sorted by id; an id listed twice (a channel named in two collections) is kept once.
std::vector<coordinator::DesiredItem> DesiredItems(const std::vector<v1::LoadedCollection>& loaded,
                                                   const std::vector<v1::SegmentInfo>& segments);

// Every loaded collection in `querycoord_copy`, by id. Unreadable records are logged and skipped.
std::vector<v1::LoadedCollection> LoadedCollections(const coordinator::MetaCopy& querycoord_copy);
// Every segment in `segment_copy` (a copy of <meta>/datacoord/segment/).
std::vector<v1::SegmentInfo> Segments(const coordinator::MetaCopy& segment_copy);
// The collection with `collection_id` among CollectionInfo values (rootcoord's catalog layout).
std::optional<v1::CollectionInfo> FindCollection(const std::vector<etcd::KeyValue>& catalog,
                                                 int64_t collection_id);

// The SchedulerPolicy of querycoord: Desired() from the copies (read at each round). The copies
// are borrowed and must outlive the policy. Thread-safe (the copies are).
class QueryTargetPolicy final : public coordinator::SchedulerPolicy {
 public:
  QueryTargetPolicy(const coordinator::MetaCopy* querycoord_copy,
                    const coordinator::MetaCopy* segment_copy)
      : querycoord_copy_(querycoord_copy), segment_copy_(segment_copy) {}

  std::vector<coordinator::DesiredItem> Desired() override;
  // The desired items of one collection (GetLoadState's progress).
  std::vector<coordinator::DesiredItem> DesiredOf(int64_t collection_id);

 private:
  const coordinator::MetaCopy* const querycoord_copy_;
  const coordinator::MetaCopy* const segment_copy_;
};

}  // namespace coordha::querycoord

#endif  // COORDHA_QUERYCOORD_QUERY_TARGET_H_
