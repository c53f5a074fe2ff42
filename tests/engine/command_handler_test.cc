// CommandHandler through a real EventStore: conflicts, idempotent retries,
// replay equals the live state (a property test over random commands), and
// old cases replayed under their own definition version.
#include <catch2/catch.hpp>
#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/command_handler.h"
#include "store/event_store.h"
#include "tests/engine/workflow_fixture.h"

namespace xiaohao::testing {
namespace {

using nlohmann::json;

struct StoreFixture : WorkflowFixture {
  TempDir dir;
  ManualClock clock{At("2025-09-01T10:00:00+08:00")};
  std::unique_ptr<EventStore> store;
  std::unique_ptr<CommandHandler> handler;
  StoreFixture() {
    StoreOptions o;
    o.path = dir.Sub("db");
    o.clock = &clock;
    auto s = EventStore::Open(o);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    store = std::move(s).value();
    REQUIRE_OK(registry.RecordInStore(*store, clock.Now()));
    handler = std::make_unique<CommandHandler>(store.get(), &registry, &calendar, &tree, &clock);
  }
  Result<CommandOutcome> Exec(const std::string& case_id, const std::string& name, const json& payload,
                              const Actor& actor, const std::string& command_id) {
    Command c;
    c.case_id = case_id;
    c.name = name;
    c.payload = payload;
    c.command_id = command_id;
    return handler->Execute(c, actor);
  }
};

json OpenRisk() {
  return {{"source", "complaint"}, {"office", "nanbin"},     {"enterprise", "ENT001"}, {"product_category", "口罩"},
          {"risk_level", "medium"}, {"found_on", "2025-09-01"}, {"description", "投诉举报"}};
}

TEST_CASE("command handler: append, conflict with current version, idempotent retry") {
  StoreFixture fx;
  const std::string id = "risk_item-nanbin-0001";
  auto r = fx.Exec(id, "open", OpenRisk(), Inspector(), "c1");
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->first_version == 1);
  CHECK(r->last_version == 1);
  CHECK_FALSE(r->duplicate);
  CHECK(r->state.state == "registered");

  // The same command id again: nothing written, same answer.
  auto again = fx.Exec(id, "open", OpenRisk(), Inspector(), "c1");
  REQUIRE(again.ok());
  CHECK(again->duplicate);
  CHECK(again->first_version == 1);
  CHECK(fx.store->StreamVersion(id).value() == 1);

  REQUIRE(fx.Exec(id, "assign", {{"assignee", "张三"}}, Inspector(), "c2").ok());
  auto notice = fx.Exec(id, "issue_rectification_notice",
                        {{"notice_no", "N"}, {"rectify_by", "2025-09-30"}, {"content", "c"}}, Inspector(), "c3");
  REQUIRE(notice.ok());
  CHECK(notice->event_types == std::vector<std::string>{"risk_item.rectification_ordered", "deadline.started"});
  CHECK(notice->first_version == 3);
  CHECK(notice->last_version == 4);
  // A retry after the case moved on is still safe (not a wrong_state rejection).
  auto retry = fx.Exec(id, "assign", {{"assignee", "张三"}}, Inspector(), "c2");
  REQUIRE(retry.ok());
  CHECK(retry->duplicate);
  CHECK(retry->first_version == 2);

  // A writer that decided on version 4 loses to one that appended first.
  AppendRequest other;
  other.command_id = "other";
  other.events.push_back({id, "deadline.warning", "2025-09-27T00:00:00+08:00", {"t", "system", ""},
                          json({{"deadline", "rectification"}, {"generation", 1}}).dump()});
  REQUIRE(fx.store->Append(other).ok());
  AppendRequest stale;
  stale.command_id = "stale";
  stale.expectations.push_back({id, ExpectedVersion::Exact(4)});
  stale.events.push_back({id, "risk_item.referred", "2025-09-27T00:00:00+08:00", Inspector(),
                          json({{"command", "refer"}, {"data", {{"to", "police"}, {"reason", "r"}}}}).dump()});
  auto conflict = fx.store->Append(stale);
  REQUIRE(conflict.status().code() == StatusCode::kVersionConflict);
  REQUIRE(conflict.status().actual_version() == 5u);

  auto loaded = fx.handler->LoadCase(id);
  REQUIRE(loaded.ok());
  CHECK(loaded->deadlines["rectification"].warned);
  CHECK(loaded->version == 5);

