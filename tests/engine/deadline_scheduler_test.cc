// The durable deadline scheduler: warnings, overdue notices and escalations,
// exactly once, driven by a simulated clock against an in-memory store.
#include "engine/deadline_scheduler.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "engine/case_summary.h"
#include "engine/command_handler.h"
#include "engine/deadline_index.h"
#include "engine/deadline_timer.h"
#include <thread>
#include "store/fault_injection.h"
#include "tests/engine/workflow_fixture.h"

namespace xiaohao::testing {
namespace {

using nlohmann::json;

struct SchedulerFixture : WorkflowFixture {
  std::unique_ptr<FaultInjectionEnv> fs = FaultInjectionEnv::Create(/*in_memory=*/true);
  ManualClock clock{At("2025-01-01T00:00:00+08:00")};
  DeadlineIndex index;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<CommandHandler> handler;
  std::unique_ptr<DeadlineScheduler> scheduler;

  SchedulerFixture() { Open(); }
  void Open() {
    scheduler.reset();
    handler.reset();
    store.reset();
    StoreOptions o;
    o.path = "/mem/db";
    o.env = fs->env();
    o.clock = &clock;
    o.hooks = {&index};
    auto s = EventStore::Open(o);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    store = std::move(s).value();
    handler = std::make_unique<CommandHandler>(store.get(), &registry, &calendar, &tree, &clock);
    scheduler = std::make_unique<DeadlineScheduler>(
        SchedulerDeps{store.get(), &index, handler.get(), &registry, &calendar, &tree});
  }
  Status Run(const std::string& case_id, const std::string& name, const json& payload, const Actor& actor,
             const std::string& when, const std::string& occurred_at = "") {
    clock.Set(std::max(clock.Now(), At(when)));
    Command c;
    c.case_id = case_id;
    c.name = name;
    c.payload = payload;
    c.occurred_at = occurred_at.empty() ? when : occurred_at;
    c.command_id = case_id + "/" + name + "/" + when;
    return handler->Execute(c, actor).status();
  }
  RunReport Tick(const std::string& when) {
    clock.Set(At(when));
    auto r = scheduler->RunDue(clock.Now());
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }
  std::vector<RecordedEvent> Events(const std::string& case_id, const std::string& type) {
    auto all = store->ReadStream(case_id);
    REQUIRE(all.ok());
    std::vector<RecordedEvent> out;
    for (auto& e : *all)
      if (e.type == type) out.push_back(e);
    return out;
  }
  // The shipped calendars plus a test 2027 arrangement (Spring Festival
  // 02-06..02-12 off), as if the year's notice had just been published.
  void LoadCalendarWith2027() {
    TempDir dir;
    for (int y : {2024, 2025, 2026}) {
      std::ifstream in(SourceDir() + "/workflows/calendars/cn-" + std::to_string(y) + ".json");
      std::ofstream(dir.Sub("cn-" + std::to_string(y) + ".json")) << in.rdbuf();
    }
    std::ofstream(dir.Sub("cn-2027.json"))
        << R"({"year": 2027, "version": 1, "notice": "测试用 2027 年安排",
              "blocks": [{"name": "春节", "notice": "测试用", "days_off": {"first": "2027-02-06", "last": "2027-02-12", "total_days": 7}, "adjusted_workdays": []}]})";
    auto cal = BusinessCalendar::LoadDir(dir.path());
    INFO(cal.status().ToString());
    REQUIRE(cal.ok());
    calendar = std::move(cal).value();
  }
  void ReceiveLead(const std::string& id, const std::string& received_on, const std::string& when) {
    REQUIRE_OK(Run(id, "receive",
                   {{"office", "nanbin"}, {"lead_no", id}, {"received_on", received_on}, {"enterprise", "ENT001"},
                    {"description", "平台销售未备案产品"}},
                   Inspector(), when));
  }
};

}  // namespace

