// The supervisor and auditor reports as documents: the JSON that
// `xiaohao report ... --format json` prints and the service's GET endpoints
// answer, and the tables that become text, CSV and XLSX. The CLI
// (adapters/cli_report.cc) and the service (adapters/service.cc) both build
// their answers here, so field names, filters and their errors cannot drift
// apart. The numbers themselves come from engine/ (risk_list.h,
// supervision_rates.h, audit_trail.h, view_reader.h).
//
// Errors are kInvalidArgument with field() naming the filter as the HTTP
// query spells it ("office", "quarter", "source", "product_category",
// "enterprise", "risk_level", "state", "as_of", "as_at", "year", "late_days");
// the CLI maps them to its flags (FlagOfField).
#ifndef XIAOHAO_ADAPTERS_REPORTS_H_
#define XIAOHAO_ADAPTERS_REPORTS_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "adapters/tabular.h"
#include "engine/audit_trail.h"
#include "engine/jurisdiction.h"
#include "engine/risk_list.h"
#include "engine/supervision_rates.h"
#include "engine/view_reader.h"
#include "engine/workflow_registry.h"
#include "store/status.h"

namespace xiaohao {

struct ReportDoc {
  nlohmann::json json;        // stable field names
  std::vector<Table> tables;  // Chinese headers
};

// "YYYY-MM-DD" is the end of that day (24:00 CST, less one microsecond);
// otherwise RFC 3339 with an offset.
Result<UnixMicros> ParseViewInstant(const std::string& text, const std::string& field);
// {"as_of": RFC 3339 CST or null, "as_at": ...}
nlohmann::json ViewTimeJson(const ViewTime& t);
// The CLI flag for a field() of the errors above ("product_category" -> "--category").
std::string FlagOfField(const std::string& field);

// Checks a risk-list query's filters before any reading: the unit is in the
// tree; the quarter is like 2025Q3 (normalized to upper case); source,
// risk_level and state are values some loaded risk_item workflow version
// knows (state also "open" or "overdue"). The message lists what is accepted.
Status CheckRiskListQuery(const WorkflowRegistry& registry, const JurisdictionTree& tree, RiskListQuery* query);

// 风险清单: RiskListReportToJson plus as_of/as_at; tables: the quarterly
// table (seed 002's statistics by unit and quarter, "风险清单季度统计") and,
// with include_items, the items ("风险清单").
Result<ReportDoc> RiskListDoc(ViewReader& view, const JurisdictionTree& tree, const RiskListQuery& query,
                              const ViewTime& time);

// One case as it stood: {"as_of", "as_at", "case": CaseState::ToJson()}.
ReportDoc CaseDoc(const CaseState& state, const ViewTime& time);

// The audit trail: {"case_id", "chain_ok", "late_after_days", "entries": [...]}.
nlohmann::json AuditEntryJson(const AuditEntry& e);
ReportDoc AuditDoc(const AuditTrail& trail, double late_days);

// 监管档案: the register record and the cases naming the enterprise, by case id.
struct Dossier {
  std::string enterprise;
  std::optional<nlohmann::json> register_record;
  std::vector<CaseSummary> cases;
};
// kNotFound when the enterprise is neither in the register nor named by a case.
Result<Dossier> LoadDossier(ViewReader& view, const std::string& enterprise);
// {"as_of", "as_at", "enterprise", "register", "cases": [CaseSummaryToJson]}
ReportDoc DossierDoc(const Dossier& d, const ViewTime& time);

// Rates for a unit's subtree (empty unit: the tree's root) and a year.
// {"as_of", "as_at", "unit", "year", "online_sales_leads", "self_inspection_reports",
//  "follow_up_coverage", "inspection_frequency": [...]}
Result<ReportDoc> RatesDoc(ViewReader& view, const JurisdictionTree& tree, const std::string& unit, int year,
                           const ViewTime& time);
// The tree's first root unit ("" for an empty tree).
std::string RootUnit(const JurisdictionTree& tree);

// Plan progress: {"as_of", "as_at", "year", "unit", "rows": [{"office", "name",
// "quarter", "planned_trading_enterprise", ...}]}. quarter 0 = all four;
// `office_shown`, when given, keeps only the offices it accepts.
// ParsePlanQuarter: "2025Q3" within the plan's year -> 3.
Status ParsePlanQuarter(const std::string& text, const InspectionPlan& plan, int* quarter);
Result<ReportDoc> PlanDoc(ViewReader& view, const InspectionPlan& plan, int quarter, const ViewTime& time,
                          const std::function<bool(const std::string& office)>& office_shown = nullptr);

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_REPORTS_H_
