// The risk-list (风险清单) spreadsheet format of `xiaohao import risk-list`:
// its columns, and how a row becomes the commands that open its risk_item
// case (workflows/definitions/risk_item.json).
//
// A row becomes `open`, then `assign` when 责任人 is filled, then
// `issue_rectification_notice` when the three notice columns are filled.
// Rows whose 状态 says the item went further (rectification reported,
// verified, closed 销号, referred) are refused: closure needs a passed
// follow-up verification (method, date, findings) that a list does not
// record, and inventing those facts would put in the audit record something
// no one recorded. Such items are imported while open, or stay in the
// archive; later steps go through the service.
//
// Checking is in two steps so nothing is written unless every row passes:
// ParseRiskList (the file alone: headers, values, duplicates, office names
// against the tree) then DecideRiskListRows (the workflow engine's own
// Decide and Apply, as CommandHandler runs them for a new case: payload
// validation, role and jurisdiction of the importing actor, dates).
// Both are pure: no store, no clock, no files (the fuzz target runs them).
#ifndef XIAOHAO_ADAPTERS_RISK_LIST_CSV_H_
#define XIAOHAO_ADAPTERS_RISK_LIST_CSV_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/calendar.h"
#include "engine/jurisdiction.h"
#include "engine/workflow.h"
#include "store/event.h"

namespace xiaohao {

struct RiskListColumn {
  std::string field;                // English name; also accepted as a header
  std::string header;               // the Chinese header a regulator's sheet has
  std::vector<std::string> aliases;  // other Chinese headers accepted
  bool required = false;
  std::string help;                 // what goes in it (for --help and messages)
};
// In the order a sample sheet has them.
const std::vector<RiskListColumn>& RiskListColumns();

// One problem of one row: what is wrong and how to fix it.
struct RowProblem {
  int row = 0;         // the spreadsheet's row number (1 = the header)
  std::string column;  // "C 发现日期 (found_on)", or empty for the whole row
  std::string problem;
  // "row 3, column C 发现日期 (found_on): ..."
  std::string ToString() const;
};

struct RiskListFileRow {
  int row = 0;
  std::string external_id;  // 风险编号, the regulator's own id
  std::string case_id;      // derived from external_id only (see CaseIdForExternalId)
  std::string office;       // unit id
  std::string enterprise;
  std::vector<Command> commands;  // open first; occurred_at set, command_id empty
};

struct RiskListFile {
  std::vector<RiskListFileRow> rows;
  std::vector<RowProblem> problems;  // in row order; empty when every row passed
  std::vector<std::string> ignored_headers;  // columns the format does not know (序号, 备注, ...)
  // field -> how a message names that column ("C 发现日期 (found_on)").
  std::map<std::string, std::string> column_names;
};

// Reads and checks a whole file (UTF-8, RFC 4180; see adapters/csv.h). Every
// problem is listed, not only the first. `today` (CST) bounds the dates.
RiskListFile ParseRiskList(std::string_view text, const JurisdictionTree& tree, Date today);

// "risk_item-rl-<external id>" when the id is [A-Za-z0-9_.-]{1,64}, else
// "risk_item-rlh-<first 32 hex digits of its SHA-256>": the same item always
// lands in the same case, whichever file or row it comes from.
std::string CaseIdForExternalId(const std::string& external_id);

// Decides each row's commands against a new case of `def`, exactly as
// CommandHandler::Execute does, and fills (*events)[i] with row i's events
// (stream = its case id, actor, occurred_at, payload). Refusals become
// problems naming the row and column; a refused row's events are left
// empty. `progress`, when given, is called after each row with the number
// of rows done. REQUIRES: events->size() == file.rows.size().
void DecideRiskListRows(const WorkflowDefinition& def, const RiskListFile& file, const Actor& actor,
                        UnixMicros now, const DecideContext& ctx, std::vector<std::vector<NewEvent>>* events,
                        std::vector<RowProblem>* problems,
                        const std::function<void(size_t rows_done)>& progress = nullptr);

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_RISK_LIST_CSV_H_
