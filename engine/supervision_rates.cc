#include "engine/supervision_rates.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "store/time_format.h"

namespace xiaohao {
namespace {

using json = nlohmann::json;

int YearOfDayText(const std::string& day) {
  int64_t d = DayFromText(day);
  if (d == kNoDay) return 0;
  int y;
  unsigned m, dd;
  CivilFromDays(d, &y, &m, &dd);
  return y;
}

int QuarterOfDayText(const std::string& day) {
  int64_t d = DayFromText(day);
  if (d == kNoDay) return 0;
  int y;
  unsigned m, dd;
  CivilFromDays(d, &y, &m, &dd);
  return static_cast<int>((m - 1) / 3 + 1);
}

}  // namespace

Result<RatesReport> BuildRates(ViewReader& view, const JurisdictionTree& tree, const std::string& unit, int year) {
  if (tree.Find(unit) == nullptr) return Status::InvalidArgument("unknown unit '" + unit + "'", "office");
  RatesReport r;
  r.unit = unit;
  r.year = year;
  // Register: code -> (office, kind, level).
  struct Ent {
    std::string office, kind;
    int level = 0;
  };
  std::map<std::string, Ent> reg;
  ASSIGN_OR_RETURN(auto records, view.Register());
  for (const auto& [code, text] : records) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) continue;
    Ent e{j.value("office", ""), j.value("kind", ""), j.value("supervision_level", 0)};
    if (tree.IsWithin(e.office, unit)) reg[code] = e;
  }
  std::set<std::string> self_received, duty_enterprises;
  std::map<std::string, std::set<int>> inspected_years;  // enterprise -> years with an inspection
  RETURN_IF_ERROR(view.ForEachCase([&](const CaseSummary& s) {
    if (s.state == kVoidedState || !tree.IsWithin(s.office, unit)) return true;
    if (s.workflow == "online_sales_lead") {
      int y = YearOfDayText(s.Extra("received_on"));
      if (y == 0) y = YearOfDayText(DayText(s.opened_day));
      if (y != year) return true;
      ++r.leads_received;
      if (s.state == "reported") {
        ++r.leads_answered;
        if (!s.ever_overdue) ++r.leads_in_time;
      }
    } else if (s.workflow == "self_inspection") {
      if (s.Extra("report_year") != std::to_string(year - 1)) return true;
      duty_enterprises.insert(s.enterprise);
      if (s.state == "submitted" || s.state == "reviewed") self_received.insert(s.enterprise);
    } else if (s.workflow == "risk_item") {
      if (s.rectification_reported) {
        ++r.followup_due;
        if (s.verification_done) ++r.followup_done;
      }
    } else if (s.workflow == "inspection") {
      int y = YearOfDayText(s.Extra("inspected_on"));
      if (y != 0) inspected_years[s.enterprise].insert(y);
    }
    return true;
  }));
  if (!reg.empty()) {
    r.self_expected = static_cast<int64_t>(reg.size());
    for (const auto& code : self_received)
      if (reg.count(code)) ++r.self_received;
  } else {
    r.self_expected = static_cast<int64_t>(duty_enterprises.size());
    r.self_received = static_cast<int64_t>(self_received.size());
  }
  for (int level : {3, 2, 1}) {
    LevelCompliance c;
    c.level = level;
    for (const auto& [code, e] : reg) {
      if (e.kind != "trading_enterprise" || e.level != level) continue;
      ++c.enterprises;
      const auto& ys = inspected_years[code];
      bool ok = ys.count(year) > 0 || (level == 2 && ys.count(year - 1) > 0);
      if (ok) ++c.inspected;
    }
    c.required = level == 1 ? (c.enterprises * 25 + 99) / 100 : c.enterprises;
    r.levels.push_back(c);
  }
  return r;
}

Result<InspectionPlan> LoadInspectionPlan(const std::string& path, const JurisdictionTree& tree) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read plan file " + path, "plan");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  auto bad = [&](const std::string& ptr, const std::string& what) {
    return Status::InvalidArgument(path + ": " + ptr + ": " + what, ptr);
  };
  if (!j.is_object() || j.value("kind", "") != "inspection_plan") return bad("/kind", "not an inspection_plan");
  InspectionPlan p;
  if (!j.contains("year") || !j["year"].is_number_integer()) return bad("/year", "must be an integer");
  p.year = j["year"].get<int>();
  p.unit = j.value("unit", "");
  p.source = j.value("source", "");
  if (!j.contains("offices") || !j["offices"].is_array()) return bad("/offices", "must be an array");
  for (size_t i = 0; i < j["offices"].size(); ++i) {
    const json& o = j["offices"][i];
    std::string at = "/offices/" + std::to_string(i);
    InspectionPlan::Office off;
    if (!o.is_object() || !o.contains("office") || !o["office"].is_string()) return bad(at + "/office", "missing");
    off.office = o["office"].get<std::string>();
    if (tree.Find(off.office) == nullptr) return bad(at + "/office", "unknown unit '" + off.office + "'");
    off.name = o.value("name", off.office);
    if (!o.contains("quarters") || !o["quarters"].is_array() || o["quarters"].size() != 4)
      return bad(at + "/quarters", "must list four quarters");
    int sum = 0;
    for (int q = 0; q < 4; ++q) {
      const json& qq = o["quarters"][q];
      std::string qat = at + "/quarters/" + std::to_string(q);
      if (!qq.is_object() || !qq.contains("trading_enterprise") || !qq["trading_enterprise"].is_number_integer() ||
          !qq.contains("use_unit") || !qq["use_unit"].is_number_integer())
        return bad(qat, "needs integer trading_enterprise and use_unit");
      off.trading[q] = qq["trading_enterprise"].get<int>();
      off.use_unit[q] = qq["use_unit"].get<int>();
      sum += off.trading[q] + off.use_unit[q];
    }
    off.total = o.value("total", sum);
    if (off.total != sum)
      return bad(at + "/total", "is " + std::to_string(off.total) + " but the quarters add up to " + std::to_string(sum));
    p.offices.push_back(std::move(off));
  }
  return p;
}

Result<std::vector<PlanRow>> BuildPlanProgress(ViewReader& view, const InspectionPlan& plan) {
  // (office, quarter) -> done trading, done use units
  std::map<std::pair<std::string, int>, std::pair<int, int>> done;
  RETURN_IF_ERROR(view.ForEachCase([&](const CaseSummary& s) {
    if (s.workflow != "inspection" || s.state == kVoidedState) return true;
    const std::string day = s.Extra("inspected_on");
    if (YearOfDayText(day) != plan.year) return true;
    auto& d = done[{s.office, QuarterOfDayText(day)}];
    const std::string type = s.Extra("subject_type");
    if (type == "trading_enterprise") ++d.first;
    else if (type == "use_unit") ++d.second;
    return true;
  }));
  std::vector<PlanRow> rows;
  for (const auto& o : plan.offices) {
    for (int q = 1; q <= 4; ++q) {
      PlanRow r;
      r.office = o.office;
      r.name = o.name;
      r.quarter = q;
      r.planned_trading = o.trading[q - 1];
      r.planned_use_unit = o.use_unit[q - 1];
      auto it = done.find({o.office, q});
      if (it != done.end()) {
        r.done_trading = it->second.first;
        r.done_use_unit = it->second.second;
      }
      rows.push_back(r);
    }
  }
  return rows;
}

}  // namespace xiaohao