TEST_CASE("deadlines: the 50-day window warns, goes overdue and escalates, each exactly once") {
  SchedulerFixture f;
  f.ReceiveLead("online_sales_lead-a", "2025-09-26", "2025-09-26T16:00:00+08:00");
  auto next = f.index.NextFire();
  REQUIRE(next.ok());
  CHECK(**next == At("2025-11-07T00:00:00+08:00"));  // warning 10 days before 11-17

  CHECK(f.Tick("2025-11-06T23:59:59+08:00").total() == 0);
  auto r = f.Tick("2025-11-07T00:00:00+08:00");
  CHECK(r.warnings == 1);
  CHECK(r.total() == 1);
  CHECK(f.Tick("2025-11-10T12:00:00+08:00").total() == 0);  // not again
  auto warnings = f.Events("online_sales_lead-a", "deadline.warning");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].occurred_at == "2025-11-07T00:00:00+08:00");
  CHECK(warnings[0].command_id == "deadline/online_sales_lead-a/investigation/g1/2025-11-17/warning");

  // The last day, 2025-11-17, ends at 24:00 CST: not overdue one second before.
  CHECK(f.Tick("2025-11-17T23:59:59+08:00").total() == 0);
  r = f.Tick("2025-11-18T00:00:00+08:00");
  CHECK(r.overdue == 1);
  CHECK(r.escalations == 1);  // rung 1 is "after 0d": the office is told at once
  auto overdue = f.Events("online_sales_lead-a", "deadline.overdue");
  REQUIRE(overdue.size() == 1);
  json p = json::parse(overdue[0].payload_json);
  CHECK(p["due_date"] == "2025-11-17");
  CHECK(p["office"] == "nanbin");
  auto state = f.handler->LoadCase("online_sales_lead-a");
  REQUIRE(state.ok());
  CHECK(state->deadlines.at("investigation").overdue);

  // Rung 2: 3 days later, to the county bureau.
  CHECK(f.Tick("2025-11-20T12:00:00+08:00").total() == 0);
  r = f.Tick("2025-11-21T00:00:00+08:00");
  CHECK(r.escalations == 1);
  auto esc = f.Events("online_sales_lead-a", "deadline.escalated");
  REQUIRE(esc.size() == 2);
  json e2 = json::parse(esc[1].payload_json);
  CHECK(e2["step"] == 2);
  CHECK(e2["notify_unit"] == "shizhu");
  // Rung 3, to the province: 石柱县 has no city bureau; the chain skips it.
  r = f.Tick("2025-12-31T00:00:00+08:00");
  CHECK(r.escalations == 1);
  esc = f.Events("online_sales_lead-a", "deadline.escalated");
  REQUIRE(esc.size() == 3);
  CHECK(json::parse(esc[2].payload_json)["notify_unit"] == "chongqing");
  CHECK(f.Tick("2026-06-30T00:00:00+08:00").total() == 0);  // the ladder is done
  CHECK_FALSE((*f.index.NextFire()).has_value());
  // ...but the deadline is still open, and listed among the overdue.
  auto listed = f.index.DueBetween(0, f.clock.Now(), 10);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().stage == IndexedDeadline::Stage::kDone);
  // The deadline stays open (overdue) until the result is reported.
  REQUIRE_OK(f.Run("online_sales_lead-a", "start_investigation", {{"assignee", "张三"}}, Inspector(),
                   "2026-01-05T09:00:00+08:00"));
  REQUIRE_OK(f.Run("online_sales_lead-a", "report_result", {{"result", "no_violation"}, {"summary", "已核查"}},
                   Inspector(), "2026-01-06T09:00:00+08:00"));
  CHECK_FALSE((*f.index.Find("online_sales_lead-a", "investigation")).has_value());
}

TEST_CASE("deadlines: a clearing event removes the deadline, nothing fires") {
  SchedulerFixture f;
  f.ReceiveLead("online_sales_lead-b", "2025-09-26", "2025-09-26T16:00:00+08:00");
  REQUIRE_OK(f.Run("online_sales_lead-b", "start_investigation", {{"assignee", "李四"}}, Inspector(),
                   "2025-09-27T09:00:00+08:00"));
  REQUIRE_OK(f.Run("online_sales_lead-b", "report_result", {{"result", "no_violation"}, {"summary", "已核查"}},
                   Inspector(), "2025-10-20T09:00:00+08:00"));
  CHECK(f.Tick("2026-12-31T00:00:00+08:00").total() == 0);
  CHECK(f.Events("online_sales_lead-b", "deadline.warning").empty());
  CHECK(f.Events("online_sales_lead-b", "deadline.overdue").empty());
}

