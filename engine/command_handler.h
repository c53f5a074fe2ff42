// CommandHandler: a command through the store, against its case.
//
// A case is one stream. Case ids are "<workflow id>-<unique>": the workflow
// id ([a-z][a-z0-9_]*, never a '-') then '-' then a caller-chosen unique part
// of [A-Za-z0-9_.-], 1..100 bytes (e.g. "risk_item-nanbin-2025-0001" or a
// ULID). The first event of a case records the workflow id and version.
//
// Execute: read the case stream, replay it under the version it was opened
// with (the latest version for a new case), Decide, append every drafted
// event in one write with ExpectedVersion::Exact(current version) (NoStream
// for a new case) and the caller's command id.
// - A concurrent command that got there first: kVersionConflict, carrying the
//   case's current version (Status::actual_version()). Reload and retry.
// - A retry with the same command id writes nothing and answers with the
//   case as it is, duplicate = true (the id is found in the case's stream).
// - Rejections and denials: see engine/rejection.h.
//
// Thread safety: Execute may be called concurrently; the store serializes
// appends and the expected version catches races. Pointers are not owned
// and must outlive the handler.
#ifndef XIAOHAO_ENGINE_COMMAND_HANDLER_H_
#define XIAOHAO_ENGINE_COMMAND_HANDLER_H_

#include <string>
#include <vector>

#include "engine/calendar.h"
#include "engine/jurisdiction.h"
#include "engine/workflow.h"
#include "engine/workflow_registry.h"
#include "store/clock.h"
#include "store/event_store.h"

namespace xiaohao {

// The workflow id of a case id; kInvalidArgument when it is malformed.
Result<std::string> WorkflowOfCaseId(const std::string& case_id);

struct CommandOutcome {
  std::string case_id;
  uint64_t first_version = 0;  // versions this command wrote (or wrote before, when duplicate)
  uint64_t last_version = 0;
  bool duplicate = false;
  std::vector<std::string> event_types;  // what this command appended
  CaseState state;                       // the case after the command
};

class CommandHandler {
 public:
  CommandHandler(EventStore* store, const WorkflowRegistry* registry, const BusinessCalendar* calendar,
                 const JurisdictionTree* jurisdictions, const Clock* clock)
      : store_(store), registry_(registry), calendar_(calendar), jurisdictions_(jurisdictions), clock_(clock) {}

  Result<CommandOutcome> Execute(const Command& command, const Actor& actor);

  // Replays a case under its own definition version. kNotFound when absent.
  Result<CaseState> LoadCase(const std::string& case_id);

 private:
  struct Loaded {
    std::vector<RecordedEvent> events;
    const WorkflowDefinition* def = nullptr;
    CaseState state;
  };
  Result<Loaded> Load(const std::string& case_id, bool allow_new);

  EventStore* store_;
  const WorkflowRegistry* registry_;
  const BusinessCalendar* calendar_;
  const JurisdictionTree* jurisdictions_;
  const Clock* clock_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_COMMAND_HANDLER_H_
