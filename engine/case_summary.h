// CaseSummary: what the supervisor views need of one case, folded from its
// events incrementally, so that a million cases fit a projection that never
// replays a case's whole history (engine/workflow.h's Replay does that, for
// one case at a time, with every fact).
//
// It holds the case's state (by the workflow definition's transitions),
// its unit (facts.office, after reassignments), the facts the reports filter
// on (enterprise, source, product category, risk level, and for the other
// workflows subject type, dates, report year, result), the CST day it was
// opened and closed (销号), and its open deadlines with their overdue marks.
//
// Folding rules (payloads as in engine/workflow.h):
// - the first event of a stream names the workflow ("workflow" member, or the
//   case id's prefix); streams starting with '$' are not cases;
// - workflow events merge the facts of interest from "data"; "reassigned"
//   sets the office, "corrected" merges "fields"; the state follows the
//   transition of the event type (voided is final);
// - deadline.started/extended/recomputed open a deadline (not overdue);
//   deadline.cleared closes it; any other deadline.* event that is not a
//   warning or an escalation marks it overdue (the on_expiry event). Events of
//   an older generation are ignored.
// - opened_day / closed_day: CST day of the opening event's and of the
//   closure's occurred_at (business time).
//
// The binary encoding (Encode/Decode) is private to the projection keys
// (engine/risk_projection.h); it starts with a version byte.
#ifndef XIAOHAO_ENGINE_CASE_SUMMARY_H_
#define XIAOHAO_ENGINE_CASE_SUMMARY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/workflow_registry.h"
#include "store/event.h"
#include "store/event_view.h"
#include "store/status.h"

namespace xiaohao {

inline constexpr int64_t kNoDay = INT64_MIN;

struct CaseSummary {
  struct Deadline {
    std::string name;
    int generation = 0;
    bool overdue = false;
  };
  std::string case_id;
  std::string workflow;  // workflow id; empty until the opening event is seen
  int workflow_version = 0;
  std::string state;
  std::string office;
  std::string enterprise;
  std::string source;
  std::string product_category;
  std::string risk_level;
  int64_t opened_day = kNoDay;  // CST days since 1970-01-01
  int64_t closed_day = kNoDay;  // set while state == "closed"
  uint64_t version = 0;         // events folded
  uint64_t last_position = 0;
  bool ever_overdue = false;    // some deadline of it went overdue, at any time
  bool verification_done = false;      // a follow-up verification (passed or failed) happened
  bool rectification_reported = false; // the enterprise reported rectification at least once
  std::vector<Deadline> deadlines;     // open ones
  // Facts of the other workflows: subject_type, inspection_type, inspected_on,
  // unit_type, report_year, received_on, submitted_on, result, found_on.
  std::map<std::string, std::string> extra;

  bool exists() const { return !workflow.empty(); }
  bool overdue() const;  // an open deadline is overdue
  bool terminal() const { return state == "closed" || state == "referred" || state == "voided" ||
                                 state == "reported" || state == "published" || state == "returned" ||
                                 state == "reviewed" || state == "resolved"; }
  std::string Extra(const std::string& key) const;

  std::string Encode() const;
  static Result<CaseSummary> Decode(const std::string& bytes);
  bool operator==(const CaseSummary& o) const;
};

// Folds one event of the case's stream into *s. Unknown workflows and event
// types leave the summary unchanged (the projection is a view, not a judge:
// the command handler validated the events). Returns true when *s changed.
// REQUIRES: events of one stream in version order.
bool FoldCaseEvent(const WorkflowRegistry& registry, const RecordedEvent& e, CaseSummary* s);
// The same fold over an event read in place (EventStore::ScanLogRaw); both
// forms give the same summary.
bool FoldCaseEvent(const WorkflowRegistry& registry, const EventView& e, CaseSummary* s);

// "2025Q3" for a CST day; "" for kNoDay.
std::string QuarterOfDay(int64_t day);
// Parses "2025Q3" (also "2025q3"); false when malformed.
bool ParseQuarter(const std::string& text, int* year, int* quarter);
// "YYYY-MM-DD" of a CST day.
std::string DayText(int64_t day);
// CST day of a "YYYY-MM-DD" text; kNoDay when malformed.
int64_t DayFromText(const std::string& text);

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_CASE_SUMMARY_H_
