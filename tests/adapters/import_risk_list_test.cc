// `xiaohao import risk-list` as a regulator moving a spreadsheet risk list
// (风险清单) into xiaohao runs it: the real binary on real files.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "store/event_store.h"
#include "tests/test_util.h"

namespace xiaohao::testing {
namespace {

using json = nlohmann::json;

const char kHeader[] = "风险编号,发现日期,风险来源,责任单位,统一社会信用代码,企业名称,产品类别,风险等级,风险描述\n";

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.Sub(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// "ok <count> events, head <hash>": the whole log's identity.
std::string Head(const std::string& data) {
  auto v = RunXiaohao({"verify", "--data", data});
  INFO(v.err);
  REQUIRE(v.exit_code == 0);
  return v.out;
}

CommandOutput Import(const std::string& data, const std::string& file, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"import", "risk-list", "--data", data, file};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunXiaohao(args);
}

json Items(const std::string& data) {
  auto r = RunXiaohao({"report", "risk-list", "--data", data, "--items", "--format", "json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

json Case(const std::string& data, const std::string& id) {
  auto r = RunXiaohao({"report", "case", "--data", data, "--case", id, "--format", "json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out)["case"];
}

// A store that exists, with one item, so "unchanged" has a head to compare.
std::string SeededStore(const TempDir& dir) {
  std::string data = dir.Sub("var");
  auto r = Import(data, Write(dir, "seed.csv", std::string(kHeader) +
                                                   "SEED-1,2025-08-01,监督检查,nanbin,ENT-A,,体外诊断试剂,高,冷链断链\n"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return data;
}

TEST_CASE("import risk-list: the sample sheet opens its cases through the engine, once", "[import]") {
  TempDir dir;
  std::string data = dir.Sub("var");
  std::string sample = SourceDir() + "/workflows/samples/risk-list.csv";  // BOM, CRLF, quoted cells, 序号/备注
  auto r = Import(data, sample);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("opened 6 risk items"));
  CHECK_THAT(r.out, Catch::Contains("in one atomic write"));
  CHECK_THAT(r.out, Catch::Contains("  nanbin 南宾市场监督管理所: 2\n"));
  CHECK_THAT(r.out, Catch::Contains("  wanan 万安市场监督管理所: 1\n"));
  CHECK_THAT(r.err, Catch::Contains("columns not imported: 序号, 备注"));

  // Visible in the risk list, with the sheet's values mapped to the workflow's.
  json items = Items(data)["items"];
  REQUIRE(items.size() == 6);
  json c1 = Case(data, "risk_item-rl-SZ-2025-001");
  CHECK(c1["state"] == "rectifying");
  CHECK(c1["opened_at"] == "2025-09-10T00:00:00+08:00");  // the finding date, CST
  CHECK(c1["facts"]["office"] == "nanbin");                // 南宾所
  CHECK(c1["facts"]["source"] == "inspection");           // 监督检查
  CHECK(c1["facts"]["risk_level"] == "high");             // 高
  CHECK(c1["facts"]["rectify_by"] == "2025-09-30");
  CHECK(c1["deadlines"].size() == 1);  // the rectification deadline started
  json c2 = Case(data, "risk_item-rl-SZ-2025-002");
  CHECK(c2["state"] == "registered");
  CHECK(c2["facts"]["found_on"] == "2025-09-12");  // written 2025/9/12
  CHECK(c2["facts"]["description"] == "标签不符合规定，\"无中文说明书\"");
  json c3 = Case(data, "risk_item-rl-SZ-2025-003");
  CHECK(c3["state"] == "assigned");
  CHECK(c3["facts"]["found_on"] == "2025-09-15");  // written 2025年9月15日
  CHECK(c3["facts"]["description"] == "抽检不合格：\n无菌检查项目不符合标准");
  // Who imported it is on the record.
  auto audit = RunXiaohao({"report", "audit", "--data", data, "--case", "risk_item-rl-SZ-2025-001", "--format", "json"});
  REQUIRE(audit.exit_code == 0);
  json entries = json::parse(audit.out)["entries"];
  REQUIRE(entries.size() == 4);  // opened, assigned, rectification_ordered, deadline.started
  CHECK(entries[0]["actor"]["user_id"] == "cli-import");
  CHECK(entries[0]["actor"]["role"] == "supervisor");
  CHECK(entries[0]["command_id"].get<std::string>().rfind("import-risk-list/", 0) == 0);

  // Again: nothing new, the log is byte for byte the same.
  std::string head = Head(data);
  auto again = Import(data, sample);
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::StartsWith("nothing new: all 6 items"));
  CHECK(Head(data) == head);

  // A later edition of the list: the same items plus a new one opens the new one only.
  std::ifstream in(sample, std::ios::binary);
  std::string sheet((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string next = Write(dir, "next.csv", sheet + "7,SZ-2025-007,2025-11-05,监督检查,南宾所,ENT-B,,医用口罩,一般,"
                                                    "新发现,,,,,,,\r\n");
  auto more = Import(data, next);
  INFO(more.err);
  REQUIRE(more.exit_code == 0);
  CHECK_THAT(more.out, Catch::Contains("opened 1 risk items"));
  CHECK_THAT(more.out, Catch::Contains("6 items were imported before and skipped"));
  CHECK(Items(data)["items"].size() == 7);
}

TEST_CASE("import risk-list: every bad row is listed with row and column, and nothing is imported", "[import]") {
  TempDir dir;
  std::string data = SeededStore(dir);
  std::string head = Head(data);
  std::string bad = Write(
      dir, "bad.csv",
      "风险编号,发现日期,风险来源,责任单位,统一社会信用代码,企业名称,产品类别,风险等级,风险描述,状态\n"
      "A-1,2025-09-01,监督检查,nanbin,ENT-A,,体外诊断试剂,高,好的一行,\n"       // row 2: fine
      "A-2,2025-09-01,监督检查,南滨所,ENT-A,,体外诊断试剂,高,单位写错,\n"       // row 3: unknown office
      "A-3,2025-13-01,监督检查,nanbin,ENT-A,,体外诊断试剂,高,日期不存在,\n"     // row 4: bad date
      "A-4,2025-09-01,随手拍,nanbin,ENT-A,,体外诊断试剂,高,来源未知,\n"         // row 5: unknown source
      "A-5,2025-09-01,监督检查,nanbin,ENT-A,,体外诊断试剂,极高,等级未知,\n"     // row 6: unknown level
      "A-1,2025-09-02,监督检查,nanbin,ENT-A,,体外诊断试剂,高,编号重复,\n"       // row 7: duplicate id
      "A-7,2025-09-01,监督检查,nanbin,ENT-A,,体外诊断试剂,高,已经销号,已销号\n"  // row 8: closed
      "A-8,2099-01-01,监督检查,nanbin,ENT-A,,体外诊断试剂,高,,\n"               // row 9: future date, empty description
      "A-9,45678,监督检查,nanbin,ENT-A,,体外诊断试剂,高,数字日期,\n");          // row 10: Excel serial date
  auto r = Import(data, bad);
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::Contains("row 3, column D 责任单位 (office): '南滨所' is not a unit of the jurisdiction tree"));
  CHECK_THAT(r.err, Catch::Contains("nanbin 南宾市场监督管理所"));  // how to fix: the known offices
  CHECK_THAT(r.err, Catch::Contains("row 4, column B 发现日期 (found_on): '2025-13-01' is not a date; write YYYY-MM-DD"));
  CHECK_THAT(r.err, Catch::Contains("row 5, column C 风险来源 (source): '随手拍' is not a known source; write one of 监督检查 (inspection)"));
  CHECK_THAT(r.err, Catch::Contains("row 6, column H 风险等级 (risk_level): '极高' is not a risk level; write one of 一般 (low), 较高 (medium), 高 (high)"));
  CHECK_THAT(r.err, Catch::Contains("row 7, column A 风险编号 (external_id): 'A-1' is also the id of row 2"));
  CHECK_THAT(r.err, Catch::Contains("row 8, column J 状态 (status): '已销号': items past a follow-up verification are not imported"));
  CHECK_THAT(r.err, Catch::Contains("row 9, column B 发现日期 (found_on): '2099-01-01' is in the future"));
  CHECK_THAT(r.err, Catch::Contains("row 9, column I 风险描述 (description): empty"));
  CHECK_THAT(r.err, Catch::Contains("row 10, column B 发现日期 (found_on): '45678' is not a date"));
  CHECK_THAT(r.err, Catch::Contains("format the column as a date"));
  CHECK_THAT(r.err, Catch::Contains("nothing imported: 9 problems in 8 rows"));
  CHECK(Head(data) == head);

  // The header: required columns missing.
  auto h = Import(data, Write(dir, "h.csv", "风险编号,发现日期\nX-1,2025-09-01\n"));
  CHECK(h.exit_code == 1);
  CHECK_THAT(h.err, Catch::Contains("row 1: no column 风险来源 (source): add a column headed 风险来源 or 来源 or source"));
  CHECK(Head(data) == head);
}

TEST_CASE("import risk-list: the engine's own checks, per row: jurisdiction, register, dates", "[import]") {
  TempDir dir;
  std::string data = SeededStore(dir);
  REQUIRE(RunXiaohao({"users", "add", "--data", data, "--id", "li", "--role", "inspector", "--unit", "nanbin"})
              .exit_code == 0);
  REQUIRE(RunXiaohao({"users", "add", "--data", data, "--id", "au", "--role", "auditor", "--unit", "shizhu"})
              .exit_code == 0);
  std::string head = Head(data);
  std::string file = Write(dir, "j.csv",
                           "风险编号,发现日期,风险来源,责任单位,统一社会信用代码,产品类别,风险等级,风险描述,责任人,"
                           "整改通知书文号,整改期限,整改内容\n"
                           "J-1,2025-09-01,监督检查,nanbin,ENT-A,体外诊断试剂,高,本所,张三,N1,2025-09-20,整改\n"
                           "J-2,2025-09-01,监督检查,wanan,ENT-A,体外诊断试剂,高,他所,,,,\n"
                           "J-3,2025-09-05,监督检查,nanbin,ENT-A,体外诊断试剂,高,期限早于通知,张三,N3,2025-09-05,整改\n"
                           "J-4,2025-09-05,监督检查,nanbin,ENT-A,体外诊断试剂,高,缺责任人,,N4,2025-09-30,整改\n");
  auto r = Import(data, file, {"--as", "li"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("row 3, column D 责任单位 (office): the workflow refuses open: outside_jurisdiction"));
  CHECK_THAT(r.err, Catch::Contains("import as a user whose unit covers it (--as)"));
  CHECK_THAT(r.err, Catch::Contains("row 4, column K 整改期限 (rectify_by): the workflow refuses issue_rectification_notice"));
  CHECK_THAT(r.err, Catch::Contains("row 5, column I 责任人 (assignee): empty, but the row orders rectification"));
  CHECK(Head(data) == head);

  auto au = Import(data, file, {"--as", "au"});
  CHECK(au.exit_code == 2);
  CHECK_THAT(au.err, Catch::Contains("acts as auditor, but risk items are opened by inspector or supervisor"));

  // Once a register is imported, an enterprise must be in it.
  std::string ents = Write(dir, "e.csv", "code,name,kind,office,supervision_level,product_categories\n"
                                         "ENT-A,康宁药房,trading_enterprise,nanbin,3,\n");
  REQUIRE(RunXiaohao({"import", "enterprises", "--data", data, ents}).exit_code == 0);
  head = Head(data);
  auto reg = Import(data, Write(dir, "r.csv", std::string(kHeader) +
                                                  "R-1,2025-09-01,监督检查,nanbin,ENT-A,,体外诊断试剂,高,在册\n"
                                                  "R-2,2025-09-01,监督检查,nanbin,ENT-Z,,体外诊断试剂,高,不在册\n"));
  CHECK(reg.exit_code == 1);
  CHECK_THAT(reg.err, Catch::Contains("row 3, column E 统一社会信用代码 (enterprise): 'ENT-Z' is not in the enterprise "
                                      "register (1 enterprises); fix the code, or add the enterprise first with "
                                      "`xiaohao import enterprises`"));
  CHECK(Head(data) == head);

  // A changed fact under an id already imported is refused, not overwritten.
  auto changed = Import(data, Write(dir, "c.csv", std::string(kHeader) +
                                                      "SEED-1,2025-08-01,监督检查,nanbin,ENT-A,,体外诊断试剂,一般,冷链断链\n"));
  CHECK(changed.exit_code == 1);
  CHECK_THAT(changed.err, Catch::Contains("'SEED-1' was imported before as risk_item-rl-SEED-1 with different facts "
                                          "(H 风险等级 (risk_level))"));
  CHECK(Head(data) == head);
}

TEST_CASE("import risk-list: file encodings and shapes", "[import]") {
  TempDir dir;
  std::string data = SeededStore(dir);
  std::string head = Head(data);

  auto empty = Import(data, Write(dir, "empty.csv", ""));
  CHECK(empty.exit_code == 1);
  CHECK_THAT(empty.err, Catch::Contains("row 1: the file is empty: the first row must name the columns"));
  auto header_only = Import(data, Write(dir, "header.csv", "\xEF\xBB\xBF" + std::string(kHeader)));
  CHECK(header_only.exit_code == 1);
  CHECK_THAT(header_only.err, Catch::Contains("row 2: no risk items below the header row"));
  // GBK bytes for 南宾所 where UTF-8 was expected.
  auto gbk = Import(data, Write(dir, "gbk.csv", std::string(kHeader) +
                                                    "G-1,2025-09-01,监督检查,\xC4\xCF\xB1\xF6\xCB\xF9,ENT-A,,体外诊断试剂,高,x\n"));
  CHECK(gbk.exit_code == 1);
  CHECK_THAT(gbk.err, Catch::Contains("row 2, column D: not UTF-8 (byte 0xC4 at byte 1 of the cell)"));
  CHECK_THAT(gbk.err, Catch::Contains("CSV UTF-8"));
  auto unclosed = Import(data, Write(dir, "q.csv", std::string(kHeader) +
                                                       "Q-1,2025-09-01,监督检查,nanbin,ENT-A,,体外诊断试剂,高,\"没有收尾\n"));
  CHECK(unclosed.exit_code == 1);
  CHECK_THAT(unclosed.err, Catch::Contains("row 2, column I: a quoted cell is never closed"));
  CHECK(Head(data) == head);

  // English headers, LF, no BOM, blank lines, quoted commas and CRLF inside a cell.
  auto english = Import(data, Write(dir, "en.csv",
                                    "external_id,found_on,source,office,enterprise,product_category,risk_level,description\r\n"
                                    "\r\n"
                                    "E-1,2025-09-01,sampling,nanbin,ENT-A,体外诊断试剂,medium,\"a, b\r\nc\"\r\n"
                                    ",,,,,,,\r\n"));
  INFO(english.err);
  REQUIRE(english.exit_code == 0);
  json c = Case(data, "risk_item-rl-E-1");
  CHECK(c["facts"]["description"] == "a, b\r\nc");
  CHECK(c["facts"]["source"] == "sampling");
}

TEST_CASE("import risk-list: --dry-run checks and writes nothing, a list too big for one append is written in whole rows", "[import]") {
  TempDir dir;
  std::string data = SeededStore(dir);
  std::string head = Head(data);
  std::string big = std::string(kHeader);
  for (int i = 0; i < 10050; ++i)  // 10,050 events: over the store's 10,000 per append
    big += "B-" + std::to_string(i) + ",2025-09-01,监督检查,nanbin,ENT-A,,体外诊断试剂,高,批量\n";
  std::string file = Write(dir, "big.csv", big);
  auto dry = Import(data, file, {"--dry-run"});
  INFO(dry.err);
  REQUIRE(dry.exit_code == 0);
  CHECK_THAT(dry.out, Catch::StartsWith("checked " + file + ": would open 10050 risk items (10050 events); nothing written"));
  CHECK(Head(data) == head);
  auto r = Import(data, file);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("opened 10050 risk items (10050 events, positions "));
  CHECK_THAT(r.out, Catch::Contains(" in 2 atomic writes"));
  head = Head(data);
  auto again = Import(data, file);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::StartsWith("nothing new: all 10050 items"));
  CHECK(Head(data) == head);
}

TEST_CASE("import risk-list: a running service holds the data directory, the message says to stop it", "[import]") {
  TempDir dir;
  std::string data = SeededStore(dir);
  std::string head = Head(data);
  StoreOptions o;
  o.path = data;
  auto held = EventStore::Open(o);  // as `xiaohao serve` holds it
  REQUIRE(held.ok());
  auto r = Import(data, SourceDir() + "/workflows/samples/risk-list.csv");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("is in use by another xiaohao process"));
  CHECK_THAT(r.err, Catch::Contains("stop the service (`xiaohao serve --data " + data + "`)"));
  held->reset();
  CHECK(Head(data) == head);
}

TEST_CASE("import risk-list: --help documents the columns with an example", "[import]") {
  auto h = RunXiaohao({"import", "risk-list", "--help"});
  CHECK(h.exit_code == 0);
  CHECK_THAT(h.out, Catch::Contains("发现日期 / found_on (required)"));
  CHECK_THAT(h.out, Catch::Contains("xiaohao import risk-list --data ./var workflows/samples/risk-list.csv"));
}

}  // namespace
}  // namespace xiaohao::testing
