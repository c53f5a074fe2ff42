// The full path of online_sales_filing, self_inspection, office_escalation,
// reporting_duty and inspection, with their deadlines' exact dates.
#include <catch2/catch.hpp>

#include "tests/engine/workflow_fixture.h"

namespace xiaohao::testing {
namespace {

using nlohmann::json;

TEST_CASE("online_sales_filing: 7 working days, published") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("online_sales_filing"), "online_sales_filing-1");
  // DOMAIN.md worked example: 7 working days from Fri 2025-09-26 is 2025-10-13.
  REQUIRE_OK(c.Run("receive", {{"office", "xituo"}, {"enterprise", "E1"}, {"filing_no", "渝械网备 2025-1"},
                               {"received_on", "2025-09-26"}},
                   Inspector("xituo"), "2025-09-26T10:00:00+08:00"));
  REQUIRE(c.last.size() == 2);
  CHECK(c.last[1].payload["due_date"] == "2025-10-13");
  CHECK(c.last[1].payload["period"] == "7wd");
  REQUIRE_REJECTED(c.Run("publish", {{"published_on", "2025-09-30"}, {"publication_ref", "u"}}, Inspector("xituo"),
                         "2025-09-30T10:00:00+08:00"),
                   StatusCode::kRejected, "wrong_state");
  REQUIRE_OK(c.Run("verify", {{"verified_on", "2025-09-29"}, {"findings", "信息一致"}}, Inspector("xituo"),
                   "2025-09-29T10:00:00+08:00"));
  REQUIRE_OK(c.Run("publish", {{"published_on", "2025-09-30"}, {"publication_ref", "https://example/1"}},
                   Inspector("xituo"), "2025-09-30T10:00:00+08:00"));
  CHECK(c.state.state == "published");
  CHECK(c.state.deadlines.empty());
}

TEST_CASE("self_inspection: trading enterprises by 31 March, use units by the local date, then follow-up") {
  WorkflowFixture fx;
  PureCase t(fx, fx.Def("self_inspection"), "self_inspection-E1-2024");
  REQUIRE_OK(t.Run("open_duty", {{"office", "nanbin"}, {"enterprise", "E1"}, {"unit_type", "trading_enterprise"},
                                 {"report_year", 2024}},
                   Supervisor(), "2025-01-02T10:00:00+08:00"));
  CHECK(t.last[1].payload["due_date"] == "2025-03-31");  // a Monday
  PureCase u(fx, fx.Def("self_inspection"), "self_inspection-H1-2025");
  REQUIRE_OK(u.Run("open_duty", {{"office", "nanbin"}, {"enterprise", "H1"}, {"unit_type", "use_unit"},
                                 {"report_year", 2025}},
                   Supervisor(), "2026-01-02T10:00:00+08:00"));
  CHECK(u.last[1].payload["due_date"] == "2026-02-02");  // 31 Jan 2026 is a Saturday: rolls to Monday
  // 2024's 31 March was a Sunday: rolled to Monday 1 April.
  PureCase old(fx, fx.Def("self_inspection"), "self_inspection-E1-2023");
  REQUIRE_OK(old.Run("open_duty", {{"office", "nanbin"}, {"enterprise", "E1"}, {"unit_type", "manufacturer"},
                                   {"report_year", 2023}},
                     Supervisor(), "2024-01-02T10:00:00+08:00"));
  CHECK(old.last[1].payload["due_date"] == "2024-04-01");

  // Missing report: followed up (the scheduler marks it overdue), then submitted by the enterprise.
  REQUIRE_OK(t.Run("follow_up", {{"action", "order_to_submit"}, {"note", "电话督促"}}, Inspector(),
                   "2025-04-02T10:00:00+08:00"));
  CHECK(t.state.state == "followed_up");
  CHECK(t.state.deadlines.count("report") == 1);
  REQUIRE_REJECTED(t.Run("submit_report", {{"submitted_on", "2025-04-03"}, {"summary", "s"}}, Enterprise("E2"),
                         "2025-04-03T10:00:00+08:00"),
                   StatusCode::kPermissionDenied, "outside_jurisdiction");
  REQUIRE_OK(t.Run("submit_report", {{"submitted_on", "2025-04-03"}, {"summary", "自查无问题"}}, Enterprise("E1"),
                   "2025-04-03T10:00:00+08:00"));
  CHECK(t.state.deadlines.empty());
  REQUIRE_OK(t.Run("review", {{"result", "accepted"}, {"findings", "ok"}}, Inspector(), "2025-04-05T10:00:00+08:00"));
  CHECK(t.state.state == "reviewed");
}

