#include "engine/deadline_scheduler.h"

#include <spdlog/spdlog.h>

#include "store/time_format.h"

namespace xiaohao {
namespace {

using json = nlohmann::json;

constexpr size_t kBatch = 256;
constexpr int kConflictRetries = 8;

const Actor kSystemActor{"scheduler", "system", ""};

// Names the case, the deadline, its generation, the due date it fires for
// (an extension or recomputation moves it, and the moved deadline fires
// again) and the stage.
std::string CommandId(const IndexedDeadline& d, const std::string& stage) {
  return "deadline/" + d.case_id + "/" + d.name + "/g" + std::to_string(d.generation) + "/" + d.due_date +
         "/" + stage;
}

// The last day a date deadline was set to, before any roll-over.
std::optional<Date> LastDayOf(const json& facts) {
  if (facts.contains("last_day") && facts["last_day"].is_string()) {
    auto d = Date::Parse(facts["last_day"].get<std::string>());
    if (d.ok()) return *d;
  }
  std::string basis = facts.value("basis", std::string());
  if (basis.size() >= 10) {
    auto d = Date::Parse(basis.substr(basis.size() - 10));
    if (d.ok()) return *d;
  }
  return std::nullopt;
}

}  // namespace

std::string DeadlineScheduler::NotifyUnit(const std::string& office, const std::string& level) const {
  // The nearest unit in the supervising chain at the requested level or, when
  // that level is absent (石柱县 reports to Chongqing directly), the next above.
  static const std::vector<std::string> kLevels = {"province", "city", "county", "office"};
  int want = 3;
  for (int i = 0; i < 4; ++i)
    if (kLevels[i] == level) want = i;
  if (d_.jurisdictions == nullptr || office.empty()) return office;
  for (const std::string& id : d_.jurisdictions->Chain(office)) {
    const JurisdictionUnit* u = d_.jurisdictions->Find(id);
    if (u != nullptr && static_cast<int>(u->level) <= want) return id;
  }
  auto chain = d_.jurisdictions->Chain(office);
  return chain.empty() ? office : chain.back();
}

Result<UnixMicros> DeadlineScheduler::EscalationInstant(const IndexedDeadline& d, const Period& after) const {
  if (after.count == 0) return d.due_at;
  auto due = Date::Parse(d.due_date);
  if (!due.ok()) return due.status();
  Result<Date> end = d_.calendar ? d_.calendar->PeriodEnd(*due, after)
                                 : Result<Date>(Status::FailedPrecondition("no calendar"));
  if (!end.ok()) {
    if (end.status().code() != StatusCode::kFailedPrecondition) return end.status();
    end = BusinessCalendar::ProvisionalPeriodEnd(*due, after);
  }
  return end->EndInstant();
}

Result<RunReport> DeadlineScheduler::RunDue(UnixMicros now) {
  RunReport report;
  for (;;) {
    ASSIGN_OR_RETURN(auto due, d_.index->Due(now, kBatch));
    if (due.empty()) break;
    size_t before = report.total() + report.skipped;
    for (const IndexedDeadline& d : due) RETURN_IF_ERROR(FireOne(d, now, &report));
    if (report.total() + report.skipped == before)
      return Status::Internal("deadline scheduler made no progress at " + FormatRfc3339Utc(now));
  }
  return report;
}

Status DeadlineScheduler::FireOne(const IndexedDeadline& d, UnixMicros now, RunReport* report) {
  for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
    auto loaded = d_.handler->LoadCase(d.case_id);
    if (!loaded.ok()) return loaded.status().WithContext("deadline scheduler loading " + d.case_id);
    const CaseState& state = *loaded;
    auto open = state.deadlines.find(d.name);
    if (open == state.deadlines.end() || open->second.generation != d.generation) {
      // The log does not support this entry; it cannot fire. Repair and say so.
      spdlog::warn("deadline index: {} {} g{} is not open in the case; entry removed", d.case_id, d.name,
                   d.generation);
      RETURN_IF_ERROR(d_.index->Remove(d));
      report->skipped++;
      return Status::OK();
    }
    const WorkflowDefinition* def = d_.registry->Find(state.workflow_id, state.workflow_version);
    if (def == nullptr)
      return Status::FailedPrecondition("workflow " + state.workflow_id + " v" +
                                        std::to_string(state.workflow_version) + " is not loaded");
    const DeadlineSpec* spec = def->FindDeadline(d.name);
    if (spec == nullptr)
      return Status::Corruption("case " + d.case_id + ": deadline " + d.name + " not in its definition");

    json base = {{"deadline", d.name},
                 {"generation", d.generation},
                 {"due_date", d.due_date},
                 {"due_at", FormatRfc3339Cst(d.due_at)},
                 {"office", state.office()},
                 {"assignee", state.assignee()},
                 {"enterprise", state.enterprise()},
                 {"workflow", state.workflow_id},
                 {"provisional", d.provisional}};
    AppendRequest req;
    req.expectations.push_back({d.case_id, ExpectedVersion::Exact(state.version)});
    Actor actor = kSystemActor;
    actor.office = state.office();
    auto add = [&](const std::string& stream, const std::string& type, UnixMicros at, json payload) {
      req.events.push_back({stream, type, FormatRfc3339Cst(at), actor, payload.dump()});
    };
    // The next escalation rung after `step` (1-based), if the ladder has one.
    auto next_rung = [&](json& p, size_t step) -> Status {
      if (step <= spec->escalation.size()) {
        ASSIGN_OR_RETURN(UnixMicros at, EscalationInstant(d, spec->escalation[step - 1].after));
        p["next_escalation_at"] = FormatRfc3339Cst(at);
        p["next_escalation_step"] = step;
      } else {
        p["next_escalation_at"] = nullptr;
      }
      return Status::OK();
    };
    size_t* counter = nullptr;
    if (d.stage == IndexedDeadline::Stage::kWarning && now < d.due_at) {
      req.command_id = CommandId(d, "warning");
      add(d.case_id, "deadline.warning", d.warn_at, base);
      counter = &report->warnings;
    } else if (d.stage != IndexedDeadline::Stage::kEscalation) {
      // Overdue; a warning whose deadline has already passed is not sent.
      req.command_id = CommandId(d, "overdue");
      json p = base;
      RETURN_IF_ERROR(next_rung(p, 1));
      add(d.case_id, spec->on_expiry, d.due_at, p);
      counter = &report->overdue;
    } else {
      size_t step = static_cast<size_t>(d.escalation_step);
      if (step < 1 || step > spec->escalation.size()) {
        RETURN_IF_ERROR(d_.index->Remove(d));
        report->skipped++;
        return Status::OK();
      }
      const EscalationStep& rung = spec->escalation[step - 1];
      req.command_id = CommandId(d, "escalation-" + std::to_string(step));
      json p = base;
      p["step"] = step;
      p["action"] = rung.action;
      p["notify_level"] = rung.notify_level;
      std::string unit = NotifyUnit(state.office(), rung.notify_level);
      p["notify_unit"] = unit;
      if (d_.jurisdictions)
        if (const JurisdictionUnit* u = d_.jurisdictions->Find(unit)) p["notify_unit_name"] = u->name;
      RETURN_IF_ERROR(next_rung(p, step + 1));
      add(d.case_id, "deadline.escalated", d.next_at, p);
      if (rung.action == "open_office_escalation" && !state.office().empty()) {
        // 监管责任落实 (seed 000 §五(三)): the lagging office's own escalation case
        // records the item, in the same atomic append.
        json item = {{"case_id", d.case_id},   {"deadline", d.name},      {"generation", d.generation},
                     {"step", step},           {"due_date", d.due_date},  {"office", state.office()},
                     {"notify_unit", unit},    {"enterprise", state.enterprise()}};
        // The office's escalation case may not exist yet: name the workflow
        // version it opens under, as every first event does.
        if (const WorkflowDefinition* oe = d_.registry->Latest("office_escalation"))
          item["workflow"] = {{"id", oe->id}, {"version", oe->version}};
        add("office_escalation-" + state.office(), "office_escalation.item_escalated", d.next_at, item);
      }
      counter = &report->escalations;
    }
    auto r = d_.store->Append(req);
    if (r.ok() && r->duplicate) {
      // The index moves in the same write as the event, so an index entry
      // still pointing at a stage already written means two stages share a
      // command id: stop rather than loop.
      return Status::Internal("deadline scheduler: " + req.command_id + " was already written");
    }
    if (r.ok()) {
      (*counter)++;
      return Status::OK();
    }
    if (r.status().code() != StatusCode::kVersionConflict) return r.status().WithContext("deadline scheduler");
    // A command reached the case first: reload and decide again.
  }
  return Status::FailedPrecondition("deadline scheduler: case " + d.case_id +
                                    " kept changing; will retry on the next run");
}

