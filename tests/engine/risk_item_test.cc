// risk_item (风险清单责任制和销号制): the full path and each rejection.
#include <catch2/catch.hpp>

#include "tests/engine/workflow_fixture.h"

namespace xiaohao::testing {
namespace {

using nlohmann::json;

json OpenPayload(const std::string& office = "nanbin") {
  return {{"source", "inspection"},      {"office", office},          {"enterprise", "ENT001"},
          {"enterprise_name", "石柱县某医疗器械经营部"}, {"product_category", "一次性使用无菌注射器"},
          {"risk_level", "high"},        {"found_on", "2025-09-01"},  {"description", "冷链温度记录缺失"}};
}

// Opens and walks a risk item up to rectification_reported.
void ToReported(PureCase& c) {
  REQUIRE_OK(c.Run("open", OpenPayload(), Inspector(), "2025-09-01T10:00:00+08:00"));
  REQUIRE_OK(c.Run("assign", {{"assignee", "张三"}}, Inspector(), "2025-09-01T11:00:00+08:00"));
  REQUIRE_OK(c.Run("issue_rectification_notice",
                   {{"notice_no", "石市监械整〔2025〕1号"}, {"rectify_by", "2025-09-30"}, {"content", "补齐冷链记录"}},
                   Inspector(), "2025-09-02T09:00:00+08:00"));
  REQUIRE_OK(c.Run("report_rectification", {{"report", "已补齐并培训"}}, Enterprise(), "2025-09-20T09:00:00+08:00"));
  REQUIRE(c.state.state == "rectification_reported");
}

TEST_CASE("risk_item: full path with a failed verification and a new deadline generation") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("risk_item"), "risk_item-nanbin-2025-0001");

  REQUIRE_OK(c.Run("open", OpenPayload(), Inspector(), "2025-09-01T10:00:00+08:00"));
  CHECK(c.state.state == "registered");
  CHECK(c.LastTypes() == std::vector<std::string>{"risk_item.opened"});
  CHECK(c.last[0].payload["workflow"] == json({{"id", "risk_item"}, {"version", 1}}));
  CHECK(c.state.office() == "nanbin");
  CHECK(c.state.enterprise() == "ENT001");

  REQUIRE_OK(c.Run("assign", {{"assignee", "张三"}}, Inspector(), "2025-09-01T11:00:00+08:00"));
  CHECK(c.state.state == "assigned");
  CHECK(c.state.assignee() == "张三");

  REQUIRE_OK(c.Run("issue_rectification_notice",
                   {{"notice_no", "N1"}, {"rectify_by", "2025-09-30"}, {"content", "补齐冷链记录"}}, Inspector(),
                   "2025-09-02T09:00:00+08:00"));
  CHECK(c.state.state == "rectifying");
  CHECK(c.LastTypes() == std::vector<std::string>{"risk_item.rectification_ordered", "deadline.started"});
  const json& started = c.last[1].payload;
  CHECK(started["deadline"] == "rectification");
  CHECK(started["generation"] == 1);
  CHECK(started["due_date"] == "2025-09-30");  // a Tuesday: no roll-over
  CHECK(started["due_at"] == "2025-10-01T00:00:00+08:00");
  CHECK(started["warn_at"] == "2025-09-27T00:00:00+08:00");
  CHECK(started["provisional"] == false);
  CHECK(started["calendar_versions"] == json({{"2025", 1}}));
  REQUIRE(c.state.deadlines.count("rectification") == 1);
  CHECK(c.state.deadlines["rectification"].due_date.ToString() == "2025-09-30");

  REQUIRE_OK(c.Run("report_rectification", {{"report", "已补齐"}}, Enterprise(), "2025-09-20T09:00:00+08:00"));
  CHECK(c.state.state == "rectification_reported");
  CHECK(c.LastTypes() == std::vector<std::string>{"risk_item.rectification_reported", "deadline.cleared"});
  CHECK(c.state.deadlines.empty());

