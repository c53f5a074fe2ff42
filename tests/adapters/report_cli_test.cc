// `xiaohao report ...`, `projections rebuild`, `export-log` and
// `import enterprises` as a supervisor, an auditor or a script uses them.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/command_handler.h"
#include "store/clock.h"
#include "store/time_format.h"
#include "tests/engine/workflow_fixture.h"
#include "tests/test_util.h"

namespace xiaohao::testing {
namespace {

using json = nlohmann::json;

// Writes a small history into a real data directory, then closes the store.
void Seed(const std::string& data) {
  WorkflowFixture fx;
  ManualClock clock{At("2025-07-01T00:00:00+08:00")};
  StoreOptions o;
  o.path = data;
  o.clock = &clock;
  auto store = EventStore::Open(o);
  REQUIRE(store.ok());
  CommandHandler h(store->get(), &fx.registry, &fx.calendar, &fx.tree, &clock);
  auto run = [&](const std::string& id, const std::string& name, const json& p, const Actor& a,
                 const std::string& occurred, const std::string& recorded = "") {
    clock.Set(std::max(clock.Now(), At(recorded.empty() ? occurred : recorded)));
    Command c{id, name, p, occurred, id + "/" + name};
    auto r = h.Execute(c, a);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
  };
  auto open = [&](const std::string& id, const std::string& office, const std::string& day) {
    run(id, "open",
        {{"source", "inspection"}, {"office", office}, {"enterprise", "ENT-A"}, {"product_category", "体外诊断试剂"},
         {"risk_level", "high"}, {"found_on", day}, {"description", "冷链断链"}},
        Inspector(office), day + "T10:00:00+08:00");
  };
  // Closed on 09-28 but recorded on 10-20: a late record.
  open("risk_item-1", "nanbin", "2025-09-10");
  run("risk_item-1", "assign", {{"assignee", "张三"}}, Inspector(), "2025-09-10T11:00:00+08:00");
  run("risk_item-1", "issue_rectification_notice", {{"notice_no", "N1"}, {"rectify_by", "2025-09-20"}, {"content", "整改"}},
      Inspector(), "2025-09-10T12:00:00+08:00");
  run("risk_item-1", "report_rectification", {{"report", "已整改"}}, Inspector(), "2025-09-15T10:00:00+08:00");
  run("risk_item-1", "pass_verification", {{"method", "desk_review"}, {"verified_on", "2025-09-16"}, {"findings", "到位"}},
      Inspector(), "2025-09-16T10:00:00+08:00");
  open("risk_item-2", "wanan", "2025-08-01");
  run("risk_item-1", "close", {{"basis", "跟踪检查通过"}}, Inspector(), "2025-09-28T10:00:00+08:00",
      "2025-10-20T10:00:00+08:00");
  run("inspection-1", "record",
      {{"office", "nanbin"}, {"enterprise", "ENT-A"}, {"subject_type", "trading_enterprise"},
       {"inspection_type", "routine"}, {"inspected_on", "2025-10-21"}, {"problems_found", false}},
      Inspector(), "2025-10-21T10:00:00+08:00");
}

json Json(const CommandOutput& r) {
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

const json* Row(const json& report, const std::string& unit, const std::string& quarter) {
  for (const auto& r : report["rows"])
    if (r["unit"] == unit && r["quarter"] == quarter) return &r;
  return nullptr;
}

TEST_CASE("cli report: risk list as JSON, now, as of and as at, rebuild changes nothing", "[views]") {
  TempDir dir;
  std::string data = dir.Sub("var");
  Seed(data);
  auto now = Json(RunXiaohao({"report", "risk-list", "--data", data, "--office", "shizhu", "--quarter", "2025Q3",
                              "--format", "json"}));
  CHECK(now["basis"] == "log");  // no projection written yet: folded from the log
  REQUIRE(now["rows"].size() == 11);
  const json* county = Row(now, "shizhu", "2025Q3");
  REQUIRE(county != nullptr);
  CHECK((*county)["opened"] == 2);
  CHECK((*county)["closed"] == 1);
  CHECK((*county)["open"] == 1);
  CHECK((*county)["closure_rate"] == 0.5);
  CHECK((*county)["median_days_to_close"] == 18.0);
  auto as_of = Json(RunXiaohao({"report", "risk-list", "--data", data, "--office", "nanbin", "--quarter", "2025Q3",
                                "--as-of", "2025-10-01", "--format", "json"}));
  CHECK((*Row(as_of, "nanbin", "2025Q3"))["closed"] == 0);
  auto as_at = Json(RunXiaohao({"report", "risk-list", "--data", data, "--office", "nanbin", "--quarter", "2025Q3",
                                "--as-at", "2025-10-01", "--format", "json"}));
  CHECK((*Row(as_at, "nanbin", "2025Q3"))["closed"] == 1);

  auto rebuilt = RunXiaohao({"projections", "rebuild", "--data", data});
  INFO(rebuilt.err);
  REQUIRE(rebuilt.exit_code == 0);
  auto verify = RunXiaohao({"verify", "--data", data});  // "ok <count> events, head <hash>"
  std::string count = verify.out.substr(3, verify.out.find(' ', 3) - 3);
  CHECK_THAT(rebuilt.out, Catch::Contains(": " + count + " events in "));
  CHECK_THAT(rebuilt.out, Catch::EndsWith("checkpoint " + count + "\n"));
  auto after = Json(RunXiaohao({"report", "risk-list", "--data", data, "--office", "shizhu", "--quarter", "2025Q3",
                                "--format", "json"}));
  CHECK(after["basis"] == "projection");
  CHECK(after["rows"] == now["rows"]);
}

TEST_CASE("cli report: CSV and XLSX carry the Chinese headers of the quarterly table", "[views]") {
  TempDir dir;
  std::string data = dir.Sub("var");
  Seed(data);
  auto csv = RunXiaohao({"report", "risk-list", "--data", data, "--quarter", "2025Q3", "--format", "csv"});
  REQUIRE(csv.exit_code == 0);
  CHECK(csv.out.rfind("\xEF\xBB\xBF单位,单位名称,季度,发现风险数,已销号数,移送数,未销号数,逾期未整改数,销号率,销号天数中位数\r\n", 0) == 0);
  CHECK_THAT(csv.out, Catch::Contains("    nanbin,南宾市场监督管理所,2025Q3,1,1,0,0,0,100.0%,18.0\r\n"));
  std::string xlsx = dir.Sub("q3.xlsx");
  auto x = RunXiaohao({"report", "risk-list", "--data", data, "--format", "xlsx", "--out", xlsx});
  INFO(x.err);
  REQUIRE(x.exit_code == 0);
  std::ifstream in(xlsx, std::ios::binary);
  std::string magic(2, '\0');
  in.read(&magic[0], 2);
  CHECK(magic == "PK");  // a zip container, as every .xlsx is
  CHECK(RunXiaohao({"report", "risk-list", "--data", data, "--format", "xlsx"}).exit_code == 2);
}

TEST_CASE("cli report: case as of, the audit trail and export-log", "[views]") {
  TempDir dir;
  std::string data = dir.Sub("var");
  Seed(data);
  auto c = Json(RunXiaohao({"report", "case", "--data", data, "--case", "risk_item-1", "--as-of",
                            "2025-10-01T00:00:00+08:00", "--format", "json"}));
  CHECK(c["case"]["state"] == "verified");
  auto audit = Json(RunXiaohao({"report", "audit", "--data", data, "--case", "risk_item-1", "--format", "json"}));
  CHECK(audit["chain_ok"] == true);
  REQUIRE(audit["entries"].size() == 8);
  int late = 0;
  for (const auto& e : audit["entries"]) {
    CHECK(e["hash_ok"] == true);
    if (e["late"] == true) {
      ++late;
      CHECK(e["type"] == "risk_item.closed");
      CHECK(e["actor"]["office"] == "nanbin");
      CHECK(e["occurred_at"] == "2025-09-28T10:00:00+08:00");
      CHECK(e["recorded_at"] == "2025-10-20T10:00:00+08:00");
    }
  }
  CHECK(late == 1);

  auto log = RunXiaohao({"export-log", "--data", data});
  REQUIRE(log.exit_code == 0);
  auto read = RunXiaohao({"read", "--data", data});
  CHECK(log.out == read.out);
  if (system("python3 --version >/dev/null 2>&1") == 0) {
    std::string file = dir.Sub("log.jsonl");
    std::ofstream(file) << log.out;
    std::string cmd = "python3 " + SourceDir() + "/doc/verify_export.py " + file + " > " + dir.Sub("out") + " 2>&1";
    CHECK(system(cmd.c_str()) == 0);
  }
}

TEST_CASE("cli import enterprises: a bad row imports nothing, a good file feeds dossier, rates and plan", "[views]") {
  TempDir dir;
  std::string data = dir.Sub("var");
  Seed(data);
  std::string bad = dir.Sub("bad.csv");
  std::ofstream(bad) << "code,name,kind,office,supervision_level,product_categories\n"
                        "ENT-A,石柱康宁药房,trading_enterprise,nanbin,3,体外诊断试剂;隐形眼镜\n"
                        "ENT-B,西沱卫生院,use_unit,xituo,4,\n";
  auto b = RunXiaohao({"import", "enterprises", "--data", data, bad});
  CHECK(b.exit_code == 2);
  CHECK_THAT(b.err, Catch::Contains("row 3: field supervision_level: '4' is not 1, 2 or 3"));
  CHECK_THAT(b.err, Catch::Contains("nothing imported"));
  auto d0 = Json(RunXiaohao({"report", "dossier", "--data", data, "--enterprise", "ENT-A", "--format", "json"}));
  CHECK(d0["register"].is_null());

  std::string good = dir.Sub("good.csv");
  std::ofstream(good) << "统一社会信用代码,名称,类型,监管所,监管级别,产品类别\n"
                         "ENT-A,石柱康宁药房,trading_enterprise,nanbin,3,体外诊断试剂;隐形眼镜\n"
                         "ENT-B,西沱卫生院,use_unit,xituo,2,\n"
                         "ENT-C,南宾医疗器械店,trading_enterprise,nanbin,3,\n";
  auto g = RunXiaohao({"import", "enterprises", "--data", data, good});
  INFO(g.err);
  REQUIRE(g.exit_code == 0);
  CHECK(g.out == "imported 3 enterprises into the register\n");

  auto d = Json(RunXiaohao({"report", "dossier", "--data", data, "--enterprise", "ENT-A", "--format", "json"}));
  CHECK(d["register"]["name"] == "石柱康宁药房");
  CHECK(d["register"]["product_categories"] == json::array({"体外诊断试剂", "隐形眼镜"}));
  REQUIRE(d["cases"].size() == 3);  // two risk items and one inspection name it
  CHECK(d["cases"][0]["case_id"] == "inspection-1");

  auto rates = Json(RunXiaohao({"report", "rates", "--data", data, "--office", "shizhu", "--year", "2025",
                                "--format", "json"}));
  CHECK(rates["follow_up_coverage"]["rectification_reported"] == 1);
  CHECK(rates["follow_up_coverage"]["verified"] == 1);
  CHECK(rates["self_inspection_reports"]["expected"] == 3);
  CHECK(rates["self_inspection_reports"]["received"] == 0);
  const json& level3 = rates["inspection_frequency"][0];
  CHECK(level3["level"] == 3);
  CHECK(level3["enterprises"] == 2);
  CHECK(level3["inspected"] == 1);  // ENT-A on 2025-10-21
  CHECK(level3["met"] == false);

  // Without --year: this year in China Standard Time, as GET /v1/rates.
  int this_year;
  unsigned month, day;
  CivilFromDays(CstDayOf(SystemClock::Default()->Now()), &this_year, &month, &day);
  auto by_default = RunXiaohao({"report", "rates", "--data", data, "--office", "shizhu", "--format", "json"});
  auto explicit_year = RunXiaohao({"report", "rates", "--data", data, "--office", "shizhu", "--year",
                                   std::to_string(this_year), "--format", "json"});
  REQUIRE(by_default.exit_code == 0);
  CHECK(Json(by_default)["year"] == this_year);
  CHECK(by_default.out == explicit_year.out);
  auto bad_year = RunXiaohao({"report", "rates", "--data", data, "--year", "20250"});
  CHECK(bad_year.exit_code != 0);
  CHECK(bad_year.err.find("year 20250 is out of range") != std::string::npos);

  auto plan = Json(RunXiaohao({"report", "plan", "--data", data, "--quarter", "2025Q4", "--format", "json"}));
  REQUIRE(plan["rows"].size() == 10);
  CHECK(plan["rows"][0]["office"] == "nanbin");
  CHECK(plan["rows"][0]["planned_trading_enterprise"] == 11);
  CHECK(plan["rows"][0]["done_trading_enterprise"] == 1);
  CHECK(plan["rows"][1]["office"] == "wanan");
  CHECK(plan["rows"][1]["planned_use_unit"] == 7);
}

}  // namespace
}  // namespace xiaohao::testing
