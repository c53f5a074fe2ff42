#include "engine/risk_list.h"

#include <algorithm>
#include <functional>
#include <set>

namespace xiaohao {

bool RiskFilter::Matches(const CaseSummary& s) const {
  if (!source.empty() && s.source != source) return false;
  if (!product_category.empty() && s.product_category != product_category) return false;
  if (!enterprise.empty() && s.enterprise != enterprise) return false;
  if (!risk_level.empty() && s.risk_level != risk_level) return false;
  if (!state.empty()) {
    if (state == "open") {
      if (s.terminal()) return false;
    } else if (state == "overdue") {
      if (s.terminal() || !s.overdue()) return false;
    } else if (s.state != state) {
      return false;
    }
  }
  return true;
}

Result<RiskListReport> BuildRiskList(ViewReader& view, const JurisdictionTree& tree, const RiskListQuery& q) {
  if (!q.unit.empty() && tree.Find(q.unit) == nullptr)
    return Status::InvalidArgument("unknown unit '" + q.unit + "'", "office");
  if (!q.quarter.empty()) {
    int y, n;
    if (!ParseQuarter(q.quarter, &y, &n))
      return Status::InvalidArgument("quarter '" + q.quarter + "' is not like 2025Q3", "quarter");
  }
  RiskListReport report;
  report.basis = view.basis();
  report.position = view.position();

  // Buckets by (quarter, office), from the projection or the filtered cases.
  std::map<std::string, RiskCounts> buckets;
  // A filter on one of the bucketed fields alone reads that field's buckets.
  const RiskFilter& f = q.filter;
  const bool enterprise_or_state = !f.enterprise.empty() || !f.state.empty();
  const int dims = !f.source.empty() + !f.risk_level.empty() + !f.product_category.empty();
  if (q.filter.empty() && !q.include_items) {
    ASSIGN_OR_RETURN(buckets, view.Buckets());
  } else if (dims == 1 && !enterprise_or_state && !q.include_items) {
    const char* dim = !f.source.empty() ? "source" : !f.risk_level.empty() ? "risk_level" : "product_category";
    const std::string& value = !f.source.empty() ? f.source : !f.risk_level.empty() ? f.risk_level : f.product_category;
    ASSIGN_OR_RETURN(buckets, view.DimensionBuckets(dim, value));
  } else {
    RETURN_IF_ERROR(view.ForEachCase([&](const CaseSummary& s) {
      std::string b = BucketOf(s);
      if (b.empty() || s.state == kVoidedState || !q.filter.Matches(s)) return true;
      if (!q.quarter.empty() && QuarterOfDay(s.opened_day) != q.quarter) return true;
      if (!q.unit.empty() && !tree.IsWithin(s.office, q.unit)) return true;
      buckets[b].Add(ContributionOf(s));
      if (q.include_items) report.items.push_back(s);
      return true;
    }));
    std::sort(report.items.begin(), report.items.end(),
              [](const CaseSummary& a, const CaseSummary& b) { return a.case_id < b.case_id; });
  }

  // Roll up: each bucket counts for its office and every unit above it.
  std::map<std::pair<std::string, std::string>, RiskCounts> rolled;  // (unit, quarter)
  std::set<std::string> quarters;
  for (const auto& [key, c] : buckets) {
    size_t slash = key.find('/');
    std::string quarter = key.substr(0, slash), office = key.substr(slash + 1);
    if (!q.quarter.empty() && quarter != q.quarter) continue;
    quarters.insert(quarter);
    for (const std::string& u : tree.Chain(office)) rolled[{u, quarter}].Add(c);
  }
  if (!q.quarter.empty()) quarters.insert(q.quarter);

  // Tree order from the query's unit (or every root), children by id.
  std::map<std::string, std::vector<const JurisdictionUnit*>> children;
  std::vector<const JurisdictionUnit*> roots;
  for (const JurisdictionUnit* u : tree.Units()) {
    if (u->parent.empty() || tree.Find(u->parent) == nullptr) roots.push_back(u);
    else children[u->parent].push_back(u);
  }
  if (!q.unit.empty()) roots = {tree.Find(q.unit)};
  std::function<void(const JurisdictionUnit*, int)> walk = [&](const JurisdictionUnit* u, int depth) {
    for (const std::string& quarter : quarters) {
      auto it = rolled.find({u->id, quarter});
      // With a quarter asked for, every unit gets a row (the quarterly table
      // lists every office); otherwise only units with items do.
      if (it == rolled.end() && q.quarter.empty()) continue;
      RiskListRow row{u->id, u->name, UnitLevelName(u->level), depth, quarter,
                      it == rolled.end() ? RiskCounts{} : it->second};
      report.rows.push_back(std::move(row));
    }
    for (const JurisdictionUnit* c : children[u->id]) walk(c, depth + 1);
  };
  for (const JurisdictionUnit* r : roots) walk(r, 0);
  return report;
}

}  // namespace xiaohao

namespace xiaohao {

nlohmann::json CaseSummaryToJson(const CaseSummary& s) {
  nlohmann::json j{{"case_id", s.case_id},   {"workflow", s.workflow},     {"state", s.state},
                   {"office", s.office},     {"enterprise", s.enterprise}, {"source", s.source},
                   {"product_category", s.product_category},               {"risk_level", s.risk_level},
                   {"opened_on", DayText(s.opened_day)},                   {"overdue", s.overdue() && !s.terminal()}};
  j["closed_on"] = s.closed_day == kNoDay ? nlohmann::json(nullptr) : nlohmann::json(DayText(s.closed_day));
  j["facts"] = s.extra;
  return j;
}

nlohmann::json RiskListReportToJson(const RiskListReport& r, bool with_items) {
  using json = nlohmann::json;
  json j = json::object();
  j["basis"] = r.basis;
  j["position"] = r.position;
  j["rows"] = json::array();
  for (const auto& row : r.rows) {
    const RiskCounts& c = row.counts;
    auto median = c.median_days_to_close();
    json rj{{"unit", row.unit},          {"unit_name", row.unit_name}, {"level", row.level},
            {"depth", row.depth},        {"quarter", row.quarter},     {"opened", c.opened},
            {"closed", c.closed},        {"referred", c.referred},     {"open", c.open},
            {"overdue", c.overdue},      {"closure_rate", c.opened ? json(c.closure_rate()) : json(nullptr)}};
    rj["median_days_to_close"] = median ? json(*median) : json(nullptr);
    j["rows"].push_back(rj);
  }
  if (with_items) {
    j["items"] = json::array();
    for (const auto& s : r.items) j["items"].push_back(CaseSummaryToJson(s));
  }
  return j;
}

}  // namespace xiaohao