Result<size_t> DeadlineScheduler::RecomputeForCalendar(UnixMicros now) {
  if (d_.calendar == nullptr) return Status::FailedPrecondition("no calendar loaded");
  // Collect first: appending while scanning would move entries under the scan.
  std::vector<IndexedDeadline> stale;
  RETURN_IF_ERROR(d_.index->ForEach([&](const IndexedDeadline& d) {
    bool changed = d.provisional;
    const json& versions = d.facts.value("calendar_versions", json::object());
    for (auto it = versions.begin(); it != versions.end() && !changed; ++it) {
      int year = std::atoi(it.key().c_str());
      if (it.value().is_number_integer() && d_.calendar->VersionOf(year) != it.value().get<int>())
        changed = true;
    }
    if (changed) stale.push_back(d);
    return true;
  }));
  size_t written = 0;
  for (const IndexedDeadline& d : stale) {
    auto loaded = d_.handler->LoadCase(d.case_id);
    if (!loaded.ok()) return loaded.status();
    const WorkflowDefinition* def = d_.registry->Find(loaded->workflow_id, loaded->workflow_version);
    const DeadlineSpec* spec = def ? def->FindDeadline(d.name) : nullptr;
    if (spec == nullptr) continue;
    RollOverPolicy policy;
    policy.roll_rest_day = spec->roll_rest_day;
    Result<Date> due = Status::FailedPrecondition("unknown basis");
    Date from, to;
    std::string period = d.facts.value("period", std::string());
    if (!period.empty() && d.facts.value("start", json()).is_string()) {
      auto start = Date::Parse(d.facts["start"].get<std::string>());
      auto p = Period::Parse(period);
      if (!start.ok() || !p.ok()) continue;
      from = *start;
      due = d_.calendar->PeriodEnd(*start, *p, policy);
      // An extension counts from the same start (DOMAIN.md): extended periods
      // are recorded with their total period, so this holds for them too.
    } else if (auto last = LastDayOf(d.facts)) {
      from = *last;
      due = spec->roll_rest_day ? d_.calendar->FixedDateEnd(*last, policy) : Result<Date>(*last);
    } else {
      continue;
    }
    if (!due.ok()) {
      if (due.status().code() == StatusCode::kFailedPrecondition) continue;  // still missing: stays provisional
      return due.status();
    }
    to = *due;
    json versions = json::object();
    for (int y = std::min(from, to).Year(); y <= std::max(from, to).Year(); ++y)
      versions[std::to_string(y)] = d_.calendar->VersionOf(y);
    if (due->ToString() == d.due_date && !d.provisional && versions == d.facts.value("calendar_versions", json()))
      continue;
    json p = d.facts;
    p["previous_due_date"] = d.due_date;
    p["previous_calendar_versions"] = d.facts.value("calendar_versions", json::object());
    p["due_date"] = due->ToString();
    p["due_at"] = FormatRfc3339Cst(due->EndInstant());
    int warn_days = spec->warn_days;
    p["warn_at"] = FormatRfc3339Cst(CstMidnight(due->days - warn_days));
    p["calendar_versions"] = versions;
    p["provisional"] = false;
    p["reason"] = "holiday calendar changed; due date recomputed";
    AppendRequest req;
    req.command_id = "deadline/" + d.case_id + "/" + d.name + "/g" + std::to_string(d.generation) +
                     "/recomputed/" + versions.dump();
    Actor actor = kSystemActor;
    actor.office = loaded->office();
    req.events.push_back({d.case_id, "deadline.recomputed", FormatRfc3339Cst(now), actor, p.dump()});
    // An amended arrangement (DOMAIN.md: it happened in 2015, 2019 and
    // 2020) can move a last day that had passed into the future: under the
    // calendar in force the deadline was not missed, so its overdue notice
    // is superseded, visibly, and it can fire again on the new date.
    if (auto open = loaded->deadlines.find(d.name);
        open != loaded->deadlines.end() && open->second.generation == d.generation && open->second.overdue &&
        now < due->EndInstant()) {
      json c = OverdueCorrection(d.name, d.generation, d.due_date, loaded->office(), "calendar_changed",
                                 "节假日安排变更，期限由 " + d.due_date + " 改为 " + due->ToString() +
                                     "，尚未届满，逾期记录作废 | the holiday calendar changed: the deadline now ends " +
                                     due->ToString() + ", which has not passed; the overdue notice is superseded");
      c["recomputed_due_date"] = due->ToString();
      req.events.push_back({d.case_id, "deadline.overdue_corrected", FormatRfc3339Cst(now), actor, c.dump()});
    }
    req.expectations.push_back({d.case_id, ExpectedVersion::Exact(loaded->version)});
    auto r = d_.store->Append(req);
    if (!r.ok() && r.status().code() != StatusCode::kVersionConflict) return r.status();
    if (r.ok() && !r->duplicate) ++written;
  }
  return written;
}

}  // namespace xiaohao
