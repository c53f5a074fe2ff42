// online_sales_lead: 50 days from receipt; one extension requested before
// expiry, at most 20 days unless a reason is given, granted by the province
// bureau only (seed 001 §九).
#include <catch2/catch.hpp>

#include "tests/engine/workflow_fixture.h"

namespace xiaohao::testing {
namespace {

using nlohmann::json;

// Received Fri 2025-09-26: the 50th day is Sat 2025-11-15, so the period ends
// Mon 2025-11-17 (DOMAIN.md worked example).
void Receive(PureCase& c) {
  REQUIRE_OK(c.Run("receive",
                   {{"office", "nanbin"}, {"lead_no", "JL-2025-0926-01"}, {"received_on", "2025-09-26"},
                    {"enterprise", "ENT001"}, {"description", "平台销售未备案产品"}},
                   Inspector(), "2025-09-26T16:00:00+08:00"));
  REQUIRE_OK(c.Run("start_investigation", {{"assignee", "张三"}}, Inspector(), "2025-09-27T09:00:00+08:00"));
}

TEST_CASE("online_sales_lead: 50 days from receipt, result in time") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("online_sales_lead"), "online_sales_lead-1");
  REQUIRE_OK(c.Run("receive",
                   {{"office", "nanbin"}, {"lead_no", "L1"}, {"received_on", "2025-09-26"}, {"enterprise", "ENT001"},
                    {"description", "d"}},
                   Inspector(), "2025-09-26T16:00:00+08:00"));
  CHECK(c.state.state == "received");
  REQUIRE(c.LastTypes() == std::vector<std::string>{"online_sales_lead.received", "deadline.started"});
  const json& p = c.last[1].payload;
  CHECK(p["deadline"] == "investigation");
  CHECK(p["start"] == "2025-09-26");
  CHECK(p["period"] == "50d");
  CHECK(p["due_date"] == "2025-11-17");
  CHECK(p["due_at"] == "2025-11-18T00:00:00+08:00");
  CHECK(p["warn_at"] == "2025-11-07T00:00:00+08:00");
  CHECK(p["provisional"] == false);
  REQUIRE_OK(c.Run("start_investigation", {{"assignee", "张三"}}, Inspector(), "2025-09-27T09:00:00+08:00"));
  REQUIRE_OK(c.Run("report_result", {{"result", "violation_found"}, {"summary", "已责令下架"}}, Inspector(),
                   "2025-11-10T09:00:00+08:00"));
  CHECK(c.state.state == "reported");
  CHECK(c.LastTypes() == std::vector<std::string>{"online_sales_lead.result_reported", "deadline.cleared"});
  CHECK(c.state.deadlines.empty());
}

TEST_CASE("online_sales_lead: extension requested in time, granted by the province bureau") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("online_sales_lead"), "online_sales_lead-2");
  Receive(c);
  REQUIRE_OK(c.Run("request_extension", {{"days", 20}}, Inspector(), "2025-11-10T09:00:00+08:00"));
  CHECK(c.state.state == "extension_requested");
  CHECK(c.state.deadlines["investigation"].pending_days == 20);

  // Only the province bureau grants.
  REQUIRE_REJECTED(c.Run("grant_extension", json::object(), Inspector(), "2025-11-11T09:00:00+08:00"),
                   StatusCode::kPermissionDenied, "role_not_allowed");
  REQUIRE_REJECTED(c.Run("grant_extension", json::object(), Supervisor(), "2025-11-11T09:00:00+08:00"),
                   StatusCode::kPermissionDenied, "role_not_allowed");
  // Granted after the original end: the request was in time, that is what counts.
  REQUIRE_OK(c.Run("grant_extension", {{"note", "同意"}}, ProvinceApprover(), "2025-11-19T09:00:00+08:00"));
  CHECK(c.state.state == "investigating");
  REQUIRE(c.LastTypes() == std::vector<std::string>{"online_sales_lead.extension_granted", "deadline.extended"});
  const json& p = c.last[1].payload;
  CHECK(p["previous_due_date"] == "2025-11-17");
  CHECK(p["due_date"] == "2025-12-05");  // 70 days from 2025-09-26, a Friday
  CHECK(p["period"] == "70d");
  CHECK(p["extension_days"] == 20);
  CHECK(p["exceptional"] == false);
  CHECK(p["generation"] == 1);
  CHECK(c.state.deadlines["investigation"].due_date.ToString() == "2025-12-05");
  CHECK(c.state.deadlines["investigation"].extensions == 1);
  CHECK_FALSE(c.state.deadlines["investigation"].pending_days.has_value());

  // Only one extension.
  REQUIRE_REJECTED(c.Run("request_extension", {{"days", 5}, {"reason", "再延"}}, Inspector(), "2025-11-25T09:00:00+08:00"),
                   StatusCode::kRejected, "extension_limit_reached");
}

TEST_CASE("online_sales_lead: a request on the last day is in time, the next day is late") {
  WorkflowFixture fx;
  {
    PureCase c(fx, fx.Def("online_sales_lead"), "online_sales_lead-3");
    Receive(c);
    REQUIRE_OK(c.Run("request_extension", {{"days", 10}}, Inspector(), "2025-11-17T23:30:00+08:00"));
    CHECK(c.state.state == "extension_requested");
  }
  {
    PureCase c(fx, fx.Def("online_sales_lead"), "online_sales_lead-4");
    Receive(c);
    // 2025-11-17T16:30Z is 2025-11-18 00:30 CST: late.
    Status s = c.Run("request_extension", {{"days", 10}}, Inspector(), "2025-11-17T16:30:00Z");
    REQUIRE_REJECTED(s, StatusCode::kRejected, "extension_too_late");
    CHECK(s.message() ==
          "extension_too_late: 延期须在期限届满前申请：期限至 2025-11-17，申请日为 2025-11-18 | an extension must be "
          "requested before the period expires: it ended 2025-11-17, the request is dated 2025-11-18");
    CHECK(c.state.state == "investigating");
    // A backdated occurred_at decides: a letter dated the last day is in time.
    REQUIRE_OK(c.Run("request_extension", {{"days", 10}}, Inspector(), "2025-11-18T09:00:00+08:00",
                     "2025-11-17T17:00:00+08:00"));
  }
}

