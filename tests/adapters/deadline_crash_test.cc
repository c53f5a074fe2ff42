// SIGKILL while deadlines are firing and alerts are being delivered: after a
// restart each deadline's overdue event exists exactly once and every alert
// reached the outbox exactly once. The child is this test binary re-executed
// with the hidden test "deadline crash child" selected.
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "adapters/alerts.h"
#include "engine/command_handler.h"
#include "engine/deadline_index.h"
#include "engine/deadline_scheduler.h"
#include "tests/engine/workflow_fixture.h"

namespace xiaohao::testing {
namespace {

using nlohmann::json;
constexpr int kLeads = 200;

// Everything a process of the engine has: store with the deadline index,
// handler, scheduler, outbox. Time is simulated.
struct Engine : WorkflowFixture {
  ManualClock clock{At("2025-01-01T00:00:00+08:00")};
  DeadlineIndex index;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<CommandHandler> handler;
  std::unique_ptr<DeadlineScheduler> scheduler;
  std::unique_ptr<OutboxSink> outbox;

  Engine(const std::string& db, const std::string& outbox_path) {
    StoreOptions o;
    o.path = db;
    o.clock = &clock;
    o.hooks = {&index};
    auto s = EventStore::Open(o);
    REQUIRE(s.ok());
    store = std::move(s).value();
    handler = std::make_unique<CommandHandler>(store.get(), &registry, &calendar, &tree, &clock);
    scheduler = std::make_unique<DeadlineScheduler>(
        SchedulerDeps{store.get(), &index, handler.get(), &registry, &calendar, &tree});
    auto ob = OutboxSink::Start(store.get(), outbox_path);
    REQUIRE(ob.ok());
    outbox = std::move(ob).value();
  }
  ~Engine() { outbox.reset(); }

  void Seed() {
    for (int i = 0; i < kLeads; ++i) {
      Date received = Date::FromYmd(2025, 1, 2);
      received.days += i % 60;
      clock.Set(std::max<UnixMicros>(clock.Now(), received.EndInstant() - kMicrosPerDay + 10LL * 3600 * 1000000));
      Command c;
      c.case_id = "online_sales_lead-crash" + std::to_string(i);
      c.name = "receive";
      c.payload = {{"office", i % 2 ? "nanbin" : "wanan"}, {"lead_no", c.case_id},
                   {"received_on", received.ToString()}, {"enterprise", "ENT001"}, {"description", "崩溃测试"}};
      c.occurred_at = FormatRfc3339Cst(clock.Now());
      c.command_id = "seed-" + std::to_string(i);
      auto r = handler->Execute(c, Inspector(i % 2 ? "nanbin" : "wanan"));
      if (!r.ok()) FAIL(r.status().ToString());
    }
  }
  void RunDays(int days) {
    for (int d = 0; d < days; ++d) {
      Date day = Date::FromYmd(2025, 2, 1);
      day.days += d;
      clock.Set(std::max(clock.Now(), day.EndInstant()));
      auto r = scheduler->RunDue(clock.Now());
      if (!r.ok()) FAIL(r.status().ToString());
    }
  }
};

}  // namespace

TEST_CASE("deadline crash child", "[.deadline-crash-child]") {
  const char* db = std::getenv("XIAOHAO_DL_DB");
  const char* outbox = std::getenv("XIAOHAO_DL_OUTBOX");
  if (db == nullptr || outbox == nullptr) return;  // only as the crash test's child
  Engine e(db, outbox);
  e.Seed();
  e.RunDays(200);
  std::this_thread::sleep_for(std::chrono::seconds(30));  // let the outbox drain; killed before
}

TEST_CASE("deadlines and alerts survive SIGKILL: overdue exactly once, every alert in the outbox once") {
  TempDir dir;
  std::string db = dir.Sub("db"), outbox = dir.Sub("outbox.jsonl");
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> delay_ms(80, 700);
  int killed_mid_run = 0;
  for (int round = 0; round < 8; ++round) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      setenv("XIAOHAO_DL_DB", db.c_str(), 1);
      setenv("XIAOHAO_DL_OUTBOX", outbox.c_str(), 1);
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execl("/proc/self/exe", "deadline-crash-child", "deadline crash child", static_cast<char*>(nullptr));
      _exit(127);
    }
    // The first round waits until alerts reach the outbox, so the checks
    // below ("some deadlines had fired") hold however slow the machine is:
    // under ASan with other tests syncing, seeding alone outlasted the
    // longest delay. Later rounds are killed at random moments from the fork.
    bool alerted = true;
    if (round == 0) {
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
      struct stat st {};
      while (alerted && (::stat(outbox.c_str(), &st) != 0 || st.st_size == 0)) {
        alerted = std::chrono::steady_clock::now() < until;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (alerted) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(alerted);  // the child wrote no alert in 120 s (killed anyway, not left running)
    REQUIRE(WIFSIGNALED(status));
    ++killed_mid_run;
  }
  CHECK(killed_mid_run == 8);
  {
    // The children were killed while firing: some deadlines had fired, and
    // some alerts had reached the outbox, before the final restart.
    StoreOptions o;
    o.path = db;
    o.read_only = true;
    auto s = EventStore::Open(o);
    REQUIRE(s.ok());
    size_t fired = 0;
    REQUIRE((*s)->ScanLog(1, [&](const RecordedEvent& ev) {
      fired += ev.type == "deadline.overdue";
      return true;
    }).ok());
    CHECK(fired > 0);
    std::ifstream in(outbox);
    CHECK(in.peek() != std::ifstream::traits_type::eof());
  }

  // Restart and finish the work.
  {
    Engine e(db, outbox);
    e.Seed();
    e.RunDays(200);
    REQUIRE(e.outbox->subscription()->WaitFor(e.store->DurableHead(), 30000000));

    std::set<std::string> expected_alerts;
    std::map<std::string, int> overdue_per_case;
    REQUIRE(e.store->ScanLog(1, [&](const RecordedEvent& ev) {
      if (auto a = AlertFromEvent(ev)) expected_alerts.insert((*a)["id"].get<std::string>());
      if (ev.type == "deadline.overdue") overdue_per_case[ev.stream_id]++;
      return true;
    }).ok());
    REQUIRE(overdue_per_case.size() == kLeads);  // every lead went overdue (none was answered)
    for (const auto& [c, n] : overdue_per_case) {
      INFO(c);
      CHECK(n == 1);
    }
    std::ifstream in(outbox);
    std::string line;
    std::map<std::string, int> seen;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json a = json::parse(line, nullptr, false);
      if (a.is_discarded()) continue;  // a line torn by SIGKILL; its alert is written again after it
      seen[a["id"].get<std::string>()]++;
    }
    CHECK(seen.size() == expected_alerts.size());
    for (const auto& id : expected_alerts) {
      INFO(id);
      CHECK(seen[id] == 1);
    }
    auto v = e.store->Verify();
    REQUIRE(v.ok());
    CHECK(v->ok);
  }
}

}  // namespace xiaohao::testing
