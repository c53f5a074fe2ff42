// The report endpoints of the HTTP service over real loopback sockets: the
// risk list with every filter, the quarterly table as JSON/CSV/XLSX, rates,
// plan progress, dossiers, the audit trail, past states (as_of / as_at),
// paging, and who may read what. Where the CLI has the same report, the
// answer is compared with `xiaohao report ... --format json` on the same
// data directory (the CLI opens it read-only while the server runs).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "adapters/http_server.h"
#include "adapters/service.h"
#include "adapters/users.h"
#include "engine/risk_projection.h"
#include "store/event_store.h"
#include "tests/adapters/http_test_client.h"
#include "tests/adapters/service_fixture.h"
#include "tests/test_util.h"
#include "tests/adapters/sample_requests.h"

namespace xiaohao {
namespace {

using nlohmann::json;
using testing::HttpAnswer;
using testing::HttpCall;
using testing::RunXiaohao;
using testing::TempDir;


std::string Url(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// A server (scheduler off: nothing writes but the test) on a data directory
// whose enterprise register holds E1 and E3 (南宾所) and E2 (万安所).
class ReportsServer {
 public:
  ReportsServer() {
    data_ = dir_.Sub("data");
    ::mkdir(data_.c_str(), 0700);
    SeedRegister();
    tokens_ = testing::AddTestUsers(data_, {{"li", "inspector", "nanbin", ""},
                                            {"zhao", "inspector", "wanan", ""},
                                            {"wang", "supervisor", "shizhu", ""},
                                            {"chen", "auditor", "shizhu", ""},
                                            {"ent1", "enterprise", "", "E1"},
                                            {"ent2", "enterprise", "", "E2"},
                                            {"root", "admin", "", ""}});

    ServiceOptions so;
    so.data_dir = data_;
    so.workflows_dir = testing::SourceDir() + "/workflows";
    so.run_scheduler = false;
    live_ = std::make_unique<testing::LiveService>(so, 2);
  }

  HttpAnswer Get(const std::string& user, const std::string& target) {
    std::map<std::string, std::string> h;
    if (!user.empty()) h["Authorization"] = "Bearer " + tokens_.at(user);
    return HttpCall(live_->port(), "GET", target, "", h);
  }
  HttpAnswer Post(const std::string& user, const std::string& target, const json& body) {
    return HttpCall(live_->port(), "POST", target, body.dump(), {{"Authorization", "Bearer " + tokens_.at(user)}});
  }
  // Opens a risk item (found 2025-09-26) and returns the whole answer.
  json OpenRisk(const std::string& user, const std::string& office, const std::string& ent,
                const std::string& level = "high") {
    HttpAnswer a = Post(user, "/v1/cases", testing::RiskItemOpenBody(office, ent, level));
    INFO(a.body);
    REQUIRE(a.status == 201);
    return a.Json();
  }
  std::string OpenLead(const std::string& user, const std::string& office, const std::string& received_on) {
    HttpAnswer a = Post(user, "/v1/cases",
                        {{"workflow", "online_sales_lead"},
                         {"occurred_at", received_on + "T16:00:00+08:00"},
                         {"payload",
                          {{"office", office},
                           {"lead_no", "JL-" + received_on},
                           {"received_on", received_on},
                           {"enterprise", "E1"},
                           {"description", "平台销售未备案产品"}}}});
    INFO(a.body);
    REQUIRE(a.status == 201);
    return a.Json()["case_id"];
  }
  // Every page of a list, following next_cursor; checks that pages are full
  // but the last, and returns the elements of `member` in order.
  std::vector<json> AllPages(const std::string& user, const std::string& target, const std::string& member,
                             size_t limit, int* pages) {
    std::vector<json> all;
    std::string cursor;
    *pages = 0;
    for (int guard = 0; guard < 100; ++guard) {
      std::string t = target + (target.find('?') == std::string::npos ? "?" : "&") + "limit=" + std::to_string(limit);
      if (!cursor.empty()) t += "&cursor=" + Url(cursor);
      HttpAnswer a = Get(user, t);
      INFO(t << " -> " << a.body);
      REQUIRE(a.status == 200);
      json j = a.Json();
      ++*pages;
      REQUIRE(j[member].size() <= limit);
      for (const auto& e : j[member]) all.push_back(e);
      if (j["next_cursor"].is_null()) break;
      CHECK(j[member].size() == limit);
      cursor = j["next_cursor"];
    }
    return all;
  }
  const std::string& data() const { return data_; }

 private:
  void SeedRegister() {
    StoreOptions o;
    o.path = data_;
    auto store = EventStore::Open(o);
    REQUIRE(store.ok());
    AppendRequest req;
    req.command_id = "test-register";
    for (auto [code, office] : {std::pair{"E1", "nanbin"}, {"E2", "wanan"}, {"E3", "nanbin"}}) {
      json rec{{"code", code},           {"name", std::string("企业") + code},
               {"kind", "trading_enterprise"}, {"office", office},
               {"supervision_level", 3}, {"product_categories", {"体外诊断试剂"}}};
      req.events.push_back({std::string(kEnterpriseStreamPrefix) + code, kEnterpriseRegistered,
                            "2025-01-01T09:00:00+08:00", {"test", "admin", ""}, rec.dump()});
    }
    REQUIRE((*store)->Append(std::move(req)).ok());
  }

  TempDir dir_;
  std::string data_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<testing::LiveService> live_;
};

json CliJson(const std::vector<std::string>& args) {
  auto r = RunXiaohao(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

const json* RowOf(const json& report, const std::string& unit) {
  for (const auto& r : report["rows"])
    if (r["unit"] == unit) return &r;
  return nullptr;
}

TEST_CASE("service reports: risk-list filters, their errors, and item pages without gaps or repeats",
          "[service][views]") {
  ReportsServer f;
  for (int i = 0; i < 5; ++i) f.OpenRisk("li", "nanbin", i == 0 ? "E2" : "E1", i < 2 ? "low" : "high");
  f.OpenRisk("zhao", "wanan", "E1");

  auto items = [&](const std::string& user, const std::string& query) {
    HttpAnswer a = f.Get(user, "/v1/risk-list?items=1&limit=1000&" + query);
    INFO(query << " -> " << a.body);
    REQUIRE(a.status == 200);
    return a.Json()["items"].size();
  };
  CHECK(items("wang", "") == 6);
  CHECK(items("wang", "office=nanbin") == 5);
  CHECK(items("wang", "unit=nanbin") == 5);  // the older name
  CHECK(items("li", "") == 5);
  CHECK(items("wang", "enterprise=E2") == 1);
  CHECK(items("wang", "risk_level=low") == 2);
  CHECK(items("wang", "risk_level=low&office=wanan") == 0);
  CHECK(items("wang", "source=inspection") == 6);
  CHECK(items("wang", "source=sampling") == 0);
  CHECK(items("wang", "product_category=" + Url("体外诊断试剂")) == 6);
  CHECK(items("wang", "product_category=" + Url("有源医疗器械")) == 0);
  CHECK(items("wang", "state=open") == 6);
  CHECK(items("wang", "state=closed") == 0);
  CHECK(items("wang", "quarter=2025q3") == 6);  // normalized
  CHECK(items("wang", "quarter=2025Q4") == 0);

  // A bad filter value: 400, the parameter in "field", what is accepted in the message.
  auto bad = [&](const std::string& query, const std::string& field, const std::string& accepted) {
    HttpAnswer a = f.Get("wang", "/v1/risk-list?" + query);
    INFO(query << " -> " << a.body);
    CHECK(a.status == 400);
    CHECK(a.Json()["error"]["field"] == field);
    CHECK_THAT(a.Json()["error"]["message"].get<std::string>(), Catch::Contains(accepted));
  };
  bad("source=rumour", "source", "public_opinion");
  bad("risk_level=extreme", "risk_level", "medium");
  bad("state=forgotten", "state", "overdue");
  bad("quarter=2025Q5", "quarter", "2025Q3");
  bad("as_of=yesterday", "as_of", "YYYY-MM-DD");
  bad("as_at=2025-13-45", "as_at", "RFC 3339");
  bad("items=yes", "items", "1");
  bad("limit=0", "limit", "1..1000");
  bad("limit=1001", "limit", "1..1000");
  bad("riskLevel=high", "riskLevel", "risk_level");  // a misspelt filter does not widen the answer
  bad("items=1&cursor=garbage", "cursor", "next_cursor");
  bad("items=1&cursor=a.3030", "cursor", "next_cursor");  // another list's cursor
  CHECK(f.Get("wang", "/v1/risk-list?office=nanbin&unit=wanan").status == 400);
  CHECK(f.Get("wang", "/v1/risk-list?office=nowhere").status == 404);
  CHECK(f.Get("li", "/v1/risk-list?office=wanan").status == 403);
  CHECK(f.Get("ent1", "/v1/risk-list").status == 403);
  CHECK(f.Get("", "/v1/risk-list").status == 401);

  // Pages of 2 over 6 items: 3 pages, every item once, in case-id order.
  int pages = 0;
  auto all = f.AllPages("wang", "/v1/risk-list?items=1", "items", 2, &pages);
  CHECK(pages == 3);
  std::vector<std::string> ids;
  for (const auto& e : all) ids.push_back(e["case_id"]);
  CHECK(ids.size() == 6);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 6);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  // An item added between pages: no repeat, no gap among those already passed.
  HttpAnswer first = f.Get("wang", "/v1/risk-list?items=1&limit=3");
  REQUIRE(first.status == 200);
  std::string cursor = first.Json()["next_cursor"];
  f.OpenRisk("li", "nanbin", "E3");
  int rest_pages = 0;
  auto rest = f.AllPages("wang", "/v1/risk-list?items=1&cursor=" + Url(cursor), "items", 100, &rest_pages);
  std::set<std::string> seen;
  json first_page = first.Json();
  for (const auto& e : first_page["items"]) seen.insert(e["case_id"].get<std::string>());
  for (const auto& e : rest) CHECK(seen.insert(e["case_id"].get<std::string>()).second);
  for (const auto& id : ids) CHECK(seen.count(id) == 1);

  // The same rows and items as `xiaohao report risk-list --format json`.
  json http = f.Get("root", "/v1/risk-list?quarter=2025Q3&risk_level=high&items=1&limit=1000").Json();
  json cli = CliJson({"report", "risk-list", "--data", f.data(), "--quarter", "2025Q3", "--risk-level", "high",
                      "--items", "--format", "json"});
  CHECK(http["rows"] == cli["rows"]);
  CHECK(http["items"] == cli["items"]);
  for (const auto& [k, v] : cli.items()) CHECK(http.contains(k));
  // The CLI refuses the same bad value, naming its flag.
  auto cli_bad = RunXiaohao({"report", "risk-list", "--data", f.data(), "--source", "rumour"});
  CHECK(cli_bad.exit_code == 2);
  CHECK_THAT(cli_bad.err, Catch::Contains("--source") && Catch::Contains("public_opinion"));
}

TEST_CASE("service reports: a late-recorded event differs between as_of and as_at", "[service][views]") {
  ReportsServer f;
  json opened = f.OpenRisk("li", "nanbin", "E1");
  std::string id = opened["case_id"];
  std::string recorded = opened["events"][0]["recorded_at"];
  // Occurred on 2025-09-26, recorded now (more than a year later).
  HttpAnswer assigned = f.Post("li", "/v1/cases/" + id + "/commands",
                               {{"command", "assign"},
                                {"occurred_at", "2025-09-26T11:00:00+08:00"},
                                {"payload", {{"assignee", "李明"}}}});
  REQUIRE(assigned.status == 200);

  auto at = [&](const std::string& query) { return f.Get("li", "/v1/cases/" + id + "?" + query); };
  json now = f.Get("li", "/v1/cases/" + id).Json();
  CHECK(now["version"] == 2);
  CHECK(now["as_of"].is_null());
  // What the system knew when the opening was recorded: not yet the assignment.
  json known = at("as_of=" + Url(recorded)).Json();
  CHECK(known["version"] == 1);
  CHECK(known["state"] == opened["state"]);
  CHECK(known["as_of"].is_string());
  // What had happened by the end of 2025-09-26: the assignment too, recorded late.
  json happened = at("as_at=2025-09-26").Json();
  CHECK(happened["version"] == 2);
  CHECK(happened["state"] == now["state"]);
  CHECK(at("as_at=" + Url("2025-09-26T10:30:00+08:00")).Json()["version"] == 1);
  // Nothing of it had been recorded by the end of 2025-09-27.
  HttpAnswer unknown = at("as_of=2025-09-27");
  CHECK(unknown.status == 404);
  CHECK(unknown.ErrorCode() == "case_not_found");
  CHECK(at("as_of=" + Url(recorded) + "&as_at=2025-09-27").Json()["version"] == 1);
  CHECK(at("as_of=soon").status == 400);
  CHECK(at("as_of=soon").Json()["error"]["field"] == "as_of");
  CHECK(f.Get("zhao", "/v1/cases/" + id + "?as_at=2025-09-27").status == 403);

  // The risk list: the item exists as at 2025-09-27, not as of it.
  auto opened_q3 = [&](const std::string& q) {
    json j = f.Get("wang", "/v1/risk-list?quarter=2025Q3&" + q).Json();
    const json* r = RowOf(j, "shizhu");
    return r == nullptr ? 0 : (*r)["opened"].get<int>();
  };
  CHECK(opened_q3("as_at=2025-09-27") == 1);
  CHECK(opened_q3("as_of=2025-09-27") == 0);

  // The audit trail flags both events as recorded late, and the chain holds.
  HttpAnswer audit = f.Get("chen", "/v1/cases/" + id + "/audit");
  INFO(audit.body);
  REQUIRE(audit.status == 200);
  json a = audit.Json();
  CHECK(a["chain_ok"] == true);
  REQUIRE(a["entries"].size() == 2);
  for (const auto& e : a["entries"]) {
    CHECK(e["late"] == true);
    CHECK(e["hash_ok"] == true);
    CHECK(e["link_ok"] == true);
    CHECK(e["lag_hours"].get<double>() > 24 * 300);
  }
  CHECK(a["entries"][1]["command"] == "assign");
  CHECK(a["entries"][1]["actor"]["user_id"] == "li");
  json lenient = f.Get("chen", "/v1/cases/" + id + "/audit?late_days=1000").Json();
  for (const auto& e : lenient["entries"]) CHECK(e["late"] == false);
  // Paged one entry at a time.
  int pages = 0;
  auto entries = f.AllPages("chen", "/v1/cases/" + id + "/audit", "entries", 1, &pages);
  CHECK(pages == 2);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0]["position"] < entries[1]["position"]);
  // As the CLI has it.
  json cli = CliJson({"report", "audit", "--data", f.data(), "--case", id, "--format", "json"});
  a.erase("next_cursor");
  CHECK(a == cli);

  CHECK(f.Get("chen", "/v1/cases/" + id + "/audit?late_days=-1").status == 400);
  CHECK(f.Get("chen", "/v1/cases/" + id + "/audit?late_days=soon").Json()["error"]["field"] == "late_days");
  CHECK(f.Get("chen", "/v1/cases/" + id + "/audit?cursor=v1").ErrorCode() == "invalid_cursor");
  CHECK(f.Get("ent1", "/v1/cases/" + id + "/audit").status == 200);  // its own case
  CHECK(f.Get("ent2", "/v1/cases/" + id + "/audit").status == 403);
  CHECK(f.Get("zhao", "/v1/cases/" + id + "/audit").status == 403);
  CHECK(f.Get("chen", "/v1/cases/risk_item-nope/audit").status == 404);
  CHECK(f.Get("", "/v1/cases/" + id + "/audit").status == 401);
}

TEST_CASE("service reports: dossiers by jurisdiction, an enterprise reads only its own", "[service][views]") {
  ReportsServer f;
  std::string n1 = f.OpenRisk("li", "nanbin", "E1")["case_id"];
  std::string n2 = f.OpenRisk("li", "nanbin", "E1")["case_id"];
  std::string w1 = f.OpenRisk("zhao", "wanan", "E1")["case_id"];
  f.OpenRisk("zhao", "wanan", "E2");

  auto cases = [](const json& j) {
    std::set<std::string> s;
    for (const auto& c : j["cases"]) s.insert(c["case_id"].get<std::string>());
    return s;
  };
  // The enterprise itself: everything naming it.
  HttpAnswer own = f.Get("ent1", "/v1/enterprises/E1/dossier");
  REQUIRE(own.status == 200);
  CHECK(own.Json()["register"]["office"] == "nanbin");
  CHECK(cases(own.Json()) == std::set<std::string>{n1, n2, w1});
  HttpAnswer other = f.Get("ent1", "/v1/enterprises/E2/dossier");
  CHECK(other.status == 403);
  CHECK(other.ErrorCode() == "outside_jurisdiction");
  // An office: its own cases and the register record of an enterprise it supervises.
  json li = f.Get("li", "/v1/enterprises/E1/dossier").Json();
  CHECK(li["register"]["name"] == "企业E1");
  CHECK(cases(li) == std::set<std::string>{n1, n2});
  json zhao = f.Get("zhao", "/v1/enterprises/E1/dossier").Json();
  CHECK(zhao["register"].is_null());  // supervised by 南宾所
  CHECK(cases(zhao) == std::set<std::string>{w1});
  CHECK(f.Get("li", "/v1/enterprises/E2/dossier").status == 403);  // nothing of E2 is 南宾所's
  CHECK(f.Get("li", "/v1/enterprises/E3/dossier").status == 200);  // registered there, no case yet
  // The county supervisor and auditor: all of it.
  CHECK(cases(f.Get("chen", "/v1/enterprises/E1/dossier").Json()).size() == 3);
  CHECK(f.Get("wang", "/v1/enterprises/NOPE/dossier").status == 404);
  CHECK(f.Get("", "/v1/enterprises/E1/dossier").status == 401);
  CHECK(f.Get("wang", "/v1/enterprises/E1/dossier?as_of=never").status == 400);
  // Before any case was recorded, only the register.
  json before = f.Get("wang", "/v1/enterprises/E1/dossier?as_at=2025-06-01").Json();
  CHECK(before["cases"].empty());
  CHECK(before["register"]["code"] == "E1");
  // Pages.
  int pages = 0;
  auto paged = f.AllPages("wang", "/v1/enterprises/E1/dossier", "cases", 2, &pages);
  CHECK(pages == 2);
  CHECK(paged.size() == 3);
  // As the CLI has it (the admin sees the whole dossier).
  json http = f.Get("root", "/v1/enterprises/E1/dossier").Json();
  http.erase("next_cursor");
  CHECK(http == CliJson({"report", "dossier", "--data", f.data(), "--enterprise", "E1", "--format", "json"}));
}

TEST_CASE("service reports: rates and plan progress, scoped and paged", "[service][views]") {
  ReportsServer f;
  f.OpenRisk("li", "nanbin", "E1");

  HttpAnswer rates = f.Get("wang", "/v1/rates?year=2025");
  INFO(rates.body);
  REQUIRE(rates.status == 200);
  json r = rates.Json();
  CHECK(r["unit"] == "shizhu");
  CHECK(r["year"] == 2025);
  CHECK(r["inspection_frequency"].size() == 3);
  CHECK(r == CliJson({"report", "rates", "--data", f.data(), "--office", "shizhu", "--year", "2025", "--format",
                      "json"}));
  CHECK(f.Get("li", "/v1/rates?year=2025").Json()["unit"] == "nanbin");
  CHECK(f.Get("li", "/v1/rates?office=shizhu").status == 403);
  CHECK(f.Get("ent1", "/v1/rates").status == 403);
  CHECK(f.Get("wang", "/v1/rates?office=nowhere").status == 404);
  CHECK(f.Get("wang", "/v1/rates?year=twenty").Json()["error"]["field"] == "year");
  CHECK(f.Get("wang", "/v1/rates?year=1850").Json()["error"]["field"] == "year");
  CHECK(f.Get("", "/v1/rates").status == 401);

  // Plan progress: the county sees every office, an office only itself.
  HttpAnswer county = f.Get("wang", "/v1/plan?quarter=2025Q4&limit=1000");
  INFO(county.body);
  REQUIRE(county.status == 200);
  json c = county.Json();
  CHECK(c["plan"] == "shizhu-2025");
  CHECK(c["rows"].size() > 2);
  json cli = CliJson({"report", "plan", "--data", f.data(), "--quarter", "2025Q4", "--format", "json"});
  c.erase("plan");
  c.erase("next_cursor");
  CHECK(c == cli);
  json office = f.Get("li", "/v1/plan").Json();
  REQUIRE(office["rows"].size() == 4);
  for (const auto& row : office["rows"]) CHECK(row["office"] == "nanbin");
  CHECK(f.Get("li", "/v1/plan?office=wanan").status == 403);
  CHECK(f.Get("ent1", "/v1/plan").status == 403);
  CHECK(f.Get("wang", "/v1/plan?quarter=2026Q1").Json()["error"]["field"] == "quarter");
  HttpAnswer traversal = f.Get("wang", "/v1/plan?plan=" + Url("../plans/shizhu-2025"));
  CHECK(traversal.status == 404);
  CHECK(traversal.ErrorCode() == "unknown_plan");
  // Pages of 3 over the county's rows: all of them, once each, in plan order.
  int pages = 0;
  auto rows = f.AllPages("wang", "/v1/plan", "rows", 3, &pages);
  json whole = f.Get("wang", "/v1/plan?limit=1000").Json()["rows"];
  REQUIRE(rows.size() == whole.size());
  for (size_t i = 0; i < rows.size(); ++i) CHECK(rows[i] == whole[i]);
  CHECK(pages == static_cast<int>((whole.size() + 2) / 3));
}

TEST_CASE("service reports: the quarterly table as JSON, CSV and XLSX downloads", "[service][views]") {
  ReportsServer f;
  f.OpenRisk("li", "nanbin", "E1");
  f.OpenRisk("zhao", "wanan", "E2");

  HttpAnswer j = f.Get("wang", "/v1/reports/quarterly?quarter=2025Q3");
  REQUIRE(j.status == 200);
  CHECK(j.Json()["quarter"] == "2025Q3");
  REQUIRE(RowOf(j.Json(), "shizhu") != nullptr);
  CHECK((*RowOf(j.Json(), "shizhu"))["opened"] == 2);

  HttpAnswer csv = f.Get("wang", "/v1/reports/quarterly?quarter=2025q3&format=csv");
  REQUIRE(csv.status == 200);
  CHECK(csv.headers["content-type"].rfind("text/csv", 0) == 0);
  CHECK(csv.headers["content-disposition"] == "attachment; filename=\"risk-list-shizhu-2025Q3.csv\"");
  CHECK(csv.body.rfind("\xEF\xBB\xBF单位,单位名称,季度,发现风险数,已销号数,移送数,未销号数,逾期未整改数,销号率,销号天数中位数\r\n", 0) == 0);
  CHECK_THAT(csv.body, Catch::Contains("nanbin,") && Catch::Contains(",2025Q3,1,0,0,1,0,"));
  // The same bytes as the CLI's CSV for the same unit and quarter.
  auto cli_csv = RunXiaohao({"report", "risk-list", "--data", f.data(), "--office", "shizhu", "--quarter", "2025Q3",
                             "--format", "csv"});
  CHECK(csv.body == cli_csv.out);

  HttpAnswer office = f.Get("li", "/v1/reports/quarterly?quarter=2025Q3&format=csv");
  CHECK(office.headers["content-disposition"] == "attachment; filename=\"risk-list-nanbin-2025Q3.csv\"");
  CHECK(office.body.find("wanan") == std::string::npos);

  HttpAnswer xlsx = f.Get("chen", "/v1/reports/quarterly?quarter=2025Q3&format=xlsx");
  REQUIRE(xlsx.status == 200);
  CHECK(xlsx.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  CHECK(xlsx.headers["content-disposition"] == "attachment; filename=\"risk-list-shizhu-2025Q3.xlsx\"");
  CHECK(xlsx.body.rfind("PK\x03\x04", 0) == 0);  // a zip container, as every .xlsx is
  CHECK(xlsx.body.find("xl/worksheets/sheet1.xml") != std::string::npos);

  // Names are ours: nothing of the request but a known unit id and a parsed quarter reaches them.
  CHECK(f.Get("wang", "/v1/reports/quarterly?quarter=2025Q3&format=csv&office=" + Url("../../etc/x")).status == 404);
  CHECK(f.Get("wang", "/v1/reports/quarterly?quarter=" + Url("2025Q3\"; filename=x.sh") + "&format=csv").status ==
        400);
  CHECK(f.Get("wang", "/v1/reports/quarterly?quarter=2025Q3&format=" + Url("csv/../x")).status == 400);
  CHECK(f.Get("wang", "/v1/reports/quarterly?quarter=2025Q3&format=pdf").Json()["error"]["field"] == "format");
  CHECK(f.Get("wang", "/v1/reports/quarterly").Json()["error"]["field"] == "quarter");
  CHECK(f.Get("wang", "/v1/reports/quarterly?quarter=2025Q3&source=rumour").Json()["error"]["field"] == "source");
  CHECK(f.Get("li", "/v1/reports/quarterly?quarter=2025Q3&office=shizhu").status == 403);
  CHECK(f.Get("ent1", "/v1/reports/quarterly?quarter=2025Q3").status == 403);
  CHECK(f.Get("", "/v1/reports/quarterly?quarter=2025Q3").status == 401);
}

TEST_CASE("service reports: deadlines are paged by due instant and scoped without replaying cases",
          "[service][deadlines]") {
  ReportsServer f;
  // Received in September 2025: long overdue by now (the scheduler is off,
  // so the index still lists them by due date).
  std::vector<std::string> nanbin;
  for (const char* day : {"2025-09-01", "2025-09-02", "2025-09-02", "2025-09-03", "2025-09-04"})
    nanbin.push_back(f.OpenLead("li", "nanbin", day));
  std::string wanan = f.OpenLead("zhao", "wanan", "2025-09-01");

  int pages = 0;
  auto mine = f.AllPages("li", "/v1/deadlines?status=overdue", "deadlines", 2, &pages);
  CHECK(pages == 3);
  REQUIRE(mine.size() == 5);
  std::set<std::string> ids;
  for (size_t i = 0; i < mine.size(); ++i) {
    ids.insert(mine[i]["case_id"].get<std::string>());
    CHECK(mine[i]["office"] == "nanbin");
    CHECK(mine[i]["workflow"] == "online_sales_lead");
    CHECK(mine[i]["state"].is_string());
    if (i > 0) CHECK(mine[i - 1]["due_at"] <= mine[i]["due_at"]);
  }
  CHECK(ids == std::set<std::string>(nanbin.begin(), nanbin.end()));
  auto theirs = f.AllPages("zhao", "/v1/deadlines?status=overdue", "deadlines", 2, &pages);
  REQUIRE(theirs.size() == 1);
  CHECK(theirs[0]["case_id"] == wanan);
  CHECK(f.AllPages("wang", "/v1/deadlines?status=overdue", "deadlines", 4, &pages).size() == 6);
  CHECK(f.Get("li", "/v1/deadlines?status=overdue&cursor=zz").ErrorCode() == "invalid_cursor");
  CHECK(f.Get("li", "/v1/deadlines?status=overdue&cursor=d.00").ErrorCode() == "invalid_cursor");
  CHECK(f.Get("li", "/v1/deadlines?status=overdue&limit=5000").status == 400);
}

}  // namespace
}  // namespace xiaohao