TEST_CASE("online_sales_lead: over the 20-day cap only with a reason") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("online_sales_lead"), "online_sales_lead-5");
  Receive(c);
  Status s = c.Run("request_extension", {{"days", 30}}, Inspector(), "2025-11-10T09:00:00+08:00");
  REQUIRE_REJECTED(s, StatusCode::kRejected, "extension_too_long");
  CHECK(s.field() == "/payload/reason");
  REQUIRE_REJECTED(c.Run("request_extension", {{"days", 0}}, Inspector(), "2025-11-10T09:00:00+08:00"),
                   StatusCode::kRejected, "invalid_field");
  REQUIRE_REJECTED(c.Run("request_extension", {{"days", "20"}}, Inspector(), "2025-11-10T09:00:00+08:00"),
                   StatusCode::kRejected, "invalid_field");
  REQUIRE_OK(c.Run("request_extension", {{"days", 30}, {"reason", "涉及跨省平台，需协查"}}, Inspector(),
                   "2025-11-10T09:00:00+08:00"));
  REQUIRE_OK(c.Run("grant_extension", json::object(), ProvinceApprover(), "2025-11-12T09:00:00+08:00"));
  const json& p = c.last[1].payload;
  CHECK(p["exceptional"] == true);
  CHECK(p["reason"] == "涉及跨省平台，需协查");
  CHECK(p["due_date"] == "2025-12-15");  // 80 days from 2025-09-26, a Monday
}

TEST_CASE("online_sales_lead: a denied extension leaves the deadline as it was") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("online_sales_lead"), "online_sales_lead-6");
  Receive(c);
  REQUIRE_OK(c.Run("request_extension", {{"days", 20}}, Inspector(), "2025-11-10T09:00:00+08:00"));
  REQUIRE_REJECTED(c.Run("deny_extension", {{"reason", "理由不充分"}}, Inspector(), "2025-11-11T09:00:00+08:00"),
                   StatusCode::kPermissionDenied, "role_not_allowed");
  REQUIRE_OK(c.Run("deny_extension", {{"reason", "理由不充分"}}, ProvinceApprover(), "2025-11-11T09:00:00+08:00"));
  CHECK(c.LastTypes() == std::vector<std::string>{"online_sales_lead.extension_denied"});
  CHECK(c.state.state == "investigating");
  CHECK(c.state.deadlines["investigation"].due_date.ToString() == "2025-11-17");
  CHECK_FALSE(c.state.deadlines["investigation"].pending_days.has_value());
  CHECK(c.state.deadlines["investigation"].extensions == 0);
}

TEST_CASE("online_sales_lead: a year without a calendar gives a provisional deadline") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("online_sales_lead"), "online_sales_lead-7");
  // Received 2026-12-01: 50 days later is in 2027, which has no calendar file.
  REQUIRE_OK(c.Run("receive",
                   {{"office", "nanbin"}, {"lead_no", "L7"}, {"received_on", "2026-12-01"}, {"enterprise", "E"},
                    {"description", "d"}},
                   Inspector(), "2026-12-01T10:00:00+08:00"));
  const json& p = c.last[1].payload;
  CHECK(p["provisional"] == true);
  CHECK(p["due_date"] == "2027-01-20");  // the 50th day, a Wednesday; weekends-only counting
  CHECK(p["calendar_versions"] == json({{"2026", 1}, {"2027", 0}}));
  CHECK(c.state.deadlines["investigation"].provisional);
}

TEST_CASE("online_sales_lead: scheduler facts are applied, stale generations ignored") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("online_sales_lead"), "online_sales_lead-8");
  Receive(c);
  const auto& def = fx.Def("online_sales_lead");
  CaseEvent warn{c.id, c.state.version + 1, "deadline.warning", "2025-11-07T00:00:00+08:00",
                 {"timer", "system", ""}, {{"deadline", "investigation"}, {"generation", 1}}};
  auto s = Apply(def, c.state, warn);
  REQUIRE(s.ok());
  CHECK(s->deadlines["investigation"].warned);
  CaseEvent stale{c.id, s->version + 1, "deadline.overdue", "2025-11-18T00:00:00+08:00",
                  {"timer", "system", ""}, {{"deadline", "investigation"}, {"generation", 7}}};
  auto s2 = Apply(def, *s, stale);
  REQUIRE(s2.ok());
  CHECK_FALSE(s2->deadlines["investigation"].overdue);
  CaseEvent overdue = stale;
  overdue.version = s2->version + 1;
  overdue.payload["generation"] = 1;
  auto s3 = Apply(def, *s2, overdue);
  REQUIRE(s3.ok());
  CHECK(s3->deadlines["investigation"].overdue);
  // Out-of-order versions are corruption.
  CaseEvent gap = overdue;
  gap.version = s3->version + 5;
  CHECK(Apply(def, *s3, gap).status().code() == StatusCode::kCorruption);
}

}  // namespace
}  // namespace xiaohao::testing
