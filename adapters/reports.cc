#include "adapters/reports.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "store/time_format.h"

namespace xiaohao {
namespace {

using json = nlohmann::json;

std::string Fixed(double v, int digits) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}
std::string Percent(int64_t num, int64_t den) { return den == 0 ? "" : Fixed(100.0 * num / den, 1) + "%"; }

std::string Joined(const std::set<std::string>& values) {
  std::string s;
  for (const auto& v : values) s += (s.empty() ? "" : ", ") + v;
  return s;
}

// Refuses `value` unless it is one of `accepted` (an empty set accepts all:
// no risk_item workflow is loaded to say what exists).
Status OneOf(const std::string& field, const std::string& value, const std::set<std::string>& accepted,
             const std::string& what) {
  if (value.empty() || accepted.empty() || accepted.count(value)) return Status::OK();
  return Status::InvalidArgument("'" + value + "' is not " + what + "; use one of: " + Joined(accepted), field);
}

}  // namespace

Result<UnixMicros> ParseViewInstant(const std::string& text, const std::string& field) {
  int64_t day = DayFromText(text);
  if (day != kNoDay) return CstMidnight(day + 1) - 1;
  auto t = ParseRfc3339(text);
  if (!t.ok())
    return Status::InvalidArgument(
        "'" + text + "' is neither a date YYYY-MM-DD (end of that day, CST) nor RFC 3339 like 2025-10-01T12:00:00+08:00",
        field);
  return t->instant;
}

json ViewTimeJson(const ViewTime& t) {
  json j = json::object();
  j["as_of"] = t.as_of ? json(FormatRfc3339Cst(*t.as_of)) : json(nullptr);
  j["as_at"] = t.as_at ? json(FormatRfc3339Cst(*t.as_at)) : json(nullptr);
  return j;
}

std::string FlagOfField(const std::string& field) {
  if (field == "product_category") return "--category";
  std::string f = field;
  std::replace(f.begin(), f.end(), '_', '-');
  return "--" + f;
}

Status CheckRiskListQuery(const WorkflowRegistry& registry, const JurisdictionTree& tree, RiskListQuery* q) {
  if (!q->unit.empty() && tree.Find(q->unit) == nullptr)
    return Status::InvalidArgument("unknown unit '" + q->unit + "'; use a unit id of the jurisdiction tree", "office");
  if (!q->quarter.empty()) {
    int y = 0, n = 0;
    if (!ParseQuarter(q->quarter, &y, &n))
      return Status::InvalidArgument("'" + q->quarter + "' is not a quarter; use YYYYQn like 2025Q3", "quarter");
    q->quarter = std::to_string(y) + "Q" + std::to_string(n);
  }
  // What the loaded risk_item versions accept (older versions too: their
  // cases are still in the log).
  std::set<std::string> sources, levels, states;
  for (const WorkflowDefinition* def : registry.All()) {
    if (def->id != "risk_item") continue;
    for (const auto& s : def->states) states.insert(s.name);
    for (const auto& c : def->commands) {
      if (!c.opens_case) continue;
      if (const FieldSpec* f = c.FindField("source")) sources.insert(f->values.begin(), f->values.end());
      if (const FieldSpec* f = c.FindField("risk_level")) levels.insert(f->values.begin(), f->values.end());
    }
  }
  if (!states.empty()) states.insert({"open", "overdue"});
  RETURN_IF_ERROR(OneOf("source", q->filter.source, sources, "a risk source"));
  RETURN_IF_ERROR(OneOf("risk_level", q->filter.risk_level, levels, "a risk level"));
  RETURN_IF_ERROR(OneOf("state", q->filter.state, states, "a risk item state"));
  return Status::OK();
}

