// What the client library's calls return (client.h): values with the (serverID, epoch) of the
// active that answered (DESIGN.md §4 S4).
#ifndef COORDHA_CLIENT_TYPES_H_
#define COORDHA_CLIENT_TYPES_H_

#include <cstdint>
#include <string>

#include "common/clock.h"

namespace coordha::client {

// The active that answered a call.
struct ReplyInfo {
  int64_t server_id = 0;
  int64_t epoch = 0;
};

// Hybrid timestamps: physical ms << 18 | logical (the wire format of rootcoord.proto).
inline constexpr int kTimestampLogicalBits = 18;

// `count` consecutive timestamps: first, first + 1, ..., first + count - 1 (the server keeps them
// in one millisecond, so adding to the logical part never carries into the physical part).
struct TimestampRange {
  uint64_t first = 0;
  uint32_t count = 0;
  ReplyInfo from;

  uint64_t at(uint32_t i) const { return first + i; }  // REQUIRES: i < count
  int64_t physical_ms() const { return static_cast<int64_t>(first >> kTimestampLogicalBits); }
  uint64_t logical() const { return first & ((uint64_t{1} << kTimestampLogicalBits) - 1); }
};

// IDs [begin, end), unique forever.
struct IdRange {
  int64_t begin = 0;
  int64_t end = 0;
  ReplyInfo from;
};

// The outcome of a DDL call.
struct DdlOutcome {
  int64_t id = 0;         // the created database, collection or partition; 0 for drops
  bool replayed = false;  // the server had applied this request ID before (an earlier attempt)
  std::string request_id;
  ReplyInfo from;
};

// A read's value with who answered it.
template <typename T>
struct Answer {
  T value;
  ReplyInfo from;
};

// Per-call settings. Everything is optional.
struct CallOptions {
  // When to give up, retries included. Unset: ClientOptions::call_timeout from the call's start.
  Deadline deadline;
  // DDL only: the idempotency key sent with every attempt. Empty: a random 128-bit hex ID made
  // once for this call. Pass your own to retry a call whose outcome was unknown (kUnknown): the
  // server answers the first outcome instead of applying it again.
  std::string request_id;
};

}  // namespace coordha::client

#endif  // COORDHA_CLIENT_TYPES_H_
