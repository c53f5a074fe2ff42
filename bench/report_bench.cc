// report_bench: the supervisor views at scale (issue 7). Generates a store
// of N risk items (default 1,000,000; REPORT_BENCH_CASES scales it down) with
// 8 events each, interleaved across cases, then prints:
//   - the province roll-up of the risk list from the projection (target < 50 ms),
//   - a full projection rebuild from position 1 in events/s (target >= 500k/s),
//   - an as-of query of one case (its stream, filtered and replayed),
//   - a risk list filtered by risk level (its own buckets), and one filtered
//     by risk level and state (reads every case summary), for comparison.
// Usage: report_bench [workflows dir (default ./workflows)] [data dir (default: a temp dir, removed)]
// A given data dir that already holds events is reused, not regenerated
// (generating 1M cases takes minutes): give the same dir to compare builds.
// REPORT_BENCH_REBUILDS=n rebuilds n times (default 1) and reports the
// median; REPORT_BENCH_ONLY_REBUILD=1 skips the other measurements.
// The rebuild's process CPU time (all threads, RocksDB's included) is printed
// too: on a shared machine wall time depends on the neighbours, CPU time less.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include "engine/audit_trail.h"
#include "engine/risk_list.h"
#include "engine/risk_projection.h"
#include "engine/view_reader.h"
#include "store/event_store.h"
#include "store/time_format.h"

using namespace xiaohao;
using json = nlohmann::json;
using Clock_ = std::chrono::steady_clock;