Result<ReportDoc> RiskListDoc(ViewReader& view, const JurisdictionTree& tree, const RiskListQuery& query,
                              const ViewTime& time) {
  ASSIGN_OR_RETURN(RiskListReport r, BuildRiskList(view, tree, query));
  ReportDoc doc;
  doc.json = ViewTimeJson(time);
  doc.json.update(RiskListReportToJson(r, query.include_items));
  // The quarterly table (seed 002's statistics by unit and quarter).
  Table t{"风险清单季度统计", {"单位", "单位名称", "季度", "发现风险数", "已销号数", "移送数", "未销号数",
                               "逾期未整改数", "销号率", "销号天数中位数"}, {}};
  for (const auto& row : r.rows) {
    const RiskCounts& c = row.counts;
    auto median = c.median_days_to_close();
    t.rows.push_back({std::string(row.depth * 2, ' ') + row.unit, row.unit_name, row.quarter,
                      std::to_string(c.opened), std::to_string(c.closed), std::to_string(c.referred),
                      std::to_string(c.open), std::to_string(c.overdue), Percent(c.closed, c.opened),
                      median ? Fixed(*median, 1) : ""});
  }
  doc.tables.push_back(std::move(t));
  if (query.include_items) {
    Table it{"风险清单", {"案件编号", "责任单位", "企业", "风险来源", "产品类别", "风险等级", "状态", "发现日期",
                         "销号日期", "是否逾期"}, {}};
    for (const auto& s : r.items) {
      it.rows.push_back({s.case_id, s.office, s.enterprise, s.source, s.product_category, s.risk_level, s.state,
                         DayText(s.opened_day), DayText(s.closed_day), s.overdue() && !s.terminal() ? "是" : "否"});
    }
    doc.tables.push_back(std::move(it));
  }
  return doc;
}

ReportDoc CaseDoc(const CaseState& s, const ViewTime& time) {
  ReportDoc doc;
  doc.json = ViewTimeJson(time);
  doc.json["case"] = s.ToJson();
  Table t{"案件", {"字段", "值"}, {}};
  t.rows.push_back({"case_id", s.case_id});
  t.rows.push_back({"workflow", s.workflow_id + " v" + std::to_string(s.workflow_version)});
  t.rows.push_back({"state", s.state});
  t.rows.push_back({"version", std::to_string(s.version)});
  t.rows.push_back({"opened_at", s.opened_at});
  for (auto it = s.facts.begin(); it != s.facts.end(); ++it)
    t.rows.push_back({"facts." + it.key(), it->is_string() ? it->get<std::string>() : it->dump()});
  for (const auto& [name, d] : s.deadlines)
    t.rows.push_back({"deadline." + name, d.due_date.ToString() + (d.overdue ? " 逾期" : "")});
  doc.tables.push_back(std::move(t));
  return doc;
}

json AuditEntryJson(const AuditEntry& e) {
  json ej{{"position", e.position},
          {"version", e.version},
          {"type", e.type},
          {"command", e.command},
          {"actor", {{"user_id", e.actor.user_id}, {"role", e.actor.role}, {"office", e.actor.office}}},
          {"occurred_at", e.occurred_at},
          {"recorded_at", FormatRfc3339Cst(e.recorded_at)},
          {"command_id", e.command_id},
          {"hash", HashToHex(e.hash)},
          {"prev_hash", HashToHex(e.prev_hash)},
          {"hash_ok", e.hash_ok},
          {"link_ok", e.link_ok},
          {"late", e.late},
          {"lag_hours", e.lag_micros / 3600e6}};
  ej["payload"] = json::parse(e.payload_json, nullptr, false);
  return ej;
}

ReportDoc AuditDoc(const AuditTrail& trail, double late_days) {
  ReportDoc doc;
  doc.json = {{"case_id", trail.case_id},
              {"chain_ok", trail.chain_ok},
              {"late_after_days", late_days},
              {"entries", json::array()}};
  Table t{"审计轨迹", {"位置", "版本", "事件", "操作人", "角色", "单位", "发生时间", "记录时间", "命令编号", "哈希",
                      "校验", "补录"}, {}};
  for (const auto& e : trail.entries) {
    doc.json["entries"].push_back(AuditEntryJson(e));
    t.rows.push_back({std::to_string(e.position), std::to_string(e.version), e.type, e.actor.user_id, e.actor.role,
                      e.actor.office, e.occurred_at, FormatRfc3339Cst(e.recorded_at), e.command_id,
                      HashToHex(e.hash).substr(0, 16), e.hash_ok && e.link_ok ? "ok" : "BROKEN",
                      e.late ? "补录 " + Fixed(e.lag_micros / 86400e6, 1) + "天" : ""});
  }
  doc.tables.push_back(std::move(t));
  return doc;
}

