// EventView: one event of the log as the store holds it, read without
// copying, for scans that fold millions of events (a projection rebuild).
//
// Contract: every view points into the store's read buffer and is valid only
// during the visitor call that received it (EventStore::ScanLogRaw). Copy
// what must outlive the call, or call ToRecorded(). The fields mean what
// RecordedEvent's do (store/event.h).
#ifndef XIAOHAO_STORE_EVENT_VIEW_H_
#define XIAOHAO_STORE_EVENT_VIEW_H_

#include <cstdint>
#include <cstring>
#include <string_view>

#include "store/event.h"

namespace xiaohao {

struct EventView {
  uint64_t position = 0;
  uint64_t version = 0;
  UnixMicros recorded_at = 0;
  std::string_view stream_id;
  std::string_view type;
  std::string_view occurred_at;
  std::string_view actor_user_id;
  std::string_view actor_role;
  std::string_view actor_office;
  std::string_view command_id;
  std::string_view payload_json;  // canonical JSON text
  const uint8_t* prev_hash_bytes = nullptr;  // 32 bytes
  const uint8_t* hash_bytes = nullptr;       // 32 bytes

  Hash prev_hash() const { return Copy(prev_hash_bytes); }
  Hash hash() const { return Copy(hash_bytes); }

  // A copy that owns its strings.
  RecordedEvent ToRecorded() const {
    RecordedEvent e;
    e.position = position;
    e.stream_id.assign(stream_id);
    e.version = version;
    e.type.assign(type);
    e.occurred_at.assign(occurred_at);
    e.recorded_at = recorded_at;
    e.actor.user_id.assign(actor_user_id);
    e.actor.role.assign(actor_role);
    e.actor.office.assign(actor_office);
    e.command_id.assign(command_id);
    e.payload_json.assign(payload_json);
    e.prev_hash = prev_hash();
    e.hash = hash();
    return e;
  }

  // Views into `e`, valid while `e` lives unchanged: lets code written for
  // views fold RecordedEvents too (one fold, whatever the source).
  static EventView Of(const RecordedEvent& e) {
    EventView v;
    v.position = e.position;
    v.version = e.version;
    v.recorded_at = e.recorded_at;
    v.stream_id = e.stream_id;
    v.type = e.type;
    v.occurred_at = e.occurred_at;
    v.actor_user_id = e.actor.user_id;
    v.actor_role = e.actor.role;
    v.actor_office = e.actor.office;
    v.command_id = e.command_id;
    v.payload_json = e.payload_json;
    v.prev_hash_bytes = e.prev_hash.data();
    v.hash_bytes = e.hash.data();
    return v;
  }

 private:
  static Hash Copy(const uint8_t* p) {
    Hash h{};
    if (p != nullptr) std::memcpy(h.data(), p, h.size());
    return h;
  }
};

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_EVENT_VIEW_H_