TEST_CASE("office_escalation: letter or interview first, then public notice, scheduler facts open it") {
  WorkflowFixture fx;
  const auto& def = fx.Def("office_escalation");
  PureCase c(fx, def, "office_escalation-mawu");
  REQUIRE_OK(c.Run("open", {{"office", "mawu"}, {"problems", "逾期未整改风险 5 项"}}, Supervisor(),
                   "2025-05-06T10:00:00+08:00"));
  REQUIRE_REJECTED(c.Run("impose_measures", {{"measure", "public_notice"}, {"document_no", "D"}, {"decided_on", "2025-05-06"},
                                             {"reason", "r"}},
                         Supervisor(), "2025-05-06T10:00:00+08:00"),
                   StatusCode::kRejected, "escalation_needs_letter_first");
  REQUIRE_OK(c.Run("issue_letter", {{"form", "interview"}, {"document_no", "约谈 1"}, {"issued_on", "2025-05-06"},
                                    {"respond_by", "2025-05-20"}},
                   Supervisor(), "2025-05-06T11:00:00+08:00"));
  CHECK(c.state.deadlines["response"].due_date.ToString() == "2025-05-20");
  REQUIRE_OK(c.Run("impose_measures", {{"measure", "administrative_warning"}, {"document_no", "告诫 1"},
                                       {"decided_on", "2025-05-26"}, {"reason", "仍未整改"}},
                   ProvinceApprover(), "2025-05-26T10:00:00+08:00"));
  CHECK(c.state.state == "sanctioned");
  CHECK(c.state.deadlines.empty());
  REQUIRE_OK(c.Run("resolve", {{"basis", "全部销号"}}, Supervisor(), "2025-07-01T10:00:00+08:00"));
  CHECK(c.state.state == "resolved");

  // The deadline scheduler's fact opens a case without a command.
  CaseEvent item{"office_escalation-nanbin", 1, "office_escalation.item_escalated", "2025-11-01T00:00:00+08:00",
                 {"timer", "system", "nanbin"}, {{"case_id", "risk_item-1"}, {"office", "nanbin"}, {"step", 3}}};
  auto s = Apply(def, CaseState{}, item);
  REQUIRE(s.ok());
  CHECK(s->state == "open");
  CHECK(s->office() == "nanbin");
  CHECK(s->external.size() == 1);
  item.version = 2;
  auto s2 = Apply(def, *s, item);
  REQUIRE(s2.ok());
  CHECK(s2->external.size() == 2);
}

TEST_CASE("reporting_duty: the dates of seeds 001 and 002") {
  WorkflowFixture fx;
  const auto& def = fx.Def("reporting_duty");
  struct Row {
    const char* command;
    const char* report;
    const char* quarter;
    int year;
    const char* due;
  };
  const Row rows[] = {
      {"open_quarterly", "quarterly_statistics", "1", 2025, "2025-04-01"},
      {"open_quarterly", "quarterly_statistics", "3", 2025, "2025-10-09"},  // 10-01 in the National Day holiday
      {"open_quarterly", "quarterly_statistics", "4", 2025, "2026-01-04"},  // 01-01..03 off; Sun 01-04 is a 调休 workday
      {"open_quarterly", "risk_consultation", "2", 2025, "2025-06-30"},
      {"open_annual", "annual_summary", nullptr, 2025, "2025-12-10"},
      {"open_annual", "annual_plan", nullptr, 2025, "2025-04-25"},
      {"open_annual", "work_summary", nullptr, 2025, "2025-11-17"},  // 11-15 is a Saturday
  };
  int n = 0;
  for (const auto& r : rows) {
    PureCase c(fx, def, "reporting_duty-shizhu-" + std::to_string(++n));
    json p = {{"office", "shizhu"}, {"report", r.report}, {"year", r.year}};
    if (r.quarter) p["quarter"] = r.quarter;
    REQUIRE_OK(c.Run(r.command, p, Supervisor(), "2025-01-02T10:00:00+08:00"));
    INFO(r.report << " " << (r.quarter ? r.quarter : ""));
    REQUIRE(c.last.size() == 2);
    CHECK(c.last[1].payload["due_date"] == r.due);
  }
  PureCase c(fx, def, "reporting_duty-shizhu-x");
  REQUIRE_OK(c.Run("open_annual", {{"office", "shizhu"}, {"report", "annual_plan"}, {"year", 2025}}, Supervisor(),
                   "2025-01-02T10:00:00+08:00"));
  REQUIRE_REJECTED(c.Run("submit", {{"submitted_on", "2025-04-20"}, {"document_no", "石市监〔2025〕9号"}},
                         Inspector(), "2025-04-20T10:00:00+08:00"),
                   StatusCode::kPermissionDenied, "role_not_allowed");
  REQUIRE_OK(c.Run("submit", {{"submitted_on", "2025-04-20"}, {"document_no", "石市监〔2025〕9号"}}, Supervisor(),
                   "2025-04-20T10:00:00+08:00"));
  REQUIRE_OK(c.Run("accept", json::object(), ProvinceApprover(), "2025-04-22T10:00:00+08:00"));
  CHECK(c.state.state == "accepted");
}

TEST_CASE("inspection: a record with its facts") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("inspection"), "inspection-nanbin-2025-001");
  REQUIRE_OK(c.Run("record", {{"office", "nanbin"}, {"enterprise", "E1"}, {"subject_type", "trading_enterprise"},
                              {"inspection_type", "flight"}, {"inspected_on", "2025-03-12"}, {"problems_found", true}},
                   Inspector(), "2025-03-12T17:00:00+08:00"));
  CHECK(c.state.state == "recorded");
  CHECK(c.state.facts["inspection_type"] == "flight");
  REQUIRE_REJECTED(c.Run("record", {{"office", "nanbin"}}, Inspector(), "2025-03-12T17:00:00+08:00"),
                   StatusCode::kRejected, "case_already_open");
  REQUIRE_OK(c.Run("link_risk_item", {{"risk_item", "risk_item-nanbin-2025-0001"}}, Inspector(),
                   "2025-03-12T18:00:00+08:00"));
  CHECK(c.state.facts["risk_item"] == "risk_item-nanbin-2025-0001");
}

}  // namespace
}  // namespace xiaohao::testing