  // Rejections pass through unchanged.
  auto bad = fx.Exec(id, "close", {{"basis", "b"}}, Inspector(), "c9");
  CHECK(RejectionCode(bad.status()) == "closure_without_passed_verification");
  CHECK(fx.handler->LoadCase("risk_item-none").status().code() == StatusCode::kNotFound);
  CHECK(fx.Exec("nonsense", "open", OpenRisk(), Inspector(), "c10").status().code() ==
        StatusCode::kInvalidArgument);
}

// Random commands, drawn from every command of the workflow with plausible
// payloads and random actors; whatever is accepted must leave a valid state,
// and the stored events must replay to exactly the live state.
TEST_CASE("property: random command sequences reach only valid states and replay exactly") {
  StoreFixture fx;
  std::mt19937 rng(20250926);
  auto pick = [&](std::vector<json> v) { return v[rng() % v.size()]; };
  const std::vector<Actor> actors = {Inspector(),  Inspector("wanan"), Supervisor(), ProvinceApprover(),
                                     Enterprise(), Enterprise("E9"),   Admin()};
  auto payload_for = [&](const std::string& wf, const std::string& cmd) -> json {
    if (cmd == "open") return OpenRisk();
    if (cmd == "receive")
      return {{"office", "nanbin"}, {"lead_no", "L"}, {"received_on", "2025-09-01"}, {"enterprise", "ENT001"},
              {"description", "d"}};
    if (cmd == "assign" || cmd == "start_investigation") return {{"assignee", pick({"a", "b"})}};
    if (cmd == "issue_rectification_notice")
      return {{"notice_no", "N"}, {"rectify_by", pick({"2025-09-30", "2025-10-04", "2025-08-01"})}, {"content", "c"}};
    if (cmd == "report_rectification") return {{"report", "r"}};
    if (cmd == "pass_verification") return {{"method", "on_site"}, {"verified_on", "2025-09-20"}, {"findings", "f"}};
    if (cmd == "fail_verification")
      return {{"method", "desk_review"}, {"verified_on", "2025-09-20"}, {"findings", "f"}, {"notice_no", "N2"},
              {"rectify_by", pick({"2025-11-30", "2026-01-01"})}};
    if (cmd == "close") return {{"basis", "b"}};
    if (cmd == "refer") return {{"to", "police"}, {"reason", "r"}};
    if (cmd == "request_extension") return pick({json{{"days", 20}}, json{{"days", 30}}, json{{"days", 30}, {"reason", "r"}}});
    if (cmd == "grant_extension") return json::object();
    if (cmd == "deny_extension") return {{"reason", "r"}};
    if (cmd == "report_result") return {{"result", "no_violation"}, {"summary", "s"}};
    if (cmd == "reassign") return {{"office", pick({"wanan", "nanbin"})}, {"reason", "r"}};
    if (cmd == "correct")
      return {{"corrects_version", static_cast<int>(rng() % 4) + 1}, {"fields", {{"risk_level", "low"}}}, {"reason", "r"}};
    if (cmd == "void") return {{"reason", "r"}};
    (void)wf;
    return json::object();
  };
  int accepted = 0, rejected = 0;
  for (const std::string wf : {"risk_item", "online_sales_lead"}) {
    const WorkflowDefinition& def = fx.Def(wf);
    for (int n = 0; n < 12; ++n) {
      std::string id = wf + "-prop-" + std::to_string(n);
      fx.clock.Set(At("2025-09-01T10:00:00+08:00"));
      CaseState live;
      for (int step = 0; step < 30; ++step) {
        const CommandSpec& spec = step == 0 ? def.commands[0] : def.commands[rng() % def.commands.size()];
        std::string name = spec.name;
        // Mostly an actor whose role may send it (in the case's subtree), sometimes anyone.
        std::vector<Actor> fitting;
        for (const auto& a : actors)
          if (std::find(spec.roles.begin(), spec.roles.end(), a.role) != spec.roles.end() && a.office != "wanan" &&
              a.office != "E9")
            fitting.push_back(a);
        const Actor& actor = (!fitting.empty() && rng() % 4 != 0) ? fitting[rng() % fitting.size()]
                                                                   : actors[rng() % actors.size()];
        fx.clock.Advance(static_cast<int64_t>(rng() % (6 * 86400)) * 1000000);
        auto r = fx.Exec(id, name, payload_for(wf, name), actor, id + "/" + std::to_string(step));
        if (!r.ok()) {
          // Only rule or authorization answers, never an internal error.
          INFO(r.status().ToString());
          REQUIRE((r.status().code() == StatusCode::kRejected || r.status().code() == StatusCode::kPermissionDenied));
          REQUIRE_FALSE(RejectionCode(r.status()).empty());
          ++rejected;
          continue;
        }
        ++accepted;
        live = r->state;
        // Invariants of every reachable state.
        REQUIRE(def.FindState(live.state) != nullptr);
        const StateSpec* st = def.FindState(live.state);
        if (st->terminal) REQUIRE(live.deadlines.empty());
        for (const auto& [name2, d] : live.deadlines) {
          REQUIRE(def.FindDeadline(name2) != nullptr);
          REQUIRE(d.generation == live.generations.at(name2));
          REQUIRE(d.extensions <= 1);
        }
        if (wf == "risk_item") {
          if (live.state == "rectifying") REQUIRE(live.deadlines.count("rectification") == 1);
          if (live.state == "closed") {
            bool passed = false;
            for (const auto& h : live.history) passed = passed || h.type == "risk_item.verification_passed";
            REQUIRE(passed);
          }
        }
        if (wf == "online_sales_lead" && live.state == "extension_requested")
          REQUIRE(live.deadlines.at("investigation").pending_days.has_value());
      }
      if (!live.exists()) continue;
      auto replayed = fx.handler->LoadCase(id);
      REQUIRE(replayed.ok());
      REQUIRE(replayed->ToJson() == live.ToJson());
    }
  }
  CHECK(accepted > 50);
  CHECK(rejected > 50);
}

TEST_CASE("an old case replays under its own definition version after a newer one is loaded") {
  TempDir defs;
  std::string v1_text;
  {
    std::ifstream in(SourceDir() + "/workflows/definitions/risk_item.json");
    std::stringstream ss;
    ss << in.rdbuf();
    v1_text = ss.str();
  }
  StoreFixture fx;  // records every shipped definition (risk_item v1) in $workflows
  const std::string old_case = "risk_item-old-1";
  REQUIRE(fx.Exec(old_case, "open", OpenRisk(), Inspector(), "o1").ok());
  REQUIRE(fx.Exec(old_case, "assign", {{"assignee", "a"}}, Inspector(), "o2").ok());

  // Version 2 renames the assignment event and drops "refer".
  json v2 = json::parse(v1_text);
  v2["version"] = 2;
  for (auto& t : v2["transitions"])
    if (t["command"] == "assign") t["event"] = "person_assigned";
  v2["commands"].erase("refer");
  json kept = json::array();
  for (auto& t : v2["transitions"])
    if (t["command"] != "refer") kept.push_back(t);
  v2["transitions"] = kept;
  v2["deadlines"][0]["clear_on"] = json::array({"rectification_reported"});
  auto d2 = ParseWorkflowDefinition(v2.dump(), "risk_item.v2.json");
  INFO(d2.status().ToString());
  REQUIRE(d2.ok());
  REQUIRE_OK(fx.registry.Add(std::move(d2).value()));
  REQUIRE_OK(fx.registry.RecordInStore(*fx.store, fx.clock.Now()));

  // A fresh process knows both versions from the store alone.
  WorkflowRegistry from_store;
  REQUIRE_OK(from_store.LoadFromStore(*fx.store));
  REQUIRE(from_store.Find("risk_item", 1) != nullptr);
  REQUIRE(from_store.Find("risk_item", 2) != nullptr);
  CommandHandler h(fx.store.get(), &from_store, &fx.calendar, &fx.tree, &fx.clock);

  auto old_state = h.LoadCase(old_case);
  REQUIRE(old_state.ok());
  CHECK(old_state->workflow_version == 1);
  CHECK(old_state->state == "assigned");
  CHECK(old_state->history[1].type == "risk_item.assigned");
  // The old case keeps v1's rules: refer is still allowed there.
  Command refer{old_case, "refer", {{"to", "police"}, {"reason", "r"}}, "", "o3"};
  auto r = h.Execute(refer, Inspector());
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->state.state == "referred");

  // A new case opens under v2, where refer is unknown.
  Command open{"risk_item-new-1", "open", OpenRisk(), "", "n1"};
  auto n = h.Execute(open, Inspector());
  REQUIRE(n.ok());
  CHECK(n->state.workflow_version == 2);
  Command assign{"risk_item-new-1", "assign", {{"assignee", "a"}}, "", "n2"};
  auto a = h.Execute(assign, Inspector());
  REQUIRE(a.ok());
  CHECK(a->event_types == std::vector<std::string>{"risk_item.person_assigned"});
  Command refer2{"risk_item-new-1", "refer", {{"to", "police"}, {"reason", "r"}}, "", "n3"};
  CHECK(RejectionCode(h.Execute(refer2, Inspector()).status()) == "unknown_command");

  // Changing a recorded version without bumping its number is refused.
  WorkflowRegistry changed;
  json v1_changed = json::parse(v1_text);
  v1_changed["title"] = "改过的标题";
  REQUIRE_OK(changed.Add(ParseWorkflowDefinition(v1_changed.dump(), "x.json").value()));
  CHECK(changed.RecordInStore(*fx.store, fx.clock.Now()).code() == StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace xiaohao::testing