TEST_CASE("deadlines: an extension moves the deadline, the old due date does not fire") {
  SchedulerFixture f;
  f.ReceiveLead("online_sales_lead-c", "2025-09-26", "2025-09-26T16:00:00+08:00");
  REQUIRE_OK(f.Run("online_sales_lead-c", "start_investigation", {{"assignee", "王五"}}, Inspector(),
                   "2025-09-27T09:00:00+08:00"));
  REQUIRE(f.Tick("2025-11-07T08:00:00+08:00").warnings == 1);
  REQUIRE_OK(f.Run("online_sales_lead-c", "request_extension", {{"days", 20}}, Inspector(),
                   "2025-11-10T09:00:00+08:00"));
  REQUIRE_OK(f.Run("online_sales_lead-c", "grant_extension", json::object(), ProvinceApprover(),
                   "2025-11-12T09:00:00+08:00"));
  // 50 + 20 days from the same start, 2025-09-26: Fri 2025-12-05.
  auto d = f.index.Find("online_sales_lead-c", "investigation");
  REQUIRE(d.ok());
  REQUIRE(d->has_value());
  CHECK((*d)->due_date == "2025-12-05");
  CHECK(f.Tick("2025-11-18T00:00:00+08:00").overdue == 0);  // the original day passes quietly
  auto r = f.Tick("2025-11-25T00:00:00+08:00");
  CHECK(r.warnings == 1);  // the extended deadline warns again, 10 days before
  CHECK(f.Tick("2025-12-05T23:00:00+08:00").overdue == 0);
  CHECK(f.Tick("2025-12-06T00:00:00+08:00").overdue == 1);
}

TEST_CASE("deadlines: a last day inside Spring Festival rolls over, and fires only after it") {
  SchedulerFixture f;
  // Received 2025-12-27: the 50th day is Sun 2026-02-15, inside the holiday
  // (02-15..02-23): the period ends Tue 2026-02-24.
  f.ReceiveLead("online_sales_lead-sf", "2025-12-27", "2025-12-27T10:00:00+08:00");
  auto d = f.index.Find("online_sales_lead-sf", "investigation");
  REQUIRE(d.ok());
  REQUIRE(d->has_value());
  CHECK((*d)->due_date == "2026-02-24");
  f.Tick("2026-02-20T00:00:00+08:00");
  CHECK(f.Tick("2026-02-24T23:59:59+08:00").overdue == 0);
  CHECK(f.Tick("2026-02-25T00:00:00+08:00").overdue == 1);
}

TEST_CASE("deadlines: after a restart the scheduler catches up what passed while it was down, oldest first") {
  SchedulerFixture f;
  f.ReceiveLead("online_sales_lead-late", "2025-10-20", "2025-10-20T10:00:00+08:00");
  f.ReceiveLead("online_sales_lead-early", "2025-09-26", "2025-09-26T10:00:00+08:00");
  f.Open();  // a restart: the index is read from the store, not rebuilt
  auto r = f.Tick("2026-03-01T00:00:00+08:00");
  CHECK(r.warnings == 0);  // the deadlines had passed: no stale warnings, straight to overdue
  CHECK(r.overdue == 2);
  auto log = f.store->ReadLog(1, 1000);
  REQUIRE(log.ok());
  std::vector<std::string> overdue_order;
  for (const auto& e : *log)
    if (e.type == "deadline.overdue") overdue_order.push_back(e.stream_id);
  CHECK(overdue_order == std::vector<std::string>{"online_sales_lead-early", "online_sales_lead-late"});
  f.Open();
  CHECK(f.Tick("2026-03-01T00:00:00+08:00").total() == 0);  // exactly once across restarts
}

