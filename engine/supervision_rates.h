// The rates the notices demand, and inspection plan progress, over a view
// (engine/view_reader.h) and the enterprise register it holds.
//
// Rates for a unit's subtree and a year Y:
// - online-sales leads (网络销售监测信息) received in Y: answered, and answered
//   without their deadline ever going overdue (target 100%, seed 003 §三(二)3);
// - self-inspection reports (自查报告) for the year Y-1, due in Y: expected =
//   the register's enterprises and use units in the subtree (or, with no
//   register there, the duties opened), received = those with a submitted or
//   reviewed report (target 100%, seed 003 §三(三)4);
// - follow-up coverage (跟踪检查覆盖率): risk items whose rectification was
//   reported, and of them those with a follow-up verification (target 100%);
// - inspections against supervision-level frequencies for trading
//   enterprises (seed 003 §三(三)2): level 3 inspected in Y; level 2 in Y or
//   Y-1; level 1 at least 25% inspected in Y.
// Inspections are `inspection` cases (not voided), dated by inspected_on.
#ifndef XIAOHAO_ENGINE_SUPERVISION_RATES_H_
#define XIAOHAO_ENGINE_SUPERVISION_RATES_H_

#include <string>
#include <vector>

#include "engine/jurisdiction.h"
#include "engine/view_reader.h"

namespace xiaohao {

struct LevelCompliance {
  int level = 0;             // 1..3
  int64_t enterprises = 0;   // trading enterprises at this level
  int64_t inspected = 0;     // inspected within the level's window
  int64_t required = 0;      // how many must be
  bool met() const { return inspected >= required; }
};

struct RatesReport {
  std::string unit;
  int year = 0;
  int64_t leads_received = 0, leads_answered = 0, leads_in_time = 0;
  int64_t self_expected = 0, self_received = 0;
  int64_t followup_due = 0, followup_done = 0;
  std::vector<LevelCompliance> levels;  // 3, 2, 1
};

Result<RatesReport> BuildRates(ViewReader& view, const JurisdictionTree& tree, const std::string& unit, int year);

// A plan file (workflows/plans/*.json):
//   {"kind": "inspection_plan", "year": 2025, "unit": "shizhu", "source": "...",
//    "offices": [{"office": "nanbin", "name": "南宾所",
//                 "quarters": [{"trading_enterprise": 11, "use_unit": 7}, x4], "total": 72}]}
struct InspectionPlan {
  struct Office {
    std::string office;
    std::string name;
    int trading[4] = {0, 0, 0, 0};
    int use_unit[4] = {0, 0, 0, 0};
    int total = 0;
  };
  int year = 0;
  std::string unit;
  std::string source;
  std::vector<Office> offices;
};
// kInvalidArgument naming the file and JSON pointer; checks that each
// office's quarters add up to its total and that offices are in the tree.
Result<InspectionPlan> LoadInspectionPlan(const std::string& path, const JurisdictionTree& tree);

struct PlanRow {
  std::string office;
  std::string name;
  int quarter = 0;  // 1..4
  int planned_trading = 0, done_trading = 0;
  int planned_use_unit = 0, done_use_unit = 0;
};
Result<std::vector<PlanRow>> BuildPlanProgress(ViewReader& view, const InspectionPlan& plan);

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_SUPERVISION_RATES_H_
