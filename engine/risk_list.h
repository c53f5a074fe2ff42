// The risk list (风险清单) report: per unit and quarter, the risk items
// opened, closed (销号), referred, still open and overdue, the closure rate
// (closed / opened) and the median days to close; rolled up along the
// jurisdiction tree (an item counts for its unit and every unit above it).
//
// An item belongs to the quarter of its opening business date in CST, and to
// its unit as it stands (after reassignments). Voided items are left out.
// Without filters, or filtered by exactly one of source, risk level and
// product category, the report reads the projection's buckets only (fast at
// a million cases); with other filters, several at once, or the items asked
// for, it reads every case summary.
#ifndef XIAOHAO_ENGINE_RISK_LIST_H_
#define XIAOHAO_ENGINE_RISK_LIST_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/jurisdiction.h"
#include "engine/view_reader.h"

namespace xiaohao {

struct RiskFilter {
  std::string source;            // inspection | sampling | adverse_event | online_sales | complaint | public_opinion
  std::string product_category;
  std::string enterprise;
  std::string risk_level;        // low | medium | high
  std::string state;             // a risk_item state, or "open" / "overdue"
  bool empty() const {
    return source.empty() && product_category.empty() && enterprise.empty() && risk_level.empty() && state.empty();
  }
  bool Matches(const CaseSummary& s) const;
};

struct RiskListQuery {
  std::string unit;     // the subtree to report; empty = every root
  std::string quarter;  // "2025Q3"; empty = every quarter with items
  RiskFilter filter;
  bool include_items = false;  // also list the matching items
};

struct RiskListRow {
  std::string unit;
  std::string unit_name;
  std::string level;  // province | city | county | office
  int depth = 0;      // below the query's unit
  std::string quarter;
  RiskCounts counts;
};

struct RiskListReport {
  std::vector<RiskListRow> rows;   // tree order (parents first, children by id), then quarter
  std::vector<CaseSummary> items;  // when include_items: matching items, by case id
  std::string basis;               // ViewReader::basis()
  uint64_t position = 0;
};

// kInvalidArgument for an unknown unit or a malformed quarter.
Result<RiskListReport> BuildRiskList(ViewReader& view, const JurisdictionTree& tree, const RiskListQuery& query);

// The JSON shape shared by `xiaohao report risk-list --format json` and
// GET /v1/risk-list: {"basis", "position", "rows": [...], "items": [...]}
// (items only when the query asked for them). Field names are stable.
nlohmann::json CaseSummaryToJson(const CaseSummary& s);
nlohmann::json RiskListReportToJson(const RiskListReport& r, bool with_items);

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_RISK_LIST_H_
