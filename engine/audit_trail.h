// Auditors' views of one case: its state as of a past instant, and its whole
// history with who recorded what, when it happened and when it was recorded,
// each event checked against the hash chain.
#ifndef XIAOHAO_ENGINE_AUDIT_TRAIL_H_
#define XIAOHAO_ENGINE_AUDIT_TRAIL_H_

#include <string>
#include <vector>

#include "engine/view_reader.h"
#include "engine/workflow.h"
#include "engine/workflow_registry.h"
#include "store/event_store.h"

namespace xiaohao {

// The case replayed (engine/workflow.h Replay, every fact) from the events
// the view keeps. kNotFound when the case has no kept event.
Result<CaseState> CaseAsOf(EventStore& store, const WorkflowRegistry& registry, const std::string& case_id,
                           const ViewTime& time);

struct AuditEntry {
  uint64_t position = 0;
  uint64_t version = 0;
  std::string type;
  std::string command;  // payload "command" of workflow events
  Actor actor;
  std::string occurred_at;   // business time, as given
  UnixMicros occurred_us = 0;
  UnixMicros recorded_at = 0;
  std::string command_id;
  Hash hash{};
  Hash prev_hash{};
  bool hash_ok = false;  // SHA-256 of its envelope is its stored hash
  bool link_ok = false;  // its prev_hash is the hash of the event before it, and the next event links to it
  bool late = false;     // recorded more than the threshold after it occurred
  int64_t lag_micros = 0;
  std::string payload_json;
};

struct AuditTrail {
  std::string case_id;
  std::vector<AuditEntry> entries;
  bool chain_ok = true;  // every entry's hash and links hold
};

// kNotFound when the case has no events. `late_after`: the lag from business
// time to record time beyond which an entry is flagged (e.g. 3 days).
Result<AuditTrail> BuildAuditTrail(EventStore& store, const std::string& case_id, int64_t late_after_micros);

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_AUDIT_TRAIL_H_
