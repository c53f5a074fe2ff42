#include "engine/command_handler.h"

#include <algorithm>

#include "engine/rejection.h"
#include "store/time_format.h"

namespace xiaohao {

Result<std::string> WorkflowOfCaseId(const std::string& case_id) {
  size_t dash = case_id.find('-');
  auto bad = [&]() {
    return Status::InvalidArgument("case id \"" + case_id +
                                       "\" is not \"<workflow id>-<unique>\" (unique: [A-Za-z0-9_.-]{1,100})",
                                   "/case_id");
  };
  if (dash == std::string::npos || dash == 0 || case_id.size() - dash - 1 > 100 || dash + 1 == case_id.size())
    return bad();
  for (size_t i = 0; i < dash; ++i) {
    char c = case_id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return bad();
  }
  for (size_t i = dash + 1; i < case_id.size(); ++i) {
    char c = case_id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
          c == '-'))
      return bad();
  }
  return case_id.substr(0, dash);
}

Result<CommandHandler::Loaded> CommandHandler::Load(const std::string& case_id, bool allow_new) {
  ASSIGN_OR_RETURN(std::string wf, WorkflowOfCaseId(case_id));
  Loaded l;
  ASSIGN_OR_RETURN(l.events, store_->ReadStream(case_id));
  if (l.events.empty()) {
    if (!allow_new) return Status::NotFound("no case " + case_id);
    l.def = registry_->Latest(wf);
    if (l.def == nullptr) return Status::NotFound("no workflow \"" + wf + "\" for case " + case_id);
    return l;
  }
  ASSIGN_OR_RETURN(CaseEvent first, CaseEventFromRecorded(l.events.front()));
  const auto& w = first.payload.contains("workflow") ? first.payload["workflow"] : nlohmann::json();
  std::string id = wf;
  int version = 0;
  if (w.is_object() && w.contains("id") && w.contains("version")) {
    id = w["id"].is_string() ? w["id"].get<std::string>() : "";
    version = w["version"].is_number_integer() ? w["version"].get<int>() : 0;
  } else {
    // A case opened by an external fact that does not name its version (the
    // deadline scheduler's office_escalation items): the lowest loaded
    // version that accepts that fact as an opening, which never changes once
    // recorded in $workflows.
    for (const WorkflowDefinition* d : registry_->All()) {
      const Transition* t = d->id == wf ? d->TransitionForEvent(first.type) : nullptr;
      if (t && t->external && t->opens) {
        version = d->version;
        break;
      }
    }
    if (version == 0) return Status::Corruption("case " + case_id + ": first event does not name its workflow");
  }
  l.def = registry_->Find(id, version);
  if (l.def == nullptr)
    return Status::FailedPrecondition("case " + case_id + " was opened under " + id + " version " +
                                      std::to_string(version) + ", which is not loaded (load the $workflows stream)");
  std::vector<CaseEvent> events;
  for (const auto& r : l.events) {
    ASSIGN_OR_RETURN(CaseEvent e, CaseEventFromRecorded(r));
    events.push_back(std::move(e));
  }
  ASSIGN_OR_RETURN(l.state, Replay(*l.def, events));
  return l;
}

Result<CaseState> CommandHandler::LoadCase(const std::string& case_id) {
  ASSIGN_OR_RETURN(Loaded l, Load(case_id, false));
  return l.state;
}

Result<CommandOutcome> CommandHandler::Execute(const Command& command, const Actor& actor) {
  if (command.command_id.empty() || command.command_id.size() > 256)
    return Status::InvalidArgument("a command needs a command id of 1..256 bytes", "/command_id");
  ASSIGN_OR_RETURN(Loaded l, Load(command.case_id, true));

  CommandOutcome out;
  out.case_id = command.case_id;
  // A retry of a command this case already holds: answer, write nothing.
  for (const auto& e : l.events) {
    if (e.command_id != command.command_id) continue;
    if (out.first_version == 0) out.first_version = e.version;
    out.last_version = e.version;
    out.event_types.push_back(e.type);
  }
  if (out.first_version != 0) {
    out.duplicate = true;
    out.state = std::move(l.state);
    return out;
  }

  UnixMicros now = clock_->Now();
  DecideContext ctx{calendar_, jurisdictions_};
  ASSIGN_OR_RETURN(auto drafts, Decide(*l.def, l.state, command, actor, now, ctx));

  std::string occurred_at = command.occurred_at.empty() ? FormatRfc3339Cst(now) : command.occurred_at;
  AppendRequest req;
  req.command_id = command.command_id;
  for (const auto& d : drafts) {
    NewEvent ev;
    ev.stream_id = command.case_id;
    ev.type = d.type;
    ev.occurred_at = occurred_at;
    ev.actor = actor;
    ev.payload_json = d.payload.dump();
    req.events.push_back(std::move(ev));
  }
  req.expectations.push_back({command.case_id, l.state.exists() ? ExpectedVersion::Exact(l.state.version)
                                                                : ExpectedVersion::NoStream()});
  auto appended = store_->Append(std::move(req));
  if (!appended.ok()) {
    Status s = appended.status();
    if (s.code() == StatusCode::kVersionConflict)
      return s.WithContext("case " + command.case_id + " changed since version " + std::to_string(l.state.version) +
                           "; reload and retry");
    return s;
  }
  if (appended->duplicate) {
    // A concurrent retry won the race: read back what it wrote.
    ASSIGN_OR_RETURN(Loaded again, Load(command.case_id, false));
    for (const auto& e : again.events) {
      if (e.command_id != command.command_id) continue;
      if (out.first_version == 0) out.first_version = e.version;
      out.last_version = e.version;
      out.event_types.push_back(e.type);
    }
    out.duplicate = true;
    out.state = std::move(again.state);
    return out;
  }
  // The live state: the drafts applied in order, exactly as a replay would.
  CaseState s = std::move(l.state);
  out.first_version = s.version + 1;
  for (const auto& d : drafts) {
    CaseEvent e;
    e.stream_id = command.case_id;
    e.version = s.version + 1;
    e.type = d.type;
    e.occurred_at = occurred_at;
    e.actor = actor;
    e.payload = d.payload;
    ASSIGN_OR_RETURN(s, Apply(*l.def, std::move(s), e));
    out.event_types.push_back(d.type);
  }
  out.last_version = s.version;
  out.state = std::move(s);
  return out;
}

}  // namespace xiaohao
