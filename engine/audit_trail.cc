#include "engine/audit_trail.h"

#include "engine/command_handler.h"
#include "engine/json_scan.h"
#include "store/time_format.h"

namespace xiaohao {

Result<CaseState> CaseAsOf(EventStore& store, const WorkflowRegistry& registry, const std::string& case_id,
                           const ViewTime& time) {
  ASSIGN_OR_RETURN(auto events, store.ReadStream(case_id));
  std::vector<CaseEvent> kept;
  for (const auto& e : events) {
    if (!time.Keeps(e)) continue;
    ASSIGN_OR_RETURN(CaseEvent ce, CaseEventFromRecorded(e));
    kept.push_back(std::move(ce));
  }
  if (kept.empty()) return Status::NotFound("case " + case_id + " has no events in this view");
  // Versions must be dense for Apply: an as-at view may leave out a late
  // event in the middle, so renumber what is kept.
  for (size_t i = 0; i < kept.size(); ++i) kept[i].version = i + 1;
  ASSIGN_OR_RETURN(std::string wf, WorkflowOfCaseId(case_id));
  int version = 0;
  if (auto w = jsonscan::Member(events.front().payload_json, "workflow"))
    if (auto v = jsonscan::Member(*w, "version")) version = static_cast<int>(jsonscan::Integer(*v).value_or(0));
  const WorkflowDefinition* def = version > 0 ? registry.Find(wf, version) : registry.Latest(wf);
  if (def == nullptr) return Status::NotFound("no workflow definition " + wf + " for case " + case_id);
  return Replay(*def, kept);
}

Result<AuditTrail> BuildAuditTrail(EventStore& store, const std::string& case_id, int64_t late_after_micros) {
  ASSIGN_OR_RETURN(auto events, store.ReadStream(case_id));
  if (events.empty()) return Status::NotFound("no case " + case_id);
  AuditTrail trail;
  trail.case_id = case_id;
  for (const auto& e : events) {
    AuditEntry a;
    a.position = e.position;
    a.version = e.version;
    a.type = e.type;
    if (auto c = jsonscan::Member(e.payload_json, "command")) a.command = jsonscan::ScalarText(*c);
    a.actor = e.actor;
    a.occurred_at = e.occurred_at;
    auto t = ParseRfc3339(e.occurred_at);
    a.occurred_us = t.ok() ? t->instant : 0;
    a.recorded_at = e.recorded_at;
    a.command_id = e.command_id;
    a.hash = e.hash;
    a.prev_hash = e.prev_hash;
    a.payload_json = e.payload_json;
    a.hash_ok = EventHash(e) == e.hash;
    // The neighbours in the global log must link to this event.
    bool link = true;
    if (e.position == 1) {
      link = e.prev_hash == Hash{};
    } else {
      ASSIGN_OR_RETURN(auto prev, store.ReadLog(e.position - 1, 1));
      link = prev.size() == 1 && prev[0].hash == e.prev_hash;
    }
    ASSIGN_OR_RETURN(auto next, store.ReadLog(e.position + 1, 1));
    if (!next.empty()) link = link && next[0].prev_hash == e.hash;
    a.link_ok = link;
    a.lag_micros = a.recorded_at - a.occurred_us;
    a.late = t.ok() && a.lag_micros > late_after_micros;
    trail.chain_ok = trail.chain_ok && a.hash_ok && a.link_ok;
    trail.entries.push_back(std::move(a));
  }
  return trail;
}

}  // namespace xiaohao