TEST_CASE("deadlines: a year of leads over a thousand cases, each firing once") {
  SchedulerFixture f;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> day(0, 364), answer(20, 80);
  std::map<std::string, int> answered_after;  // days after receipt the result is reported
  const int kCases = 1000;
  std::vector<std::pair<int, std::string>> receipts;
  for (int i = 0; i < kCases; ++i) receipts.push_back({day(rng), "online_sales_lead-y" + std::to_string(i)});
  std::sort(receipts.begin(), receipts.end());
  // Walk the year a day at a time: receive, answer, and run the scheduler.
  std::map<int, std::vector<std::string>> answers_on;
  size_t next = 0;
  for (int d = 0; d < 365 + 120; ++d) {
    Date today = Date::FromYmd(2025, 1, 1);
    today.days += d;
    std::string noon = today.ToString() + "T12:00:00+08:00";
    // The timer fires at midnight CST, when yesterday's deadlines have passed.
    f.Tick(today.ToString() + "T00:00:00+08:00");
    while (next < receipts.size() && receipts[next].first == d) {
      const std::string& id = receipts[next].second;
      f.ReceiveLead(id, today.ToString(), noon);
      int after = answer(rng);
      answered_after[id] = after;
      answers_on[d + after].push_back(id);
      ++next;
    }
    for (const auto& id : answers_on[d]) {
      REQUIRE_OK(f.Run(id, "start_investigation", {{"assignee", "张三"}}, Inspector(), noon));
      REQUIRE_OK(f.Run(id, "report_result", {{"result", "no_violation"}, {"summary", "已核查"}}, Inspector(), noon));
    }
  }
  // Each case: overdue exactly once if answered after its due date, never otherwise.
  size_t overdue_cases = 0;
  for (const auto& [id, after] : answered_after) {
    auto state = f.store->ReadStream(id);
    REQUIRE(state.ok());
    int overdue = 0, warnings = 0;
    std::string due;
    for (const auto& e : *state) {
      if (e.type == "deadline.overdue") ++overdue;
      if (e.type == "deadline.warning") ++warnings;
      if (e.type == "deadline.started") due = json::parse(e.payload_json)["due_date"];
    }
    Date reported = Date::OfInstant(ParseRfc3339(state->back().occurred_at)->instant);
    bool late = reported > *Date::Parse(due);
    INFO(id << " due " << due << " reported " << reported.ToString());
    CHECK(overdue == (late ? 1 : 0));
    CHECK(warnings <= 1);
    overdue_cases += late;
  }
  CHECK(overdue_cases > 0);
  CHECK(overdue_cases < answered_after.size());
}
}  // namespace xiaohao::testing

