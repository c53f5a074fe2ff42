// Workflow definitions: the state machines of rectification closure as data.
//
// A definition is one JSON file in workflows/definitions/ (the shipped files
// are the examples of the format; the generated summary of each is in
// workflows/CONTRACT.md). It
// names its states, its commands (who may send them and what payload they
// carry), its transitions (state + command [+ payload condition] -> event +
// next state), its deadlines (started, cleared and extended by events; the
// escalation ladder a timer follows once one is overdue) and its settings.
//
// Rules a definition must satisfy (ParseWorkflowDefinition checks them all
// and names each problem by JSON pointer):
// - id is [a-z][a-z0-9_]{0,40} (no '-': a case id is "<workflow id>-<unique>");
//   version is an integer >= 1.
// - exactly one initial state; "voided" is reserved (added by the engine).
// - every event type is "<id>.<name>" and leads to one target state, so that
//   Apply can replay an event without the command that caused it.
// - roles are inspector, supervisor, province_approver, enterprise, admin,
//   system (auditor is read-only and may send nothing).
// - external_events lists facts appended by other components (see
//   Transition::external).
// - common_commands declares the roles for reassign, correct and void; their
//   payloads are fixed by the engine (a written reason is always required).
//
// Immutable after parsing; safe to share between threads.
#ifndef XIAOHAO_ENGINE_WORKFLOW_DEFINITION_H_
#define XIAOHAO_ENGINE_WORKFLOW_DEFINITION_H_

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/calendar.h"
#include "engine/jurisdiction.h"  // FileProblem
#include "store/status.h"

namespace xiaohao {

// Payload field types.
//   string   any string (may be empty)      text     a non-empty written text
//   date     "YYYY-MM-DD" (CST civil date)  datetime RFC 3339 with offset
//   integer  JSON integer                   number   JSON number
//   boolean  JSON true/false                enum     one of `values`
//   object   JSON object                    unit     a jurisdiction unit id
enum class FieldType {
  kString, kText, kDate, kDateTime, kInteger, kNumber, kBoolean, kEnum, kObject, kUnit
};
const char* FieldTypeName(FieldType t);

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kString;
  bool required = false;
  std::vector<std::string> values;  // for kEnum
  std::string description;          // Chinese, for the contract
};

// The engine-defined commands every workflow accepts (always with a reason).
enum class CommandKind {
  kOrdinary,
  kReassign,  // 改派: another office or person
  kCorrect,   // 更正: a superseding event; the original stays
  kVoid,      // 作废: a case opened in error
};

// A rule's own answer when its command arrives in the wrong state.
struct RejectionText {
  std::string code;
  std::string zh;
  std::string en;
};

struct CommandSpec {
  std::string name;
  std::string title;  // Chinese
  CommandKind kind = CommandKind::kOrdinary;
  std::vector<std::string> roles;
  std::vector<FieldSpec> payload;  // in declaration order
  bool opens_case = false;
  std::optional<RejectionText> wrong_state;
  const FieldSpec* FindField(const std::string& name) const;
};

struct StateSpec {
  std::string name;
  std::string title;  // Chinese
  bool initial = false;
  bool terminal = false;
};

// Payload equality conditions: all must hold (string, or enum, values).
using Condition = std::map<std::string, std::string>;

struct Transition {
  std::vector<std::string> from;  // expanded; empty when opens
  bool opens = false;             // creates the case
  std::string command;
  Condition when;
  std::string event;  // full event type, e.g. "risk_item.closed"
  std::string to;     // empty: the state does not change
  // An external event: a fact another part of the system appends (e.g. the
  // deadline scheduler's office_escalation.item_escalated), never decided
  // from a command. Its payload is the fact itself (no command/data
  // envelope); it is accepted in any state; when `opens` and the case does
  // not exist yet it opens it in the initial state.
  bool external = false;
};

// How a deadline's last day is found when an event starts it.
struct DueRule {
  enum class Kind { kPeriod, kDateField, kFixedDate };
  std::string event;  // the event that starts the deadline
  Condition when;
  Kind kind = Kind::kPeriod;
  Period period;            // kPeriod
  std::string from_field;   // kPeriod: a date field to count from (else the event's CST date)
  std::string date_field;   // kDateField: the last day, from the payload
  int month = 0, day = 0;   // kFixedDate: a day of the year given by year_field
  std::string year_field;
  int year_offset = 0;
  std::string Describe() const;  // "50d from received_on", for the contract
};

// Extension of a period deadline (seed 001 §九: requested before expiry, at
// most cap_days unless a reason is given, granted by the province bureau).
struct ExtensionRule {
  std::string request_command;
  std::string grant_command;
  std::string deny_command;  // optional
  std::string days_field = "days";
  std::string reason_field = "reason";
  int cap_days = 0;
  int max_extensions = 1;
  bool request_before_expiry = true;
};

// One rung of the escalation ladder, fired by the deadline scheduler (not by
// this engine) `after` the deadline is overdue.
struct EscalationStep {
  Period after;
  std::string action;                 // e.g. "notify_bureau", "open_office_escalation"
  std::string notify_level;           // office, county, city, province (the chain level)
};

struct DeadlineSpec {
  std::string name;
  std::string title;  // Chinese
  std::vector<DueRule> start;
  int warn_days = 0;  // warning at 00:00 CST this many days before the last day
  std::vector<std::string> clear_on;  // event types
  std::string on_expiry = "deadline.overdue";
  bool roll_rest_day = true;  // 民法典 art. 203: a rest last day moves to the next working day
  std::optional<ExtensionRule> extension;
  std::vector<EscalationStep> escalation;
};

struct WorkflowDefinition {
  std::string id;
  int version = 0;
  std::string title;     // Chinese
  std::string title_en;
  std::string source;    // the seed(s) it implements, e.g. "DOMAIN.md; seeds/002 §四(一)"
  std::string file;      // where it was loaded from (diagnostics only)
  std::vector<StateSpec> states;
  std::vector<CommandSpec> commands;
  std::vector<Transition> transitions;
  std::vector<DeadlineSpec> deadlines;
  nlohmann::json settings = nlohmann::json::object();  // documented local choices
  nlohmann::json raw;  // the file's JSON, recorded in the $workflows stream

  const CommandSpec* FindCommand(const std::string& name) const;
  const StateSpec* FindState(const std::string& name) const;
  const DeadlineSpec* FindDeadline(const std::string& name) const;
  // The transition that emits this event type (unique by the rules above).
  const Transition* TransitionForEvent(const std::string& type) const;
  std::string InitialState() const;
  // Every event type a case of this workflow may hold, workflow events first
  // then the deadline.* events, in a stable order.
  std::vector<std::string> EventTypes() const;
};

// The reserved terminal state of a voided case.
inline constexpr char kVoidedState[] = "voided";
// The roles the engine knows.
const std::vector<std::string>& KnownRoles();

// Parses and validates one definition. Every problem found is appended to
// *problems (as "<file>: <pointer>: <problem>"); returns the definition only
// when there were none.
std::optional<WorkflowDefinition> CheckWorkflowDefinition(const std::string& json_text,
                                                          const std::string& file,
                                                          std::vector<FileProblem>* problems);
// The same, with the first problem as kInvalidArgument (field = its pointer).
Result<WorkflowDefinition> ParseWorkflowDefinition(const std::string& json_text,
                                                   const std::string& file);

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_WORKFLOW_DEFINITION_H_
