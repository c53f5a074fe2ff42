// `xiaohao demo load`: a realistic SAMPLE of cases for a newcomer (scripts/run --demo).
//
// Every case goes through the real command handler, so it is as valid as any
// recorded by an office: for each of the sample jurisdiction's offices, risk
// items at every stage (registered, assigned, rectifying with a deadline to
// come, rectifying past its deadline, rectification reported, closed after a
// passed follow-up verification, referred) and online-sales monitoring leads.
// All text says it is sample data. Command ids are fixed, so loading twice
// writes nothing the second time.
#include <CLI/CLI.hpp>
#include <iostream>

#include "adapters/cli.h"
#include "engine/calendar.h"
#include "engine/command_handler.h"
#include "engine/jurisdiction.h"
#include "engine/workflow_registry.h"
#include "store/event_store.h"
#include "store/time_format.h"

namespace xiaohao {
namespace {

using json = nlohmann::json;

struct DemoArgs {
  std::string data, workflows;
  int per_office = 7;
};

int Fail(const std::string& what) {
  std::cerr << "xiaohao demo: " << what << "\n";
  return 2;
}

int Load(const DemoArgs& a) {
  std::string dir = a.workflows.empty() ? DefaultWorkflowsDir() : a.workflows;
  WorkflowRegistry registry;
  Status s = registry.LoadDir(dir + "/definitions");
  if (!s.ok()) return Fail(s.ToString());
  auto cal = BusinessCalendar::LoadDir(dir + "/calendars");
  if (!cal.ok()) return Fail(cal.status().ToString());
  auto tree = JurisdictionTree::LoadDir(dir + "/jurisdictions");
  if (!tree.ok()) return Fail(tree.status().ToString());
  StoreOptions o;
  o.path = a.data;
  auto store = EventStore::Open(o);
  if (!store.ok()) return Fail(store.status().message());
  s = registry.LoadFromStore(**store);
  if (s.ok()) s = registry.RecordInStore(**store, SystemClock::Default()->Now());
  if (!s.ok()) return Fail(s.ToString());
  CommandHandler handler(store->get(), &registry, &*cal, &*tree, SystemClock::Default());

  static const char* kCategories[] = {"体外诊断试剂", "一次性使用无菌注射器", "医用口罩", "角膜接触镜（隐形眼镜）",
                                      "避孕套", "血糖仪及试纸"};
  static const char* kSources[] = {"inspection", "sampling", "adverse_event", "online_sales", "complaint",
                                   "public_opinion"};
  static const char* kFindings[] = {"冷链储存温度记录缺失", "进货查验记录不全", "超范围经营第三类医疗器械",
                                    "未按规定开展不良事件监测", "网络销售未备案", "产品标签不符合规定"};
  Date today = Date::OfInstant(SystemClock::Default()->Now());
  auto day = [&](int offset) {
    Date d = today;
    d.days += offset;
    return d;
  };
  auto at = [&](int offset, int hour) {
    return FormatRfc3339Cst(CstMidnight(day(offset).days) + static_cast<int64_t>(hour) * 3600 * 1000000);
  };
  int written = 0, already = 0;
  auto run = [&](const std::string& case_id, const std::string& name, json payload, const Actor& actor,
                 const std::string& when) -> bool {
    Command c;
    c.case_id = case_id;
    c.name = name;
    c.payload = std::move(payload);
    c.occurred_at = when;
    c.command_id = "demo/" + case_id + "/" + name;
    auto r = handler.Execute(c, actor);
    if (!r.ok()) {
      std::cerr << "xiaohao demo: " << case_id << " " << name << ": " << r.status().message() << "\n";
      return false;
    }
    (r->duplicate ? already : written)++;
    return true;
  };

  int n = 0;
  for (const JurisdictionUnit* u : tree->Units()) {
    if (u->level != UnitLevel::kOffice) continue;
    Actor inspector{"demo." + u->id, "inspector", u->id};
    Actor ent_actor;
    for (int i = 0; i < a.per_office; ++i, ++n) {
      std::string id = "risk_item-demo-" + u->id + "-" + std::to_string(i + 1);
      std::string enterprise = "91500240DEMO" + std::to_string(1000 + n);
      ent_actor = {"demo.ent" + std::to_string(n), "enterprise", enterprise};
      int opened = -60 + (n * 7) % 50;  // opened 10..60 days ago
      bool ok = run(id, "open",
                    {{"source", kSources[n % 6]},
                     {"office", u->id},
                     {"enterprise", enterprise},
                     {"enterprise_name", "示例医疗器械经营企业" + std::to_string(n + 1) + "（示例数据 sample）"},
                     {"product_category", kCategories[n % 6]},
                     {"risk_level", n % 3 == 0 ? "high" : (n % 3 == 1 ? "medium" : "low")},
                     {"found_on", day(opened).ToString()},
                     {"description", std::string(kFindings[n % 6]) + "（示例数据 sample）"}},
                    inspector, at(opened, 10));
      int stage = i % 7;
      if (ok && stage >= 1) ok = run(id, "assign", {{"assignee", "示例责任人" + std::to_string(i + 1)}}, inspector, at(opened, 15));
      if (ok && stage == 6) {
        run(id, "refer", {{"to", "enforcement"}, {"reason", "涉嫌违法经营，移送稽查（示例数据 sample）"}}, inspector,
            at(opened + 2, 9));
        continue;
      }
      if (!ok || stage < 2) continue;
      // Stage 3 was due five days ago: the scheduler finds it overdue.
      int due = stage == 3 ? -5 : opened + 30 > 0 ? opened + 30 : 10;
      if (day(due) <= day(opened + 1)) due = opened + 3;
      ok = run(id, "issue_rectification_notice",
               {{"notice_no", "石市监整〔" + std::to_string(today.Year()) + "〕" + std::to_string(100 + n) + "号"},
                {"rectify_by", day(due).ToString()},
                {"content", "限期整改：" + std::string(kFindings[n % 6]) + "（示例数据 sample）"}},
               inspector, at(opened + 1, 9));
      if (!ok || stage < 4) continue;
      ok = run(id, "report_rectification", {{"report", "已完成整改，附整改报告（示例数据 sample）"}}, ent_actor,
               at(opened + 5, 10));
      if (!ok || stage < 5) continue;
      ok = run(id, "pass_verification",
               {{"method", "on_site"}, {"verified_on", day(opened + 8).ToString()}, {"findings", "现场复查整改到位（示例数据 sample）"}},
               inspector, at(opened + 8, 11));
      if (ok) run(id, "close", {{"basis", "跟踪检查通过，予以销号（示例数据 sample）"}}, inspector, at(opened + 8, 16));
    }
    // Two online-sales monitoring leads per office: one answered, one open.
    for (int k = 0; k < 2; ++k) {
      std::string id = "online_sales_lead-demo-" + u->id + "-" + std::to_string(k + 1);
      int received = k == 0 ? -40 : -20;
      bool ok = run(id, "receive",
                    {{"office", u->id}, {"lead_no", "DEMO-" + u->id + "-" + std::to_string(k + 1)},
                     {"received_on", day(received).ToString()}, {"enterprise", "91500240DEMO" + std::to_string(1000 + k)},
                     {"platform", "示例电商平台"}, {"description", "平台销售未备案产品（示例数据 sample）"}},
                    inspector, at(received, 16));
      if (ok) ok = run(id, "start_investigation", {{"assignee", "示例承办人"}}, inspector, at(received + 1, 9));
      if (ok && k == 0)
        run(id, "report_result", {{"result", "violation_found"}, {"summary", "已责令下架并立案（示例数据 sample）"}},
            inspector, at(received + 20, 9));
    }
  }
  std::cout << "demo: " << written << " commands written, " << already << " already there (sample data)\n";
  return 0;
}

}  // namespace

void RegisterDemoCommands(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<DemoArgs>();
  auto* demo = app.add_subcommand("demo", "Sample data for a newcomer (scripts/run --demo)");
  demo->require_subcommand(1);
  auto* load = demo->add_subcommand(
      "load",
      "Loads a realistic SAMPLE of risk items at every stage and online-sales leads for each office of\n"
      "the sample jurisdiction, through the real command handler. Loading twice writes nothing new.\n"
      "Run it before `xiaohao serve` (the store allows one writing process).\n"
      "Example:\n  xiaohao demo load --data ./var");
  load->add_option("--data", a->data, "Data directory")->required();
  load->add_option("--workflows", a->workflows, "Workflows directory (default: the repository's)");
  load->add_option("--per-office", a->per_office, "Risk items per office (default 7)");
  load->callback([a, exit_code] { *exit_code = Load(*a); });
}

}  // namespace xiaohao
