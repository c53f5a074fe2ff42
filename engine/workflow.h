// The workflow interpreter: Decide and Apply, pure and deterministic.
//
//   Decide(def, state, command, actor, now, ctx) -> event drafts | rejection
//   Apply(def, state, event)                     -> next state
//
// Neither reads the clock or any file: time comes in as `now` and the
// command's occurred_at, the calendar and the jurisdiction tree through ctx.
// Replaying a case's events with Apply gives the same state every time.
//
// Event payloads (the JSON object stored with each event):
// - workflow events ("<workflow>.<name>"):
//     {"command": "<name>", "data": {<the validated command payload>}}
//   and on the first event of a case also
//     "workflow": {"id": "<workflow id>", "version": <n>}
// - deadline facts, computed at decide time and appended in the same write
//   as the event that caused them (never recomputed at replay):
//     deadline.started  {"deadline", "generation", "due_date" (YYYY-MM-DD, CST,
//                        ends 24:00), "due_at", "warn_at" (RFC 3339, CST),
//                        "basis" (how it was counted), "calendar_versions"
//                        ({"2025": 1, ...}; 0 = year missing), "provisional"}
//     deadline.extended {the same fields, plus "extension_days",
//                        "previous_due_date", "exceptional", "reason"}
//     deadline.cleared  {"deadline", "generation", "by_event"}
//     deadline.overdue_corrected {"deadline", "generation", "due_date",
//                        "office", "cause", "reason"}: the overdue notice is
//                        superseded (cause "late_record": a clearing event
//                        that happened in time, recorded late;
//                        "extension_granted": asked in time, granted after
//                        expiry; "calendar_changed", from the scheduler);
//                        the deadline, if still open, is not overdue
//   and from the deadline scheduler (Apply accepts them; stale generations
//   are ignored): deadline.warning / deadline.overdue (or the definition's
//   on_expiry) {"deadline", "generation"}; deadline.recomputed (new due
//   fields after a calendar change); other deadline.* facts such as
//   deadline.escalated are recorded in history and change nothing else.
// - external events (Transition::external): the fact itself as payload; an
//   opening one may carry "workflow": {"id", "version"} (without it the
//   command handler replays the case under the lowest loaded version).
// A new deadline of the same name (e.g. a new rectification deadline after a
// failed verification) has generation + 1.
#ifndef XIAOHAO_ENGINE_WORKFLOW_H_
#define XIAOHAO_ENGINE_WORKFLOW_H_

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/calendar.h"
#include "engine/jurisdiction.h"
#include "engine/workflow_definition.h"
#include "store/event.h"
#include "store/status.h"

namespace xiaohao {

// A command as a caller sends it.
struct Command {
  std::string case_id;     // "<workflow id>-<unique>", see command_handler.h
  std::string name;        // e.g. "issue_rectification_notice"
  nlohmann::json payload = nlohmann::json::object();
  std::string occurred_at;  // RFC 3339; empty = now. Never later than now.
  std::string command_id;   // idempotency key, 1..256 bytes
};

// An open deadline of a case (期限).
struct OpenDeadline {
  std::string name;
  int generation = 0;
  Date start;              // the day counting starts after (period deadlines)
  std::string period;      // e.g. "50d"; empty for date deadlines
  Date due_date;           // last day, CST; ends 24:00
  std::string due_at;      // RFC 3339 (CST) of 24:00 on due_date
  std::string warn_at;     // RFC 3339 (CST)
  bool provisional = false;
  nlohmann::json calendar_versions = nlohmann::json::object();
  int extensions = 0;
  bool warned = false;
  bool overdue = false;
  // A requested, not yet granted extension.
  std::optional<int> pending_days;
  std::string pending_reason;
  bool operator==(const OpenDeadline& o) const;
};

// A case replayed from its events.
struct CaseState {
  std::string case_id;
  std::string workflow_id;
  int workflow_version = 0;
  std::string state;           // "" before the first event
  uint64_t version = 0;        // events applied
  std::string opened_at;       // occurred_at of the first event
  std::string last_occurred_at;
  nlohmann::json facts = nlohmann::json::object();  // latest value of each data field, corrections applied
  std::map<std::string, OpenDeadline> deadlines;    // open deadlines, by name
  std::map<std::string, int> generations;           // last generation started, by name
  struct Entry {
    uint64_t version;
    std::string type;
    std::string command;  // empty for deadline.* events
  };
  std::vector<Entry> history;
  std::vector<nlohmann::json> corrections;  // {"version", "corrects_version", "fields", "reason"}
  std::vector<nlohmann::json> external;     // external facts: {"version", "type", "fact"}

  bool exists() const { return version > 0; }
  std::string office() const;      // the responsible unit (facts.office)
  std::string assignee() const;    // facts.assignee
  std::string enterprise() const;  // facts.enterprise
  // A canonical JSON view (for the service, projections and tests).
  nlohmann::json ToJson() const;
};

// An event drafted by Decide, before the store gives it a version.
struct EventDraft {
  std::string type;
  nlohmann::json payload;
};

// An event as Apply sees it.
struct CaseEvent {
  std::string stream_id;
  uint64_t version = 0;
  std::string type;
  std::string occurred_at;
  Actor actor;
  nlohmann::json payload;
};
// Parses a stored event's payload. kCorruption when it is not a JSON object.
Result<CaseEvent> CaseEventFromRecorded(const RecordedEvent& e);

// The payload of deadline.overdue_corrected (see above), with the fields
// every cause carries; callers add the cause's own ("cleared_at", ...).
nlohmann::json OverdueCorrection(const std::string& deadline, int generation, const std::string& due_date,
                                 const std::string& office, const std::string& cause, const std::string& reason);

// What Decide needs besides the definition and the state. Not owned.
struct DecideContext {
  const BusinessCalendar* calendar = nullptr;       // REQUIRED for deadlines
  const JurisdictionTree* jurisdictions = nullptr;  // REQUIRED
};

// Decides a command against a case. Errors (see engine/rejection.h):
// kRejected for workflow rules, kPermissionDenied for role and jurisdiction.
// REQUIRES: state was replayed under `def`.
Result<std::vector<EventDraft>> Decide(const WorkflowDefinition& def, const CaseState& state,
                                       const Command& command, const Actor& actor,
                                       UnixMicros now, const DecideContext& ctx);

// Applies one event. kCorruption when the event cannot belong to this case
// (wrong version order, an event type the definition does not know).
Result<CaseState> Apply(const WorkflowDefinition& def, CaseState state, const CaseEvent& event);

// Folds Apply over events, from an empty state.
Result<CaseState> Replay(const WorkflowDefinition& def, const std::vector<CaseEvent>& events);

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_WORKFLOW_H_