Result<Dossier> LoadDossier(ViewReader& view, const std::string& enterprise) {
  Dossier d;
  d.enterprise = enterprise;
  ASSIGN_OR_RETURN(auto reg, view.Register());
  if (auto it = reg.find(enterprise); it != reg.end()) d.register_record = json::parse(it->second, nullptr, false);
  ASSIGN_OR_RETURN(auto ids, view.CasesOfEnterprise(enterprise));
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(auto s, view.Case(id));
    if (s) d.cases.push_back(std::move(*s));
  }
  if (!d.register_record && ids.empty())
    return Status::NotFound("no enterprise " + enterprise + " in the register or any case");
  return d;
}

ReportDoc DossierDoc(const Dossier& d, const ViewTime& time) {
  ReportDoc doc;
  doc.json = ViewTimeJson(time);
  doc.json["enterprise"] = d.enterprise;
  doc.json["register"] = d.register_record ? *d.register_record : json(nullptr);
  doc.json["cases"] = json::array();
  Table t{"监管档案 " + d.enterprise, {"案件编号", "类型", "状态", "单位", "立案日期", "销号日期", "事实"}, {}};
  for (const auto& s : d.cases) {
    doc.json["cases"].push_back(CaseSummaryToJson(s));
    std::string facts;
    for (const auto& [k, v] : s.extra) facts += (facts.empty() ? "" : "; ") + k + "=" + v;
    t.rows.push_back({s.case_id, s.workflow, s.state, s.office, DayText(s.opened_day), DayText(s.closed_day), facts});
  }
  doc.tables.push_back(std::move(t));
  return doc;
}

std::string RootUnit(const JurisdictionTree& tree) {
  for (const auto* u : tree.Units())
    if (u->parent.empty()) return u->id;
  return "";
}

Result<ReportDoc> RatesDoc(ViewReader& view, const JurisdictionTree& tree, const std::string& unit_in, int year,
                           const ViewTime& time) {
  std::string unit = unit_in.empty() ? RootUnit(tree) : unit_in;
  if (tree.Find(unit) == nullptr)
    return Status::InvalidArgument("unknown unit '" + unit + "'; use a unit id of the jurisdiction tree", "office");
  if (year < 2000 || year > 2100)
    return Status::InvalidArgument("year " + std::to_string(year) + " is out of range; use 2000..2100", "year");
  ASSIGN_OR_RETURN(RatesReport r, BuildRates(view, tree, unit, year));
  ReportDoc doc;
  json& j = doc.json;
  j = ViewTimeJson(time);
  j["unit"] = r.unit;
  j["year"] = r.year;
  auto rate = [](int64_t n, int64_t d) { return d == 0 ? json(nullptr) : json(static_cast<double>(n) / d); };
  j["online_sales_leads"] = {{"received", r.leads_received}, {"answered", r.leads_answered},
                             {"answered_in_time", r.leads_in_time}, {"rate", rate(r.leads_in_time, r.leads_received)}};
  j["self_inspection_reports"] = {{"report_year", year - 1}, {"expected", r.self_expected},
                                  {"received", r.self_received}, {"rate", rate(r.self_received, r.self_expected)}};
  j["follow_up_coverage"] = {{"rectification_reported", r.followup_due}, {"verified", r.followup_done},
                             {"rate", rate(r.followup_done, r.followup_due)}};
  j["inspection_frequency"] = json::array();
  Table t{"监管指标 " + r.unit + " " + std::to_string(year), {"指标", "应达", "实际", "比率", "目标"}, {}};
  t.rows.push_back({"网络销售监测信息按时处置反馈", std::to_string(r.leads_received), std::to_string(r.leads_in_time),
                    Percent(r.leads_in_time, r.leads_received), "100%"});
  t.rows.push_back({std::to_string(year - 1) + "年度自查报告上报", std::to_string(r.self_expected),
                    std::to_string(r.self_received), Percent(r.self_received, r.self_expected), "100%"});
  t.rows.push_back({"整改企业跟踪检查覆盖", std::to_string(r.followup_due), std::to_string(r.followup_done),
                    Percent(r.followup_done, r.followup_due), "100%"});
  for (const auto& l : r.levels) {
    j["inspection_frequency"].push_back({{"level", l.level}, {"enterprises", l.enterprises},
                                         {"inspected", l.inspected}, {"required", l.required}, {"met", l.met()}});
    static const char* kNames[] = {"", "一级监管经营企业检查(≥25%/年)", "二级监管经营企业检查(两年一次)",
                                   "三级监管经营企业检查(每年一次)"};
    t.rows.push_back({l.level >= 1 && l.level <= 3 ? kNames[l.level] : std::to_string(l.level),
                      std::to_string(l.required), std::to_string(l.inspected), Percent(l.inspected, l.enterprises),
                      l.met() ? "达到" : "未达到"});
  }
  doc.tables.push_back(std::move(t));
  return doc;
}

