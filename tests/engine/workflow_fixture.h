// Shared fixture for the workflow tests: the repository's definitions,
// calendars and jurisdictions, with helpers to decide and apply commands
// without a store.
#ifndef XIAOHAO_TESTS_ENGINE_WORKFLOW_FIXTURE_H_
#define XIAOHAO_TESTS_ENGINE_WORKFLOW_FIXTURE_H_

#include <catch2/catch.hpp>
#include <string>

#include "engine/calendar.h"
#include "engine/jurisdiction.h"
#include "engine/rejection.h"
#include "engine/workflow.h"
#include "engine/workflow_registry.h"
#include "store/time_format.h"
#include "tests/test_util.h"

namespace xiaohao::testing {

inline UnixMicros At(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  REQUIRE(t.ok());
  return t->instant;
}

// Actors of the sample tree (workflows/jurisdictions/chongqing.json).
inline Actor Inspector(const std::string& office = "nanbin") { return {"insp-" + office, "inspector", office}; }
inline Actor Supervisor() { return {"sup-shizhu", "supervisor", "shizhu"}; }
inline Actor ProvinceApprover() { return {"prov-cq", "province_approver", "chongqing"}; }
inline Actor Enterprise(const std::string& id = "ENT001") { return {"user-" + id, "enterprise", id}; }
inline Actor Admin() { return {"root", "admin", ""}; }

struct WorkflowFixture {
  WorkflowRegistry registry;
  BusinessCalendar calendar;
  JurisdictionTree tree;

  WorkflowFixture() {
    std::string dir = SourceDir() + "/workflows";
    Status s = registry.LoadDir(dir + "/definitions");
    INFO(s.ToString());
    REQUIRE(s.ok());
    auto cal = BusinessCalendar::LoadDir(dir + "/calendars");
    REQUIRE(cal.ok());
    calendar = std::move(cal).value();
    auto t = JurisdictionTree::LoadDir(dir + "/jurisdictions");
    REQUIRE(t.ok());
    tree = std::move(t).value();
  }
  DecideContext ctx() const { return {&calendar, &tree}; }
  const WorkflowDefinition& Def(const std::string& id) {
    const WorkflowDefinition* d = registry.Latest(id);
    REQUIRE(d != nullptr);
    return *d;
  }
};

// A case driven without a store: Decide, then Apply what it drafted.
struct PureCase {
  const WorkflowDefinition* def;
  const WorkflowFixture* fx;
  CaseState state;
  std::string id;
  std::vector<EventDraft> last;  // what the last accepted command drafted

  PureCase(const WorkflowFixture& f, const WorkflowDefinition& d, std::string case_id)
      : def(&d), fx(&f), id(std::move(case_id)) {}

  // Runs a command at `when` (both now and occurred_at). Returns its status;
  // on success the state moves on.
  Status Run(const std::string& name, const nlohmann::json& payload, const Actor& actor, const std::string& when,
             const std::string& occurred_at = "") {
    Command c;
    c.case_id = id;
    c.name = name;
    c.payload = payload;
    c.occurred_at = occurred_at.empty() ? when : occurred_at;
    c.command_id = "cmd-" + std::to_string(state.version + 1);
    auto drafts = Decide(*def, state, c, actor, At(when), fx->ctx());
    if (!drafts.ok()) return drafts.status();
    last = *drafts;
    for (const auto& d : *drafts) {
      CaseEvent e{id, state.version + 1, d.type, c.occurred_at, actor, d.payload};
      auto next = Apply(*def, state, e);
      if (!next.ok()) return next.status();
      state = std::move(next).value();
    }
    return Status::OK();
  }
  std::vector<std::string> LastTypes() const {
    std::vector<std::string> t;
    for (const auto& d : last) t.push_back(d.type);
    return t;
  }
};

#define REQUIRE_OK(expr)                  \
  do {                                    \
    ::xiaohao::Status s_ = (expr);        \
    INFO(s_.ToString());                  \
    REQUIRE(s_.ok());                     \
  } while (0)

// Asserts a status is a rejection/denial with the given StatusCode and code.
#define REQUIRE_REJECTED(expr, status_code, code_text) \
  do {                                                 \
    ::xiaohao::Status s_ = (expr);                     \
    INFO(s_.ToString());                               \
    REQUIRE(s_.code() == (status_code));               \
    REQUIRE(::xiaohao::RejectionCode(s_) == (code_text)); \
  } while (0)

}  // namespace xiaohao::testing

#endif  // XIAOHAO_TESTS_ENGINE_WORKFLOW_FIXTURE_H_
