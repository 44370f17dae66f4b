// The datacoord role (DESIGN.md §5) as a coordinator::Coordinator: see datacoord_coordinator.cc's
// header comment for the state it keeps and how it survives failover.
#ifndef COORDHA_DATACOORD_DATACOORD_COORDINATOR_H_
#define COORDHA_DATACOORD_DATACOORD_COORDINATOR_H_

#include <memory>
#include <string>

#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "etcd/client.h"

namespace coordha::datacoord {

struct DataCoordinatorOptions {
  // etcd, borrowed; must outlive the coordinator. REQUIRES: set.
  etcd::Client* client = nullptr;
  // "<etcd.rootPath>/<etcd.metaSubPath>": state under <meta_root>/datacoord/. Default:
  // "by-dev/meta".
  std::string meta_root = "by-dev/meta";
  // How often the active re-places work on the datanodes (coordinator/scheduler.h).
  Duration round_interval = std::chrono::milliseconds(200);
  // A growing segment is sealed once it would hold more rows than this
  // (`dataCoord.segment.maxRows`). REQUIRES: >= 1. Default: 100000.
  int64_t max_segment_rows = 100000;
};

std::unique_ptr<coordinator::Coordinator> NewDataCoordinator(DataCoordinatorOptions options);

}  // namespace coordha::datacoord

#endif  // COORDHA_DATACOORD_DATACOORD_COORDINATOR_H_