  // Failed verification: back to rectifying with generation 2. The new last
  // day, 2025-10-04, falls in the National Day holiday (10-01..10-08) and
  // rolls to Thursday 2025-10-09.
  REQUIRE_OK(c.Run("fail_verification",
                   {{"method", "on_site"}, {"verified_on", "2025-09-25"}, {"findings", "记录仍不完整"},
                    {"notice_no", "N2"}, {"rectify_by", "2025-10-04"}},
                   Inspector(), "2025-09-25T15:00:00+08:00"));
  CHECK(c.state.state == "rectifying");
  CHECK(c.LastTypes() == std::vector<std::string>{"risk_item.verification_failed", "deadline.started"});
  CHECK(c.last[1].payload["generation"] == 2);
  CHECK(c.last[1].payload["due_date"] == "2025-10-09");
  CHECK(c.state.deadlines["rectification"].generation == 2);
  CHECK(c.state.generations["rectification"] == 2);

  REQUIRE_OK(c.Run("report_rectification", {{"report", "全部补齐"}}, Inspector(), "2025-10-08T09:00:00+08:00"));
  REQUIRE_OK(c.Run("pass_verification", {{"method", "desk_review"}, {"verified_on", "2025-10-10"}, {"findings", "整改到位"}},
                   Inspector(), "2025-10-10T09:00:00+08:00"));
  CHECK(c.state.state == "verified");
  REQUIRE_OK(c.Run("close", {{"basis", "跟踪检查（书面审查）通过"}}, Supervisor(), "2025-10-10T10:00:00+08:00"));
  CHECK(c.state.state == "closed");
  CHECK(c.state.facts["basis"] == "跟踪检查（书面审查）通过");
  CHECK(c.state.deadlines.empty());
  CHECK(c.state.version == 12);

  // Terminal: nothing but a correction is accepted.
  REQUIRE_REJECTED(c.Run("refer", {{"to", "police"}, {"reason", "x"}}, Supervisor(), "2025-10-11T10:00:00+08:00"),
                   StatusCode::kRejected, "wrong_state");
}

TEST_CASE("risk_item: closure without a passed verification is rejected") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("risk_item"), "risk_item-x-1");
  REQUIRE_OK(c.Run("open", OpenPayload(), Inspector(), "2025-09-01T10:00:00+08:00"));
  REQUIRE_REJECTED(c.Run("close", {{"basis", "已整改"}}, Inspector(), "2025-09-01T12:00:00+08:00"),
                   StatusCode::kRejected, "closure_without_passed_verification");
  PureCase d(fx, fx.Def("risk_item"), "risk_item-x-2");
  ToReported(d);
  Status s = d.Run("close", {{"basis", "企业已报告整改"}}, Supervisor(), "2025-09-21T12:00:00+08:00");
  REQUIRE_REJECTED(s, StatusCode::kRejected, "closure_without_passed_verification");
  CHECK(s.message() ==
        "closure_without_passed_verification: 未经跟踪检查通过，不得销号 | a risk item can be closed only after a "
        "passed follow-up verification");
  CHECK(d.state.state == "rectification_reported");
}

TEST_CASE("risk_item: workflow-rule rejections") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("risk_item"), "risk_item-x-3");
  const std::string t = "2025-09-01T10:00:00+08:00";

  REQUIRE_REJECTED(c.Run("assign", {{"assignee", "张三"}}, Inspector(), t), StatusCode::kRejected, "case_not_found");
  REQUIRE_REJECTED(c.Run("escalate", json::object(), Inspector(), t), StatusCode::kRejected, "unknown_command");

  json p = OpenPayload();
  p.erase("enterprise");
  Status s = c.Run("open", p, Inspector(), t);
  REQUIRE_REJECTED(s, StatusCode::kRejected, "missing_field");
  CHECK(s.field() == "/payload/enterprise");

  p = OpenPayload();
  p["source"] = "rumour";
  s = c.Run("open", p, Inspector(), t);
  REQUIRE_REJECTED(s, StatusCode::kRejected, "invalid_field");
  CHECK(s.field() == "/payload/source");

  p = OpenPayload();
  p["found_on"] = "2025-02-30";
  REQUIRE_REJECTED(c.Run("open", p, Inspector(), t), StatusCode::kRejected, "invalid_field");
  p = OpenPayload();
  p["office"] = "atlantis";
  REQUIRE_REJECTED(c.Run("open", p, Inspector(), t), StatusCode::kRejected, "invalid_field");
  p = OpenPayload();
  p["colour"] = "red";
  s = c.Run("open", p, Inspector(), t);
  REQUIRE_REJECTED(s, StatusCode::kRejected, "unknown_field");
  CHECK(s.field() == "/payload/colour");
  p = OpenPayload();
  p["description"] = "   ";
  REQUIRE_REJECTED(c.Run("open", p, Inspector(), t), StatusCode::kRejected, "invalid_field");
  REQUIRE_REJECTED(c.Run("open", OpenPayload(), Inspector(), t, "2025-09-02T10:00:00+08:00"), StatusCode::kRejected,
                   "invalid_field");  // occurred_at in the future
  CHECK(c.state.version == 0);

  REQUIRE_OK(c.Run("open", OpenPayload(), Inspector(), t));
  REQUIRE_REJECTED(c.Run("open", OpenPayload(), Inspector(), t), StatusCode::kRejected, "case_already_open");
  s = c.Run("issue_rectification_notice", {{"notice_no", "N"}, {"rectify_by", "2025-09-30"}, {"content", "c"}},
            Inspector(), t);
  REQUIRE_REJECTED(s, StatusCode::kRejected, "wrong_state");
  CHECK(s.message().find("registered") != std::string::npos);
  REQUIRE_OK(c.Run("assign", {{"assignee", "张三"}}, Inspector(), t));
  // A rectification deadline must be after the day the notice is issued.
  s = c.Run("issue_rectification_notice", {{"notice_no", "N"}, {"rectify_by", "2025-09-01"}, {"content", "c"}},
            Inspector(), t);
  REQUIRE_REJECTED(s, StatusCode::kRejected, "invalid_field");
  CHECK(s.field() == "/payload/rectify_by");
  CHECK(c.state.state == "assigned");
}

