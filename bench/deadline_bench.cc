// deadline_bench: the durable deadline index at scale (issue 6).
//
//   deadline_bench generate WORKFLOWS DATA N   writes N online-sales leads, each with an open
//                                              deadline (due dates spread over 2027-2030; the
//                                              first lead's is already past), through the store
//                                              with the DeadlineIndex hook, 5000 leads a write
//   deadline_bench start WORKFLOWS DATA        a fresh process: opens the store, loads the
//                                              engine, fires what is due, and prints the time
//                                              from start to the first fired deadline and the
//                                              peak memory (VmHWM), which must not grow with N
//
// Prints machine-readable lines "deadline_bench ...".
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/calendar.h"
#include "engine/command_handler.h"
#include "engine/deadline_index.h"
#include "engine/deadline_scheduler.h"
#include "engine/jurisdiction.h"
#include "engine/workflow_registry.h"
#include "store/event_store.h"
#include "store/time_format.h"

using namespace xiaohao;
using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

namespace {

double Since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

long VmKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field) + 1);
  return -1;
}

int Die(const std::string& what) {
  std::fprintf(stderr, "deadline_bench: %s\n", what.c_str());
  return 2;
}

int Generate(const std::string& workflows, const std::string& data, long n) {
  WorkflowRegistry registry;
  Status s = registry.LoadDir(workflows + "/definitions");
  if (!s.ok()) return Die(s.ToString());
  const WorkflowDefinition* def = registry.Latest("online_sales_lead");
  if (def == nullptr) return Die("no online_sales_lead workflow");
  DeadlineIndex index;
  StoreOptions o;
  o.path = data;
  o.hooks = {&index};
  auto store = EventStore::Open(o);
  if (!store.ok()) return Die(store.status().ToString());
  auto t0 = Steady::now();
  const long kPerWrite = 5000;
  Actor actor{"bench", "inspector", "nanbin"};
  for (long first = 0; first < n; first += kPerWrite) {
    AppendRequest r;
    r.command_id = "deadline-bench-" + std::to_string(first);
    for (long i = first; i < std::min(n, first + kPerWrite); ++i) {
      std::string id = "online_sales_lead-bench" + std::to_string(i);
      // Lead 0 is already overdue; the rest fall due over 2027-2030.
      Date due = i == 0 ? Date::FromYmd(2025, 11, 17) : Date::FromYmd(2027, 1, 4);
      if (i != 0) due.days += i % 1400;
      json received = {{"command", "receive"},
                       {"data", {{"office", "nanbin"}, {"lead_no", id}, {"received_on", "2025-09-26"},
                                 {"enterprise", "ENT" + std::to_string(i % 5000)}, {"description", "基准测试"}}},
                       {"workflow", {{"id", def->id}, {"version", def->version}}}};
      json started = {{"deadline", "investigation"},
                      {"generation", 1},
                      {"start", "2025-09-26"},
                      {"period", "50d"},
                      {"due_date", due.ToString()},
                      {"due_at", FormatRfc3339Cst(due.EndInstant())},
                      {"warn_at", FormatRfc3339Cst(CstMidnight(due.days - 10))},
                      {"basis", "bench"},
                      {"calendar_versions", {{"2025", 1}}},
                      {"provisional", false}};
      r.events.push_back({id, "online_sales_lead.received", "2025-09-26T16:00:00+08:00", actor, received.dump()});
      r.events.push_back({id, "deadline.started", "2025-09-26T16:00:00+08:00", actor, started.dump()});
    }
    auto res = (*store)->Append(std::move(r));
    if (!res.ok()) return Die(res.status().ToString());
  }
  double secs = Since(t0);
  std::printf("deadline_bench generate leads=%ld events=%ld seconds=%.1f events_per_s=%.0f\n", n, 2 * n, secs,
              2 * n / secs);
  return 0;
}

int Start(const std::string& workflows, const std::string& data) {
  long rss_before = VmKb("VmRSS:");
  auto t0 = Steady::now();
  WorkflowRegistry registry;
  Status s = registry.LoadDir(workflows + "/definitions");
  if (!s.ok()) return Die(s.ToString());
  auto cal = BusinessCalendar::LoadDir(workflows + "/calendars");
  if (!cal.ok()) return Die(cal.status().ToString());
  auto tree = JurisdictionTree::LoadDir(workflows + "/jurisdictions");
  if (!tree.ok()) return Die(tree.status().ToString());
  DeadlineIndex index;
  StoreOptions o;
  o.path = data;
  o.hooks = {&index};
  auto store = EventStore::Open(o);
  if (!store.ok()) return Die(store.status().ToString());
  EventStore* raw = store->get();
  double open_secs = Since(t0);
  CommandHandler handler(raw, &registry, &*cal, &*tree, SystemClock::Default());
  DeadlineScheduler scheduler({raw, &index, &handler, &registry, &*cal, &*tree});
  auto next = index.NextFire();
  if (!next.ok() || !next->has_value()) return Die("no deadline in the index");
  auto run = scheduler.RunDue(SystemClock::Default()->Now());
  if (!run.ok()) return Die(run.status().ToString());
  double first_secs = Since(t0);
  std::printf(
      "deadline_bench start open_s=%.3f first_fired_s=%.3f fired=%zu head=%llu rss_before_kb=%ld vm_hwm_kb=%ld\n",
      open_secs, first_secs, run->total(), static_cast<unsigned long long>(raw->DurableHead()), rss_before,
      VmKb("VmHWM:"));
  return run->total() > 0 ? 0 : Die("nothing fired");
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "generate" && argc == 5) return Generate(argv[2], argv[3], std::atol(argv[4]));
  if (mode == "start" && argc == 4) return Start(argv[2], argv[3]);
  std::fprintf(stderr,
               "usage: deadline_bench generate WORKFLOWS DATA N\n"
               "       deadline_bench start WORKFLOWS DATA\n");
  return 2;
}