namespace {

double Ms(Clock_::time_point a, Clock_::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

// User + system CPU seconds of the whole process so far.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

const char* kOffices[] = {"nanbin", "wanan", "xialu", "sanhe", "xituo", "huangshui", "shazi", "mawu", "yuelai", "linxi"};
const char* kSources[] = {"inspection", "sampling", "adverse_event", "online_sales", "complaint", "public_opinion"};
const char* kLevels[] = {"low", "medium", "high"};

std::string Day(int64_t d) {
  int y;
  unsigned m, dd;
  CivilFromDays(d, &y, &m, &dd);
  char b[16];
  std::snprintf(b, sizeof b, "%04d-%02u-%02u", y, m, dd);
  return b;
}

// The k-th event (0..7) of case i. Three in four cases are closed; the rest
// have an overdue rectification deadline with two escalations.
NewEvent MakeEvent(uint64_t i, int k, int64_t open_day) {
  std::string id = "risk_item-bench-" + std::to_string(i);
  std::string office = kOffices[i % 10];
  bool closed = i % 4 != 3;
  int64_t day = open_day + (closed ? k * 2 : k);
  std::string at = Day(day) + "T10:00:00+08:00";
  Actor actor{"insp-" + office, "inspector", office};
  auto wf = [&](const char* event, const char* command, json data) {
    json p{{"command", command}, {"data", std::move(data)}};
    if (k == 0) p["workflow"] = {{"id", "risk_item"}, {"version", 1}};
    return NewEvent{id, std::string("risk_item.") + event, at, actor, p.dump()};
  };
  auto dl = [&](const char* type, json extra = json::object()) {
    extra["deadline"] = "rectification";
    extra["generation"] = 1;
    return NewEvent{id, type, at, {"scheduler", "system", ""}, extra.dump()};
  };
  switch (k) {
    case 0:
      return wf("opened", "open",
                {{"source", kSources[i % 6]}, {"office", office}, {"enterprise", "ENT" + std::to_string(i % 50000)},
                 {"product_category", i % 2 ? "体外诊断试剂" : "一次性使用无菌器械"}, {"risk_level", kLevels[i % 3]},
                 {"found_on", Day(open_day)}, {"description", "未按规定储存冷链产品"}});
    case 1: return wf("assigned", "assign", {{"assignee", "张三"}});
    case 2:
      return wf("rectification_ordered", "issue_rectification_notice",
                {{"notice_no", "整改-" + std::to_string(i)}, {"rectify_by", Day(open_day + 10)}, {"content", "限期整改"}});
    case 3:
      return dl("deadline.started", {{"due_date", Day(open_day + 10)},
                                     {"due_at", Day(open_day + 11) + "T00:00:00+08:00"},
                                     {"warn_at", Day(open_day + 7) + "T00:00:00+08:00"},
                                     {"basis", "rectify_by"},
                                     {"calendar_versions", {{"2025", 1}}},
                                     {"provisional", false}});
    default: break;
  }
  if (closed) {
    switch (k) {
      case 4: return wf("rectification_reported", "report_rectification", {{"report", "已整改"}});
      case 5: return dl("deadline.cleared", {{"by_event", "risk_item.rectification_reported"}});
      case 6:
        return wf("verification_passed", "pass_verification",
                  {{"method", "on_site"}, {"verified_on", Day(day)}, {"findings", "整改到位"}});
      default: return wf("closed", "close", {{"basis", "跟踪检查通过"}});
    }
  }
  switch (k) {
    case 4: return dl("deadline.warning");
    case 5: return dl("deadline.overdue");
    default: return dl("deadline.escalated", {{"step", k - 5}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t cases = 1000000;
  if (const char* e = std::getenv("REPORT_BENCH_CASES")) cases = std::strtoull(e, nullptr, 10);
  std::string wf_dir = argc > 1 ? argv[1] : "workflows";
  std::string dir = argc > 2 ? argv[2] : "";
  bool temp = dir.empty();
  if (temp) dir = (std::filesystem::temp_directory_path() / ("report_bench." + std::to_string(getpid()))).string();

  WorkflowRegistry registry;
  if (Status s = registry.LoadDir(wf_dir + "/definitions"); !s.ok()) {
    std::fprintf(stderr, "report_bench: %s\n", s.ToString().c_str());
    return 2;
  }
  auto tree = JurisdictionTree::LoadDir(wf_dir + "/jurisdictions");
  if (!tree.ok()) {
    std::fprintf(stderr, "report_bench: %s\n", tree.status().ToString().c_str());
    return 2;
  }
  StoreOptions o;
  o.path = dir;
  auto store_r = EventStore::Open(o);
  if (!store_r.ok()) {
    std::fprintf(stderr, "report_bench: %s\n", store_r.status().ToString().c_str());
    return 2;
  }
  auto store = std::move(store_r).value();

  if (store->DurableHead() == 0) {
    // Cases opened through 2025, in blocks of 1,250 whose 8 events are
    // appended step by step, so a case's events are spread over the log.
    auto t0 = Clock_::now();
    const uint64_t block = 1250;
    AppendRequest req;
    uint64_t appends = 0;
    auto flush = [&] {
      if (req.events.empty()) return true;
      req.command_id = "bench-" + std::to_string(appends++);
      auto r = store->Append(std::move(req));
      req = AppendRequest{};
      if (!r.ok()) std::fprintf(stderr, "report_bench: append: %s\n", r.status().ToString().c_str());
      return r.ok();
    };
    int64_t first_day = DaysFromCivil(2025, 1, 2);
    for (uint64_t b = 0; b < cases; b += block) {
      uint64_t end = std::min(cases, b + block);
      for (int k = 0; k < 8; ++k) {
        for (uint64_t i = b; i < end; ++i) {
          req.events.push_back(MakeEvent(i, k, first_day + static_cast<int64_t>(i * 340 / cases)));
          if (req.events.size() >= 10000 && !flush()) return 2;
        }
      }
    }
    if (!flush()) return 2;
    std::printf("generated %llu cases, %llu events in %.1f s\n", static_cast<unsigned long long>(cases),
                static_cast<unsigned long long>(store->DurableHead()), Ms(t0, Clock_::now()) / 1000);
  }
  uint64_t events = store->DurableHead();

  // Full rebuild from position 1 (the first one waits for the generation's
  // flushes and compactions to settle less than later ones: see REBUILDS).
  int rebuilds = 1;
  if (const char* e = std::getenv("REPORT_BENCH_REBUILDS")) rebuilds = std::max(1, std::atoi(e));
  bool only_rebuild = std::getenv("REPORT_BENCH_ONLY_REBUILD") && std::string(std::getenv("REPORT_BENCH_ONLY_REBUILD")) == "1";
  RiskListProjection projection(store.get(), &registry);
  std::vector<double> rebuild_secs, rebuild_cpu;
  uint64_t folded = 0;
  for (int r = 0; r < rebuilds; ++r) {
    double cpu0 = CpuSeconds();
    auto t0 = Clock_::now();
    auto n = projection.Rebuild();
    double secs = Ms(t0, Clock_::now()) / 1000;
    double cpu = CpuSeconds() - cpu0;
    if (!n.ok()) {
      std::fprintf(stderr, "report_bench: rebuild: %s\n", n.status().ToString().c_str());
      return 2;
    }
    folded = *n;
    rebuild_secs.push_back(secs);
    rebuild_cpu.push_back(cpu);
    std::printf("  rebuild %d: %.1f s wall, %.1f s CPU, %.0f events/s\n", r + 1, secs, cpu, folded / secs);
    std::fflush(stdout);
  }
  double rebuild_s = Median(rebuild_secs);
  double rebuild_rate = folded / rebuild_s;
  double rebuild_cpu_rate = folded / Median(rebuild_cpu);
  if (only_rebuild) {
    std::printf("metric name=rebuild_events_per_s value=%.0f target=>=500000 (%.1f s for %llu events, median of %d)\n",
                rebuild_rate, rebuild_s, static_cast<unsigned long long>(folded), rebuilds);
    std::printf("metric name=rebuild_events_per_cpu_s value=%.0f (process CPU time, median of %d)\n", rebuild_cpu_rate,
                rebuilds);
    store.reset();
    if (temp) std::filesystem::remove_all(dir);
    return 0;
  }

  // Province roll-up from the projection (ViewReader open + roll-up).
  std::vector<double> rollup;
  RiskListReport last;
  for (int r = 0; r < 21; ++r) {
    auto a = Clock_::now();
    auto view = ViewReader::Open(store.get(), &registry, {});
    RiskListQuery q;
    q.unit = "chongqing";
    auto rep = BuildRiskList(**view, *tree, q);
    rollup.push_back(Ms(a, Clock_::now()));
    if (!rep.ok()) return 2;
    last = std::move(*rep);
  }
  RiskCounts province;
  for (const auto& row : last.rows)
    if (row.unit == "chongqing") province.Add(row.counts);

  // As of one case, at a record time in the middle of the log.
  std::vector<double> as_of;
  ViewTime t;
  t.as_of = SystemClock::Default()->Now();
  for (int r = 0; r < 101; ++r) {
    std::string id = "risk_item-bench-" + std::to_string((r * 7919ULL) % cases);
    auto a = Clock_::now();
    auto s = CaseAsOf(*store, registry, id, t);
    as_of.push_back(Ms(a, Clock_::now()));
    if (!s.ok()) {
      std::fprintf(stderr, "report_bench: as-of %s: %s\n", id.c_str(), s.status().ToString().c_str());
      return 2;
    }
  }

  // Filtered lists: by risk level alone (its own buckets, median of 21), and
  // by risk level and state (every summary read), for comparison.
  std::vector<double> filtered;
  for (int r = 0; r < 21; ++r) {
    auto a = Clock_::now();
    auto view = ViewReader::Open(store.get(), &registry, {});
    RiskListQuery fq;
    fq.unit = "chongqing";
    fq.filter.risk_level = "high";
    auto frep = BuildRiskList(**view, *tree, fq);
    filtered.push_back(Ms(a, Clock_::now()));
    if (!frep.ok()) return 2;
  }
  auto a = Clock_::now();
  auto view = ViewReader::Open(store.get(), &registry, {});
  RiskListQuery sq;
  sq.filter.risk_level = "high";
  sq.filter.state = "open";
  auto srep = BuildRiskList(**view, *tree, sq);
  double scanned_ms = Ms(a, Clock_::now());
  if (!srep.ok()) return 2;

  std::printf("report_bench: %llu cases, %llu events (8 per case), data in %s\n",
              static_cast<unsigned long long>(cases), static_cast<unsigned long long>(events), dir.c_str());
  std::printf("  province roll-up (all quarters): opened %lld closed %lld open %lld overdue %lld\n",
              static_cast<long long>(province.opened), static_cast<long long>(province.closed),
              static_cast<long long>(province.open), static_cast<long long>(province.overdue));
  std::printf("metric name=rollup_ms value=%.2f target=<50 (median of 21)\n", Median(rollup));
  std::printf("metric name=rebuild_events_per_s value=%.0f target=>=500000 (%.1f s for %llu events, median of %d)\n",
              rebuild_rate, rebuild_s, static_cast<unsigned long long>(folded), rebuilds);
  std::printf("metric name=rebuild_events_per_cpu_s value=%.0f (process CPU time, median of %d)\n", rebuild_cpu_rate,
              rebuilds);
  std::printf("metric name=as_of_case_ms value=%.3f (median of 101)\n", Median(as_of));
  std::printf("metric name=filtered_risk_list_ms value=%.2f (risk_level=high, province roll-up from its buckets, median of 21)\n",
              Median(filtered));
  std::printf("metric name=scanned_risk_list_ms value=%.0f (risk_level=high and state=open: every summary read)\n",
              scanned_ms);
  store.reset();
  if (temp) std::filesystem::remove_all(dir);
  return 0;
}