TEST_CASE("risk_item: authorization is distinct from workflow rules") {
  WorkflowFixture fx;
  PureCase c(fx, fx.Def("risk_item"), "risk_item-x-4");
  const std::string t = "2025-09-01T10:00:00+08:00";
  // Role not allowed.
  REQUIRE_REJECTED(c.Run("open", OpenPayload(), Enterprise(), t), StatusCode::kPermissionDenied, "role_not_allowed");
  REQUIRE_REJECTED(c.Run("open", OpenPayload(), {"aud", "auditor", "shizhu"}, t), StatusCode::kPermissionDenied,
                   "role_not_allowed");
  // Outside the actor's subtree: 万安所 may not open a case for 南宾所.
  REQUIRE_REJECTED(c.Run("open", OpenPayload("nanbin"), Inspector("wanan"), t), StatusCode::kPermissionDenied,
                   "outside_jurisdiction");
  // The county bureau supervises all ten offices.
  REQUIRE_OK(c.Run("open", OpenPayload("nanbin"), Supervisor(), t));
  REQUIRE_REJECTED(c.Run("assign", {{"assignee", "李四"}}, Inspector("wanan"), t), StatusCode::kPermissionDenied,
                   "outside_jurisdiction");
  REQUIRE_OK(c.Run("assign", {{"assignee", "李四"}}, Inspector("nanbin"), t));
  REQUIRE_OK(c.Run("issue_rectification_notice", {{"notice_no", "N"}, {"rectify_by", "2025-09-30"}, {"content", "c"}},
                   Inspector(), t));
  // Another enterprise may not report on this one's case.
  REQUIRE_REJECTED(c.Run("report_rectification", {{"report", "r"}}, Enterprise("ENT999"), t),
                   StatusCode::kPermissionDenied, "outside_jurisdiction");
  // Role is checked before state: an enterprise may never close.
  REQUIRE_REJECTED(c.Run("close", {{"basis", "b"}}, Enterprise(), t), StatusCode::kPermissionDenied,
                   "role_not_allowed");
  // Reassignment needs a supervisor, and both offices in its subtree.
  REQUIRE_REJECTED(c.Run("reassign", {{"office", "wanan"}, {"reason", "辖区调整"}}, Inspector(), t),
                   StatusCode::kPermissionDenied, "role_not_allowed");
}

