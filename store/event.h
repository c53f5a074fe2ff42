// Events as the store sees them: what a caller appends (NewEvent) and what
// the log holds (RecordedEvent). The store knows nothing of workflows: a type
// is a name, a payload is a JSON object.
//
// The stored encoding and the hash chain are specified in doc/event_format.md.
#ifndef XIAOHAO_STORE_EVENT_H_
#define XIAOHAO_STORE_EVENT_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "store/clock.h"

namespace xiaohao {

using Hash = std::array<uint8_t, 32>;  // SHA-256
std::string HashToHex(const Hash& h);
bool HashFromHex(const std::string& hex, Hash* out);

// Who caused an event: a user, the role they acted in, and their office
// (监管所/局 id from the jurisdiction tree; empty for system actors).
struct Actor {
  std::string user_id;
  std::string role;
  std::string office;
  bool operator==(const Actor& o) const {
    return user_id == o.user_id && role == o.role && office == o.office;
  }
};

// An event to append.
struct NewEvent {
  std::string stream_id;
  std::string type;         // e.g. "risk_item.opened"; [A-Za-z0-9._-], 1..128 bytes
  std::string occurred_at;  // business time, RFC 3339 with offset
  Actor actor;
  std::string payload_json;  // must be a JSON object; stored in canonical form
};

// An event in the log.
struct RecordedEvent {
  uint64_t position = 0;        // global, dense, from 1
  std::string stream_id;
  uint64_t version = 0;         // within the stream, dense, from 1
  std::string type;
  std::string occurred_at;      // as given (offset preserved)
  UnixMicros recorded_at = 0;   // the store clock when the event was committed
  Actor actor;
  std::string command_id;
  std::string payload_json;     // canonical JSON text; covered by the hash byte for byte
  Hash prev_hash{};
  Hash hash{};
};

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_EVENT_H_
