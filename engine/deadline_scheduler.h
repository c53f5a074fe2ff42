// DeadlineScheduler: fires warnings, overdue notices and escalations, exactly
// once per deadline, generation and stage, across crashes and restarts.
//
// RunDue(now) is the whole of the logic and is deterministic in `now`: it asks
// the DeadlineIndex what is due, oldest first, and appends to each case
//   deadline.warning   at warn_at   (skipped when the deadline itself has passed)
//   <on_expiry>        at due_at    (deadline.overdue unless the definition says otherwise)
//   deadline.escalated at each rung of the definition's escalation ladder,
//                      naming the supervising unit found in the jurisdiction
//                      tree (absent levels skipped); a rung whose action is
//                      open_office_escalation also records the item on the
//                      office's office_escalation case, in the same atomic append.
// Each append's command id names the case, the deadline, its generation and
// the due date and the stage ("deadline/<case>/<name>/g<gen>/<due date>/overdue"), so a retry after a
// crash writes nothing; the index moves on in the same write as the event.
// An event's occurred_at is the instant the stage fell due (business time);
// recorded_at is when it was written.
//
// Thread safety: RunDue and Recompute must not run concurrently with each
// other (the service calls them from one strand); both are safe alongside
// commands, whose appends they meet through expected versions.
#ifndef XIAOHAO_ENGINE_DEADLINE_SCHEDULER_H_
#define XIAOHAO_ENGINE_DEADLINE_SCHEDULER_H_

#include <string>

#include "engine/calendar.h"
#include "engine/command_handler.h"
#include "engine/deadline_index.h"
#include "engine/jurisdiction.h"
#include "engine/workflow_registry.h"
#include "store/clock.h"
#include "store/event_store.h"

namespace xiaohao {

struct SchedulerDeps {
  EventStore* store = nullptr;
  DeadlineIndex* index = nullptr;
  CommandHandler* handler = nullptr;
  const WorkflowRegistry* registry = nullptr;
  const BusinessCalendar* calendar = nullptr;
  const JurisdictionTree* jurisdictions = nullptr;
};

struct RunReport {
  size_t warnings = 0;
  size_t overdue = 0;
  size_t escalations = 0;
  size_t skipped = 0;  // stale index entries repaired, or cases that moved on meanwhile
  size_t total() const { return warnings + overdue + escalations; }
};

class DeadlineScheduler {
 public:
  explicit DeadlineScheduler(SchedulerDeps deps) : d_(deps) {}

  // Fires every stage due at or before `now`, oldest first, until none is left.
  Result<RunReport> RunDue(UnixMicros now);

  // Recomputes every open deadline whose calendar has changed since it was
  // computed: a provisional one whose year is now loaded, or one computed
  // with an older version of a year's file. Each change is written to its
  // case as deadline.recomputed (with the old and new due dates and the
  // calendar versions), so the history shows where each deadline came from.
  // `now` is the recorded business time of the recomputation.
  Result<size_t> RecomputeForCalendar(UnixMicros now);

 private:
  Status FireOne(const IndexedDeadline& d, UnixMicros now, RunReport* report);
  Result<UnixMicros> EscalationInstant(const IndexedDeadline& d, const Period& after) const;
  std::string NotifyUnit(const std::string& office, const std::string& level) const;

  SchedulerDeps d_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_DEADLINE_SCHEDULER_H_