namespace xiaohao::testing {

TEST_CASE("deadlines: the Asio timer fires a deadline set in the past at once, poked by the index") {
  SchedulerFixture f;
  f.clock.Set(At("2026-03-01T00:00:00+08:00"));
  DeadlineTimerOptions to;
  std::atomic<int> errors{0};
  to.on_error = [&](const Status&) { errors++; };
  DeadlineTimer timer(f.store.get(), f.scheduler.get(), &f.index, &f.clock, to);
  timer.Start();
  f.index.SetOnScheduled([&](UnixMicros at, uint64_t position) { timer.Poke(at, position); });
  // Let the start-up run finish, so only the poke can wake the timer in time.
  for (int i = 0; i < 100 && timer.runs() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(timer.runs() >= 1);
  f.ReceiveLead("online_sales_lead-timer", "2025-09-26", "2025-09-26T16:00:00+08:00");
  bool fired = false;
  for (int i = 0; i < 300 && !fired; ++i) {
    fired = !f.Events("online_sales_lead-timer", "deadline.overdue").empty();
    if (!fired) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  f.index.SetOnScheduled(nullptr);
  timer.Stop();
  CHECK(fired);
  CHECK(errors == 0);
  CHECK(timer.last_error().ok());
}

TEST_CASE("deadlines: a timer whose runs fail keeps retrying, says why, and fires once the fault clears",
          "[faults]") {
  SchedulerFixture f;
  f.clock.Set(At("2026-03-01T00:00:00+08:00"));
  f.ReceiveLead("online_sales_lead-failing", "2025-09-26", "2025-09-26T16:00:00+08:00");
  f.Open();  // the case is read back from a table file now, not a memtable
  // A disk that fails reads: the overdue deadline's case cannot be loaded.
  f.fs->SetReadsFailAfter(0);
  DeadlineTimerOptions to;
  to.retry_delay_micros = 10'000;
  std::atomic<int> errors{0};
  to.on_error = [&](const Status&) { errors++; };
  DeadlineTimer timer(f.store.get(), f.scheduler.get(), &f.index, &f.clock, to);
  CHECK(timer.last_error().ok());  // no run yet
  timer.Start();
  for (int i = 0; i < 500 && errors < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(errors >= 3);  // retried, not given up
  Status failing = timer.last_error();
  INFO(failing.ToString());
  CHECK(failing.code() == StatusCode::kIOError);
  CHECK_THAT(failing.message(), Catch::Contains("loading online_sales_lead-failing"));
  // The disk recovers: the next retry fires the deadline, and the error clears.
  // (The test reads the store only once the timer stopped: two threads on
  // one cached block of Debian's uninstrumented RocksDB read as a race to
  // ThreadSanitizer.)
  f.fs->SetReadsFailAfter(-1);
  for (int i = 0; i < 500 && !timer.last_error().ok(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  timer.Stop();
  CHECK(timer.last_error().ok());
  CHECK(f.Events("online_sales_lead-failing", "deadline.overdue").size() == 1);
}

}  // namespace xiaohao::testing

namespace xiaohao::testing {

TEST_CASE("deadlines: a result recorded late but reported in time supersedes the overdue notice") {
  SchedulerFixture f;
  f.ReceiveLead("online_sales_lead-late-record", "2025-09-26", "2025-09-26T16:00:00+08:00");
  REQUIRE_OK(f.Run("online_sales_lead-late-record", "start_investigation", {{"assignee", "张三"}}, Inspector(),
                   "2025-09-27T09:00:00+08:00"));
  REQUIRE(f.Tick("2025-11-18T00:00:00+08:00").overdue == 1);
  // Recorded on 11-20, the result was in fact reported on 11-17, the last day.
  REQUIRE_OK(f.Run("online_sales_lead-late-record", "report_result", {{"result", "no_violation"}, {"summary", "已核查"}},
                   Inspector(), "2025-11-20T10:00:00+08:00", "2025-11-17T17:00:00+08:00"));
  auto corrected = f.Events("online_sales_lead-late-record", "deadline.overdue_corrected");
  REQUIRE(corrected.size() == 1);
  json p = json::parse(corrected[0].payload_json);
  CHECK(p["due_date"] == "2025-11-17");
  CHECK(p["cleared_at"] == "2025-11-17T17:00:00+08:00");
  // The original overdue notice stays in the log; nothing more fires.
  CHECK(f.Events("online_sales_lead-late-record", "deadline.overdue").size() == 1);
  CHECK(f.Tick("2026-06-01T00:00:00+08:00").total() == 0);

  // A result that really was late gets no correction.
  f.ReceiveLead("online_sales_lead-really-late", "2025-09-26", "2025-09-26T16:00:00+08:00");
  REQUIRE_OK(f.Run("online_sales_lead-really-late", "start_investigation", {{"assignee", "张三"}}, Inspector(),
                   "2025-09-27T09:00:00+08:00"));
  f.Tick("2025-11-19T00:00:00+08:00");
  REQUIRE_OK(f.Run("online_sales_lead-really-late", "report_result", {{"result", "no_violation"}, {"summary", "已核查"}},
                   Inspector(), "2026-06-02T10:00:00+08:00", "2025-11-18T09:00:00+08:00"));
  CHECK(f.Events("online_sales_lead-really-late", "deadline.overdue_corrected").empty());
}

TEST_CASE("deadlines: a fact dated before the case's previous event is refused, and cannot undo an overdue notice") {
  SchedulerFixture f;
  const std::string id = "online_sales_lead-backdated";
  f.ReceiveLead(id, "2025-09-26", "2025-09-26T16:00:00+08:00");
  REQUIRE_OK(f.Run(id, "start_investigation", {{"assignee", "王五"}}, Inspector(), "2025-09-27T09:00:00+08:00"));
  REQUIRE(f.Tick("2025-11-18T00:00:00+08:00").overdue == 1);
  const uint64_t version = *f.store->StreamVersion(id);
  // A result "reported" 25 years before the lead was received would pass
  // as a late record made in time.
  REQUIRE_REJECTED(f.Run(id, "report_result", {{"result", "no_violation"}, {"summary", "已核查"}}, Inspector(),
                         "2025-11-20T10:00:00+08:00", "2000-01-01T00:00:00+08:00"),
                   StatusCode::kRejected, "occurred_out_of_order");
  // Between receipt and the start of the investigation: still before the previous event.
  REQUIRE_REJECTED(f.Run(id, "report_result", {{"result", "no_violation"}, {"summary", "已核查"}}, Inspector(),
                         "2025-11-20T10:00:00+08:00", "2025-09-27T08:59:59+08:00"),
                   StatusCode::kRejected, "occurred_out_of_order");
  CHECK(*f.store->StreamVersion(id) == version);  // nothing written
  CHECK(f.Events(id, "deadline.overdue_corrected").empty());
  // At the same instant as the previous event, or later, is a fact in order.
  REQUIRE_OK(f.Run(id, "report_result", {{"result", "no_violation"}, {"summary", "已核查"}}, Inspector(),
                   "2025-11-20T10:00:00+08:00", "2025-09-27T09:00:00+08:00"));
  CHECK(f.Events(id, "deadline.overdue_corrected").size() == 1);

  // A second request after a refusal cannot be dated back before the refusal
  // to pass as made before expiry.
  const std::string ext = "online_sales_lead-backdated-request";
  f.ReceiveLead(ext, "2025-09-26", "2025-09-26T16:00:00+08:00");
  REQUIRE_OK(f.Run(ext, "start_investigation", {{"assignee", "王五"}}, Inspector(), "2025-11-20T10:10:00+08:00",
                   "2025-09-27T09:00:00+08:00"));
  REQUIRE_OK(f.Run(ext, "request_extension", {{"days", 20}}, Inspector(), "2025-11-20T10:20:00+08:00",
                   "2025-11-17T20:00:00+08:00"));
  REQUIRE_OK(f.Run(ext, "deny_extension", {{"reason", "理由不充分"}}, ProvinceApprover(), "2025-11-20T10:30:00+08:00",
                   "2025-11-18T00:30:00+08:00"));
  REQUIRE_REJECTED(f.Run(ext, "request_extension", {{"days", 20}}, Inspector(), "2025-11-20T10:40:00+08:00",
                         "2025-11-17T23:59:59+08:00"),
                   StatusCode::kRejected, "occurred_out_of_order");
  // Dated truthfully, it is too late.
  REQUIRE_REJECTED(f.Run(ext, "request_extension", {{"days", 20}}, Inspector(), "2025-11-20T10:50:00+08:00"),
                   StatusCode::kRejected, "extension_too_late");
}

TEST_CASE("deadlines: an extension asked in time but granted after expiry supersedes the overdue notice") {
  SchedulerFixture f;
  const std::string id = "online_sales_lead-granted-late";
  f.ReceiveLead(id, "2025-09-26", "2025-09-26T16:00:00+08:00");
  REQUIRE_OK(f.Run(id, "start_investigation", {{"assignee", "王五"}}, Inspector(), "2025-09-27T09:00:00+08:00"));
  // Asked on the last day (seed 001 §九: before the 50 days expire); the
  // province decides two days later, after the overdue notice fired.
  REQUIRE_OK(f.Run(id, "request_extension", {{"days", 20}}, Inspector(), "2025-11-17T20:00:00+08:00"));
  REQUIRE(f.Tick("2025-11-18T00:00:00+08:00").overdue == 1);
  REQUIRE_OK(f.Run(id, "grant_extension", json::object(), ProvinceApprover(), "2025-11-19T09:00:00+08:00"));
  auto corrected = f.Events(id, "deadline.overdue_corrected");
  REQUIRE(corrected.size() == 1);
  json p = json::parse(corrected[0].payload_json);
  CHECK(p["cause"] == "extension_granted");
  CHECK(p["due_date"] == "2025-11-17");
  CHECK(p["extended_due_date"] == "2025-12-05");
  // The notice stays in the log; the case is no longer overdue, and its
  // summary (what /v1/rates counts as answered in time) forgets it.
  CHECK(f.Events(id, "deadline.overdue").size() == 1);
  auto state = f.handler->LoadCase(id);
  REQUIRE(state.ok());
  CHECK_FALSE(state->deadlines.at("investigation").overdue);
  CHECK(state->deadlines.at("investigation").due_date.ToString() == "2025-12-05");
  auto all = f.store->ReadStream(id);
  REQUIRE(all.ok());
  CaseSummary summary;
  for (const auto& e : *all) FoldCaseEvent(f.registry, e, &summary);
  CHECK_FALSE(summary.ever_overdue);
  CHECK_FALSE(summary.overdue());
  // The extended deadline fires on its own date, once.
  CHECK(f.Tick("2025-12-05T23:00:00+08:00").overdue == 0);
  CHECK(f.Tick("2025-12-06T00:00:00+08:00").overdue == 1);

  // Granted after the extended period had passed too: the notice stands.
  const std::string late = "online_sales_lead-granted-too-late";
  f.ReceiveLead(late, "2025-09-26", "2025-09-26T16:00:00+08:00");
  REQUIRE_OK(f.Run(late, "start_investigation", {{"assignee", "王五"}}, Inspector(), "2025-12-10T09:00:00+08:00",
                   "2025-09-27T09:00:00+08:00"));
  REQUIRE_OK(f.Run(late, "request_extension", {{"days", 20}}, Inspector(), "2025-12-10T09:10:00+08:00",
                   "2025-11-17T20:00:00+08:00"));
  f.Tick("2025-12-10T10:00:00+08:00");
  REQUIRE(f.Events(late, "deadline.overdue").size() == 1);
  REQUIRE_OK(f.Run(late, "grant_extension", json::object(), ProvinceApprover(), "2025-12-10T11:00:00+08:00"));
  CHECK(f.Events(late, "deadline.overdue_corrected").empty());
  CHECK(f.Events(late, "deadline.extended").size() == 1);
}

TEST_CASE("deadlines: a calendar amended after a deadline went overdue moves it into the future and withdraws the notice") {
  SchedulerFixture f;
  // 50 days from 2026-12-20: 2027-02-08 with no 2027 calendar (weekends only).
  const std::string id = "online_sales_lead-amended";
  f.ReceiveLead(id, "2026-12-20", "2026-12-20T10:00:00+08:00");
  REQUIRE(f.Tick("2027-02-09T00:00:00+08:00").overdue == 1);
  // On 02-09 the 2027 arrangement arrives: 02-06..02-12 off, so the last
  // day is 02-15, which has not come.
  f.LoadCalendarWith2027();
  f.clock.Set(At("2027-02-09T08:00:00+08:00"));
  auto n = f.scheduler->RecomputeForCalendar(f.clock.Now());
  REQUIRE(n.ok());
  CHECK(*n == 1);
  auto corrected = f.Events(id, "deadline.overdue_corrected");
  REQUIRE(corrected.size() == 1);
  json p = json::parse(corrected[0].payload_json);
  CHECK(p["cause"] == "calendar_changed");
  CHECK(p["due_date"] == "2027-02-08");
  CHECK(p["recomputed_due_date"] == "2027-02-15");
  auto state = f.handler->LoadCase(id);
  REQUIRE(state.ok());
  CHECK_FALSE(state->deadlines.at("investigation").overdue);
  CHECK(state->deadlines.at("investigation").due_date.ToString() == "2027-02-15");
  // It goes overdue again on the recomputed date, and only then.
  CHECK(f.Tick("2027-02-15T23:00:00+08:00").overdue == 0);
  CHECK(f.Tick("2027-02-16T00:00:00+08:00").overdue == 1);
  CHECK(f.Events(id, "deadline.overdue").size() == 2);
}

TEST_CASE("deadlines: a provisional 2027 deadline is recomputed when a 2027 calendar is added") {
  SchedulerFixture f;
  // 50 days from 2026-12-20 is 2027-02-08: no 2027 calendar, so weekends only.
  f.ReceiveLead("online_sales_lead-2027", "2026-12-20", "2026-12-20T10:00:00+08:00");
  auto d = f.index.Find("online_sales_lead-2027", "investigation");
  REQUIRE(d.ok());
  REQUIRE(d->has_value());
  CHECK((*d)->provisional);
  CHECK((*d)->due_date == "2027-02-08");
  auto none = f.scheduler->RecomputeForCalendar(f.clock.Now());
  REQUIRE(none.ok());
  CHECK(*none == 0);  // the year is still missing: it stays provisional

  // The 2027 arrangement arrives (a test file: Spring Festival 02-06..02-12 off).
  f.LoadCalendarWith2027();
  auto n = f.scheduler->RecomputeForCalendar(f.clock.Now());
  REQUIRE(n.ok());
  CHECK(*n == 1);
  auto events = f.Events("online_sales_lead-2027", "deadline.recomputed");
  REQUIRE(events.size() == 1);
  json p = json::parse(events[0].payload_json);
  CHECK(p["previous_due_date"] == "2027-02-08");
  CHECK(p["due_date"] == "2027-02-15");  // 02-08 is now a holiday; 02-13/14 a weekend
  CHECK(p["provisional"] == false);
  CHECK(p["calendar_versions"]["2027"] == 1);
  auto state = f.handler->LoadCase("online_sales_lead-2027");
  REQUIRE(state.ok());
  CHECK(state->deadlines.at("investigation").due_date.ToString() == "2027-02-15");
  CHECK_FALSE(state->deadlines.at("investigation").provisional);
  // Recomputing again changes nothing.
  CHECK(*f.scheduler->RecomputeForCalendar(f.clock.Now()) == 0);
  // And the deadline fires on the recomputed date, not the provisional one.
  CHECK(f.Tick("2027-02-09T00:00:00+08:00").overdue == 0);
  CHECK(f.Tick("2027-02-16T00:00:00+08:00").overdue == 1);
}

}  // namespace xiaohao::testing

namespace xiaohao::testing {

TEST_CASE("deadlines: an item still overdue after the ladder's periods escalates onto the office's escalation case, atomically") {
  SchedulerFixture f;
  std::string id = "risk_item-esc-1";
  REQUIRE_OK(f.Run(id, "open",
                   {{"source", "inspection"}, {"office", "nanbin"}, {"enterprise", "ENT001"},
                    {"product_category", "体外诊断试剂"}, {"risk_level", "high"}, {"found_on", "2025-09-26"},
                    {"description", "冷链储存温度记录缺失"}},
                   Inspector(), "2025-09-26T10:00:00+08:00"));
  REQUIRE_OK(f.Run(id, "assign", {{"assignee", "李明"}}, Inspector(), "2025-09-26T11:00:00+08:00"));
  // Rectify by Mon 2025-10-20.
  REQUIRE_OK(f.Run(id, "issue_rectification_notice",
                   {{"notice_no", "石市监整〔2025〕12号"}, {"rectify_by", "2025-10-20"}, {"content", "补齐冷链温度记录"}},
                   Inspector(), "2025-09-27T09:00:00+08:00"));
  auto r = f.Tick("2025-10-21T00:00:00+08:00");
  CHECK(r.overdue == 1);
  CHECK(r.escalations == 1);  // rung 1, after 0 days: the office
  CHECK(f.Events("office_escalation-nanbin", "office_escalation.item_escalated").empty());
  CHECK(f.Tick("2025-10-28T00:00:00+08:00").escalations == 1);  // 7 days: the county bureau
  CHECK(f.Tick("2025-11-19T00:00:00+08:00").escalations == 0);
  r = f.Tick("2025-11-20T00:00:00+08:00");  // 30 days after 10-20: 监管责任落实
  CHECK(r.escalations == 1);
  auto items = f.Events("office_escalation-nanbin", "office_escalation.item_escalated");
  REQUIRE(items.size() == 1);
  auto esc = f.Events(id, "deadline.escalated");
  REQUIRE(esc.size() == 3);
  // One append: the same command id, adjacent positions.
  CHECK(items[0].command_id == esc[2].command_id);
  CHECK(items[0].position == esc[2].position + 1);
  json item = json::parse(items[0].payload_json);
  CHECK(item["case_id"] == id);
  CHECK(item["notify_unit"] == "shizhu");
  // The office's escalation case replays.
  auto oe = f.handler->LoadCase("office_escalation-nanbin");
  INFO(oe.status().ToString());
  REQUIRE(oe.ok());
  CHECK(oe->workflow_id == "office_escalation");
}

}  // namespace xiaohao::testing