TEST_CASE("risk_item: referral, reassignment, correction and voiding") {
  WorkflowFixture fx;
  const std::string t = "2025-09-01T10:00:00+08:00";
  {
    PureCase c(fx, fx.Def("risk_item"), "risk_item-r-1");
    ToReported(c);
    REQUIRE_OK(c.Run("refer", {{"to", "police"}, {"reason", "涉嫌犯罪"}}, Supervisor(), "2025-09-21T09:00:00+08:00"));
    CHECK(c.state.state == "referred");
  }
  {
    PureCase c(fx, fx.Def("risk_item"), "risk_item-r-2");
    REQUIRE_OK(c.Run("open", OpenPayload(), Inspector(), t));
    REQUIRE_OK(c.Run("assign", {{"assignee", "张三"}}, Inspector(), t));
    REQUIRE_OK(c.Run("issue_rectification_notice",
                     {{"notice_no", "N"}, {"rectify_by", "2025-09-30"}, {"content", "c"}}, Inspector(), t));
    // Referral while rectifying clears the open deadline in the same write.
    REQUIRE_OK(c.Run("refer", {{"to", "enforcement"}, {"reason", "移送稽查"}}, Inspector(), t));
    CHECK(c.LastTypes() == std::vector<std::string>{"risk_item.referred", "deadline.cleared"});
    CHECK(c.state.deadlines.empty());
  }
  PureCase c(fx, fx.Def("risk_item"), "risk_item-r-3");
  REQUIRE_OK(c.Run("open", OpenPayload(), Inspector(), t));
  REQUIRE_OK(c.Run("assign", {{"assignee", "张三"}}, Inspector(), t));

  // Reassignment: reason required; the case moves to 万安所.
  REQUIRE_REJECTED(c.Run("reassign", {{"office", "wanan"}}, Supervisor(), t), StatusCode::kRejected, "missing_field");
  REQUIRE_OK(c.Run("reassign", {{"office", "wanan"}, {"assignee", "王五"}, {"reason", "企业地址属万安"}}, Supervisor(), t));
  CHECK(c.state.office() == "wanan");
  CHECK(c.state.assignee() == "王五");
  CHECK(c.state.state == "assigned");
  // 南宾所 no longer has it; 万安所 does.
  REQUIRE_REJECTED(c.Run("issue_rectification_notice",
                         {{"notice_no", "N"}, {"rectify_by", "2025-09-30"}, {"content", "c"}}, Inspector("nanbin"), t),
                   StatusCode::kPermissionDenied, "outside_jurisdiction");

  // Correction: a superseding event; the original stays in history.
  REQUIRE_OK(c.Run("correct", {{"corrects_version", 1}, {"fields", {{"risk_level", "medium"}}}, {"reason", "录入错误"}},
                   Inspector("wanan"), t));
  CHECK(c.state.facts["risk_level"] == "medium");
  REQUIRE(c.state.corrections.size() == 1);
  CHECK(c.state.corrections[0]["corrects_version"] == 1);
  CHECK(c.state.history[0].type == "risk_item.opened");
  REQUIRE_REJECTED(c.Run("correct", {{"corrects_version", 1}, {"fields", {{"risk_level", "huge"}}}, {"reason", "r"}},
                         Inspector("wanan"), t),
                   StatusCode::kRejected, "invalid_field");
  REQUIRE_REJECTED(c.Run("correct", {{"corrects_version", 1}, {"fields", {{"office", "nanbin"}}}, {"reason", "r"}},
                         Inspector("wanan"), t),
                   StatusCode::kRejected, "use_reassign");
  REQUIRE_REJECTED(c.Run("correct", {{"corrects_version", 99}, {"fields", {{"risk_level", "low"}}}, {"reason", "r"}},
                         Inspector("wanan"), t),
                   StatusCode::kRejected, "unknown_event_version");
  REQUIRE_REJECTED(c.Run("correct", {{"corrects_version", 2}, {"fields", {{"risk_level", "low"}}}, {"reason", "r"}},
                         Inspector("wanan"), t),
                   StatusCode::kRejected, "unknown_field");  // version 2 is the assignment

  // Voiding: supervisor only, with a reason; then nothing is accepted.
  REQUIRE_REJECTED(c.Run("void", {{"reason", "重复立案"}}, Inspector("wanan"), t), StatusCode::kPermissionDenied,
                   "role_not_allowed");
  REQUIRE_OK(c.Run("void", {{"reason", "重复立案"}}, Supervisor(), t));
  CHECK(c.state.state == "voided");
  REQUIRE_REJECTED(c.Run("correct", {{"corrects_version", 1}, {"fields", {{"risk_level", "low"}}}, {"reason", "r"}},
                         Supervisor(), t),
                   StatusCode::kRejected, "case_voided");
}

}  // namespace
}  // namespace xiaohao::testing