Status ParsePlanQuarter(const std::string& text, const InspectionPlan& plan, int* quarter) {
  *quarter = 0;
  if (text.empty()) return Status::OK();
  int y = 0;
  if (!ParseQuarter(text, &y, quarter))
    return Status::InvalidArgument("'" + text + "' is not a quarter; use YYYYQn like 2025Q3", "quarter");
  if (y != plan.year)
    return Status::InvalidArgument("quarter " + text + " is outside the plan's year " + std::to_string(plan.year) +
                                       "; use " + std::to_string(plan.year) + "Q1.." + std::to_string(plan.year) + "Q4",
                                   "quarter");
  return Status::OK();
}

Result<ReportDoc> PlanDoc(ViewReader& view, const InspectionPlan& plan, int quarter, const ViewTime& time,
                          const std::function<bool(const std::string& office)>& office_shown) {
  ASSIGN_OR_RETURN(auto rows, BuildPlanProgress(view, plan));
  ReportDoc doc;
  json& j = doc.json;
  j = ViewTimeJson(time);
  j["year"] = plan.year;
  j["unit"] = plan.unit;
  j["rows"] = json::array();
  Table t{std::to_string(plan.year) + "年监管计划检查进度",
          {"单位", "季度", "经营企业计划家次", "经营企业已检查", "使用单位计划家次", "使用单位已检查", "完成率"}, {}};
  for (const auto& r : rows) {
    if (quarter && r.quarter != quarter) continue;
    if (office_shown && !office_shown(r.office)) continue;
    std::string q = std::to_string(plan.year) + "Q" + std::to_string(r.quarter);
    j["rows"].push_back({{"office", r.office}, {"name", r.name}, {"quarter", q},
                         {"planned_trading_enterprise", r.planned_trading}, {"done_trading_enterprise", r.done_trading},
                         {"planned_use_unit", r.planned_use_unit}, {"done_use_unit", r.done_use_unit}});
    int planned = r.planned_trading + r.planned_use_unit;
    int done = std::min(r.done_trading, r.planned_trading) + std::min(r.done_use_unit, r.planned_use_unit);
    t.rows.push_back({r.name, q, std::to_string(r.planned_trading), std::to_string(r.done_trading),
                      std::to_string(r.planned_use_unit), std::to_string(r.done_use_unit), Percent(done, planned)});
  }
  doc.tables.push_back(std::move(t));
  return doc;
}

}  // namespace xiaohao
