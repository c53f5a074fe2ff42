// The HTTP/JSON service driven over real loopback sockets: the real Service
// behind the real RESTinio server, in-process, on a port the kernel picks.
// The SIGTERM test runs the built binary instead.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "adapters/http_server.h"
#include "adapters/service.h"
#include "adapters/users.h"
#include "store/event_store.h"
#include "store/time_format.h"
#include <fstream>
#include "tests/adapters/http_load.h"
#include "tests/adapters/http_test_client.h"
#include "tests/adapters/service_fixture.h"
#include "tests/test_util.h"
#include "tests/adapters/sample_requests.h"

namespace xiaohao {
namespace {

using nlohmann::json;
using testing::HttpAnswer;
using testing::HttpCall;
using testing::TempDir;

constexpr int64_t kDay = 86400LL * 1000000;

// A running server on a fresh data directory with one user of each kind.
class ServerFixture {
 public:
  ServerFixture() {
    data_ = dir_.Sub("data");
    ::mkdir(data_.c_str(), 0700);
    tokens_ = testing::AddTestUsers(data_, {{"li", "inspector", "nanbin", ""},
                                            {"zhao", "inspector", "wanan", ""},
                                            {"wang", "supervisor", "shizhu", ""},
                                            {"chen", "auditor", "shizhu", ""},
                                            {"ent1", "enterprise", "", "E1"},
                                            {"ent2", "enterprise", "", "E2"},
                                            {"root", "admin", "", ""},
                                            {"old", "inspector", "nanbin", "", 10, 1},  // expired 9 days ago
                                            {"gone", "inspector", "nanbin", "", 0, 30, true}});
    Start(false);
  }
  ~ServerFixture() { Stop(); }

  void Start(bool read_only) {
    ServiceOptions so;
    so.data_dir = data_;
    so.workflows_dir = testing::SourceDir() + "/workflows";
    so.read_only = read_only;
    so.max_body_bytes = 64 * 1024;
    so.alert_outbox = alert_outbox;
    live_ = std::make_unique<testing::LiveService>(so, 4);
  }
  void Stop() { live_.reset(); }
  std::string alert_outbox;  // ServiceOptions::alert_outbox at the next Start

  HttpAnswer Get(const std::string& user, const std::string& target) {
    return HttpCall(port(), "GET", target, "", Auth(user));
  }
  HttpAnswer Post(const std::string& user, const std::string& target, const json& body,
                  std::map<std::string, std::string> headers = {}) {
    auto h = Auth(user);
    h.insert(headers.begin(), headers.end());
    return HttpCall(port(), "POST", target, body.dump(), h);
  }
  std::map<std::string, std::string> Auth(const std::string& user) {
    if (user.empty()) return {};
    return {{"Authorization", "Bearer " + tokens_.at(user)}};
  }

  // Opens a risk item for `office` and enterprise `ent` as `user`; returns its id.
  std::string OpenCase(const std::string& user, const std::string& office, const std::string& ent) {
    HttpAnswer a = Post(user, "/v1/cases", OpenBody(office, ent));
    REQUIRE(a.status == 201);
    return a.Json()["case_id"].get<std::string>();
  }
  static json OpenBody(const std::string& office, const std::string& ent) {
    return testing::RiskItemOpenBody(office, ent);
  }
  static json Assign(std::optional<uint64_t> expected = std::nullopt) {
    json j{{"command", "assign"}, {"occurred_at", "2025-09-26T11:00:00+08:00"}, {"payload", {{"assignee", "李明"}}}};
    if (expected) j["expected_version"] = *expected;
    return j;
  }

  uint16_t port() const { return live_->port(); }
  Service* service() const { return live_->service(); }
  uint64_t Head() { return Get("root", "/healthz").Json()["head"].get<uint64_t>(); }
  std::map<std::string, std::string>& tokens() { return tokens_; }
  const std::string& data() const { return data_; }

 private:
  TempDir dir_;
  std::string data_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<testing::LiveService> live_;
};

TEST_CASE("service: healthz, metrics and the OpenAPI file need no token", "[service]") {
  ServerFixture f;
  HttpAnswer h = HttpCall(f.port(), "GET", "/healthz");
  CHECK(h.status == 200);
  CHECK(h.Json()["status"] == "ok");
  HttpAnswer api = HttpCall(f.port(), "GET", "/v1/openapi.yaml");
  CHECK(api.status == 200);
  CHECK(api.body.find("openapi: 3") != std::string::npos);
  CHECK(api.body.find("/v1/cases/{case_id}/commands") != std::string::npos);
  f.OpenCase("li", "nanbin", "E1");
  HttpAnswer m = HttpCall(f.port(), "GET", "/metrics");
  CHECK(m.status == 200);
  CHECK(m.headers["content-type"].find("text/plain") == 0);
  CHECK(m.body.find("xiaohao_events_appended_total 1") != std::string::npos);
  CHECK(m.body.find("xiaohao_command_latency_seconds_count 1") != std::string::npos);
  CHECK(m.body.find("xiaohao_http_requests_total{route=\"POST /v1/cases\",code=\"201\"} 1") != std::string::npos);
}

TEST_CASE("service: tokens missing, wrong, malformed, expired, revoked and rotated", "[service][auth]") {
  ServerFixture f;
  HttpAnswer none = HttpCall(f.port(), "GET", "/v1/verify");
  CHECK(none.status == 401);
  CHECK(none.ErrorCode() == "unauthenticated");
  CHECK(none.headers["www-authenticate"] == "Bearer");
  CHECK(HttpCall(f.port(), "GET", "/v1/verify", "", {{"Authorization", "Bearer xh_nope"}}).status == 401);
  CHECK(HttpCall(f.port(), "GET", "/v1/verify", "", {{"Authorization", "Basic abc"}}).status == 401);
  HttpAnswer expired = f.Get("old", "/v1/verify");
  CHECK(expired.status == 401);
  CHECK(expired.Json()["error"]["message"].get<std::string>().find("expired") != std::string::npos);
  CHECK(f.Get("gone", "/v1/verify").status == 401);
  CHECK(f.Get("li", "/v1/verify").status == 200);

  // Revoked while the server runs: refused at the next request.
  std::string users = UsersFilePath(f.data());
  REQUIRE(RevokeUser(users, "li", SystemClock::Default()->Now()).ok());
  CHECK(f.Get("li", "/v1/verify").status == 401);

  // Rotation: the old token stops, the new one works.
  std::string before = f.tokens()["zhao"];
  auto rotated = RotateToken(users, "zhao", kDay, SystemClock::Default()->Now());
  REQUIRE(rotated.ok());
  CHECK(f.Get("zhao", "/v1/verify").status == 401);
  f.tokens()["zhao"] = rotated->token;
  CHECK(f.Get("zhao", "/v1/verify").status == 200);
  // Only the hash is stored.
  auto stored = LoadUsers(users);
  REQUIRE(stored.ok());
  for (const auto& u : *stored) CHECK(u.token_sha256 != rotated->token);
}

TEST_CASE("service: open a case, send commands, read state and paginated events, verify", "[service]") {
  ServerFixture f;
  HttpAnswer opened = f.Post("li", "/v1/cases", ServerFixture::OpenBody("nanbin", "E1"));
  REQUIRE(opened.status == 201);
  json o = opened.Json();
  std::string id = o["case_id"];
  CHECK(id.rfind("risk_item-", 0) == 0);
  CHECK(o["version"] == 1);
  REQUIRE(o["events"].size() == 1);
  CHECK(o["events"][0]["type"] == "risk_item.opened");

  HttpAnswer assigned = f.Post("li", "/v1/cases/" + id + "/commands", ServerFixture::Assign(1));
  REQUIRE(assigned.status == 200);
  CHECK(assigned.Json()["version"] == 2);
  CHECK(assigned.Json()["events"][0]["type"] == "risk_item.assigned");

  HttpAnswer notice = f.Post("li", "/v1/cases/" + id + "/commands",
                             json{{"command", "issue_rectification_notice"},
                                  {"occurred_at", "2025-09-27T09:00:00+08:00"},
                                  {"payload",
                                   {{"notice_no", "石市监整〔2025〕12号"},
                                    {"rectify_by", "2025-10-20"},
                                    {"content", "补齐冷链温度记录"}}}});
  REQUIRE(notice.status == 200);
  uint64_t version = notice.Json()["version"];
  CHECK(version >= 3);

  // The enterprise reports its own rectification.
  HttpAnswer report = f.Post("ent1", "/v1/cases/" + id + "/commands",
                             json{{"command", "report_rectification"},
                                  {"occurred_at", "2025-10-10T09:00:00+08:00"},
                                  {"payload", {{"report", "已安装温度记录仪"}}}});
  REQUIRE(report.status == 200);
  CHECK(report.Json()["state"] == "rectification_reported");

  HttpAnswer state = f.Get("wang", "/v1/cases/" + id);
  REQUIRE(state.status == 200);
  json s = state.Json();
  CHECK(s["case_id"] == id);
  CHECK(s["workflow"] == "risk_item");
  CHECK(s["state"] == "rectification_reported");
  CHECK(s["version"] == report.Json()["version"]);
  CHECK(s["deadlines"].is_array());

  // Pages of two events, cursor to the end.
  std::vector<json> all;
  std::string target = "/v1/cases/" + id + "/events?limit=2";
  for (int guard = 0; guard < 10; ++guard) {
    HttpAnswer page = f.Get("chen", target);
    REQUIRE(page.status == 200);
    json p = page.Json();
    CHECK(p["events"].size() <= 2);
    for (auto& e : p["events"]) all.push_back(e);
    if (p["next_cursor"].is_null()) break;
    target = "/v1/cases/" + id + "/events?limit=2&cursor=" + p["next_cursor"].get<std::string>();
  }
  REQUIRE(all.size() == s["version"].get<size_t>());
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i]["version"] == i + 1);
    for (const char* k : {"type", "position", "version", "occurred_at", "recorded_at", "actor", "payload", "hash"})
      CHECK(all[i].contains(k));
  }
  CHECK(all[0]["actor"]["user_id"] == "li");

  HttpAnswer v = f.Get("chen", "/v1/verify");
  REQUIRE(v.status == 200);
  CHECK(v.Json()["ok"] == true);
  CHECK(v.Json()["events"] == f.Head());
  CHECK(v.Json()["head"].get<std::string>().size() == 64);
}

TEST_CASE("service: every error status has a JSON body with a stable code", "[service][errors]") {
  ServerFixture f;
  std::string id = f.OpenCase("li", "nanbin", "E1");
  std::string cmds = "/v1/cases/" + id + "/commands";

  HttpAnswer malformed = HttpCall(f.port(), "POST", cmds, "{not json", f.Auth("li"));
  CHECK(malformed.status == 400);
  CHECK(malformed.ErrorCode() == "malformed_json");
  json e = malformed.Json()["error"];
  CHECK(e.contains("message"));
  CHECK(e.contains("field"));

  HttpAnswer no_command = f.Post("li", cmds, json{{"payload", json::object()}});
  CHECK(no_command.status == 400);
  CHECK(no_command.Json()["error"]["field"] == "/command");
  CHECK(f.Post("li", cmds, json{{"command", "assign"}, {"expected_version", "one"}}).status == 400);
  CHECK(f.Get("li", "/v1/cases/" + id + "/events?limit=0").status == 400);
  CHECK(f.Get("li", "/v1/cases/" + id + "/events?cursor=bogus").status == 400);
  CHECK(f.Get("li", "/v1/cases/not%20a%20case%20id").status == 400);

  HttpAnswer unknown = f.Get("li", "/v1/cases/risk_item-nope");
  CHECK(unknown.status == 404);
  CHECK(unknown.ErrorCode() == "case_not_found");
  CHECK(f.Post("li", "/v1/cases/risk_item-nope/commands", ServerFixture::Assign()).status == 404);
  CHECK(f.Get("li", "/v1/nothing-here").status == 404);
  CHECK(HttpCall(f.port(), "DELETE", "/v1/cases/" + id, "", f.Auth("root")).status ==
        405);

  HttpAnswer conflict = f.Post("li", cmds, ServerFixture::Assign(7));
  CHECK(conflict.status == 409);
  CHECK(conflict.ErrorCode() == "version_conflict");
  CHECK(conflict.Json()["error"]["current_version"] == 1);

  // The workflow refuses: closing before a passed verification.
  HttpAnswer early = f.Post("li", cmds,
                            json{{"command", "close"}, {"payload", {{"basis", "已整改"}}}});
  CHECK(early.status == 422);
  CHECK(early.ErrorCode() == "closure_without_passed_verification");
  CHECK(f.Post("li", cmds, json{{"command", "no_such_command"}}).ErrorCode() == "unknown_command");
  HttpAnswer missing = f.Post("li", cmds, json{{"command", "assign"}, {"payload", json::object()}});
  CHECK(missing.status == 422);
  CHECK(missing.ErrorCode() == "missing_field");
  CHECK(missing.Json()["error"]["field"] == "/payload/assignee");
  CHECK(f.Post("li", "/v1/cases", json{{"workflow", "no_such_flow"}}).ErrorCode() == "unknown_workflow");

  // 413: over the service's own limit (64 KiB here), answered, not cut off.
  json big = ServerFixture::Assign();
  big["payload"]["assignee"] = std::string(70 * 1024, 'x');
  HttpAnswer too_big = f.Post("li", cmds, big);
  CHECK(too_big.status == 413);
  CHECK(too_big.ErrorCode() == "body_too_large");

  // Nothing above wrote anything.
  CHECK(f.Get("li", "/v1/cases/" + id).Json()["version"] == 1);
}

TEST_CASE("service: jurisdiction and roles limit every read and write", "[service][authz]") {
  ServerFixture f;
  std::string nanbin = f.OpenCase("li", "nanbin", "E1");
  std::string wanan = f.OpenCase("zhao", "wanan", "E2");
  std::string nanbin_cmds = "/v1/cases/" + nanbin + "/commands";

  // Another office's case: neither read nor written.
  HttpAnswer read = f.Get("zhao", "/v1/cases/" + nanbin);
  CHECK(read.status == 403);
  CHECK(read.ErrorCode() == "outside_jurisdiction");
  CHECK(f.Get("zhao", "/v1/cases/" + nanbin + "/events").status == 403);
  CHECK(f.Post("zhao", nanbin_cmds, ServerFixture::Assign()).status == 403);
  // Opening a case for another office is refused by the engine.
  HttpAnswer foreign_open = f.Post("zhao", "/v1/cases", ServerFixture::OpenBody("nanbin", "E1"));
  CHECK(foreign_open.status == 403);
  CHECK(foreign_open.ErrorCode() == "outside_jurisdiction");

  // The county supervisor and auditor see both offices' cases.
  CHECK(f.Get("wang", "/v1/cases/" + nanbin).status == 200);
  CHECK(f.Get("wang", "/v1/cases/" + wanan).status == 200);
  CHECK(f.Get("chen", "/v1/cases/" + wanan + "/events").status == 200);

  // An auditor writes nothing.
  HttpAnswer audit_write = f.Post("chen", nanbin_cmds, ServerFixture::Assign());
  CHECK(audit_write.status == 403);
  CHECK(audit_write.ErrorCode() == "role_not_allowed");
  CHECK(f.Post("chen", "/v1/cases", ServerFixture::OpenBody("nanbin", "E1")).status == 403);

  // An enterprise sees its own case only, and sends only its own commands.
  CHECK(f.Get("ent1", "/v1/cases/" + nanbin).status == 200);
  HttpAnswer other_ent = f.Get("ent2", "/v1/cases/" + nanbin);
  CHECK(other_ent.status == 403);
  CHECK(other_ent.ErrorCode() == "outside_jurisdiction");
  HttpAnswer ent_assign = f.Post("ent1", nanbin_cmds, ServerFixture::Assign());
  CHECK(ent_assign.status == 403);
  CHECK(ent_assign.ErrorCode() == "role_not_allowed");
  CHECK(f.Get("ent1", "/v1/verify").status == 403);

  // The admin reaches everything.
  CHECK(f.Get("root", "/v1/cases/" + wanan).status == 200);
  CHECK(f.Get("li", "/v1/cases/" + nanbin).Json()["version"] == 1);
}

TEST_CASE("service: concurrent conflicting commands: exactly one wins, the other gets 409", "[service][concurrency]") {
  ServerFixture f;
  for (int round = 0; round < 5; ++round) {
    std::string id = f.OpenCase("li", "nanbin", "E1");
    std::string cmds = "/v1/cases/" + id + "/commands";
    std::atomic<int> ok{0}, conflict{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i)
      threads.emplace_back([&, i]() {
        json body = ServerFixture::Assign(1);
        body["payload"]["assignee"] = "inspector-" + std::to_string(i);
        HttpAnswer a = f.Post(i == 0 ? "li" : "wang", cmds, body);
        if (a.status == 200) ++ok;
        else if (a.status == 409 && a.Json()["error"]["current_version"] == 2) ++conflict;
        else ++other;
      });
    for (auto& t : threads) t.join();
    CHECK(ok == 1);
    CHECK(conflict == 1);
    CHECK(other == 0);
    CHECK(f.Get("li", "/v1/cases/" + id).Json()["version"] == 2);
  }
}

TEST_CASE("service: Idempotency-Key retries return the first answer and write nothing", "[service][idempotency]") {
  ServerFixture f;
  // Opening: a retry answers with the same case, not a second one.
  auto key = std::map<std::string, std::string>{{"Idempotency-Key", "open-0001"}};
  HttpAnswer first_open = f.Post("li", "/v1/cases", ServerFixture::OpenBody("nanbin", "E1"), key);
  REQUIRE(first_open.status == 201);
  uint64_t head = f.Head();
  HttpAnswer again = f.Post("li", "/v1/cases", ServerFixture::OpenBody("nanbin", "E1"), key);
  CHECK(again.status == 201);
  CHECK(again.body == first_open.body);
  CHECK(again.headers["idempotency-replayed"] == "true");
  CHECK(f.Head() == head);

  // The same key from another caller is another key.
  HttpAnswer other_user = f.Post("wang", "/v1/cases", ServerFixture::OpenBody("nanbin", "E1"), key);
  CHECK(other_user.status == 201);
  CHECK(other_user.Json()["case_id"] != first_open.Json()["case_id"]);

  // A command: the key is checked before expected_version, so a retry with
  // the now stale version still gets the first answer.
  std::string id = first_open.Json()["case_id"];
  std::string cmds = "/v1/cases/" + id + "/commands";
  auto ckey = std::map<std::string, std::string>{{"Idempotency-Key", "assign-1"}};
  HttpAnswer first = f.Post("li", cmds, ServerFixture::Assign(1), ckey);
  REQUIRE(first.status == 200);
  head = f.Head();
  HttpAnswer retry = f.Post("li", cmds, ServerFixture::Assign(1), ckey);
  CHECK(retry.status == 200);
  CHECK(retry.body == first.body);
  CHECK(f.Head() == head);
  CHECK(f.Get("li", "/v1/cases/" + id).Json()["version"] == 2);

  // Same key, different body: 422, nothing written.
  json changed = ServerFixture::Assign(1);
  changed["payload"]["assignee"] = "另一人";
  HttpAnswer reused = f.Post("li", cmds, changed, ckey);
  CHECK(reused.status == 422);
  CHECK(reused.ErrorCode() == "idempotency_key_reused");
  CHECK(f.Head() == head);

  // A failed attempt leaves the key free for a corrected request.
  auto fkey = std::map<std::string, std::string>{{"Idempotency-Key", "notice-1"}};
  json bad_notice{{"command", "issue_rectification_notice"}, {"payload", json::object()}};
  CHECK(f.Post("li", cmds, bad_notice, fkey).status == 422);
  json good_notice{{"command", "issue_rectification_notice"},
                   {"occurred_at", "2025-09-27T09:00:00+08:00"},
                   {"payload", {{"notice_no", "N-1"}, {"rectify_by", "2025-10-20"}, {"content", "整改"}}}};
  CHECK(f.Post("li", cmds, good_notice, fkey).status == 200);
}

TEST_CASE("service: a read-only server serves reads and answers commands 503", "[service]") {
  ServerFixture f;
  std::string id = f.OpenCase("li", "nanbin", "E1");
  f.Stop();
  f.Start(/*read_only=*/true);
  CHECK(f.Get("li", "/v1/cases/" + id).status == 200);
  HttpAnswer refused = f.Post("li", "/v1/cases/" + id + "/commands", ServerFixture::Assign());
  CHECK(refused.status == 503);
  CHECK(refused.ErrorCode() == "read_only");
  CHECK(f.Post("li", "/v1/cases", ServerFixture::OpenBody("nanbin", "E1")).status == 503);
}

TEST_CASE("service: while draining, /healthz says so with 503 and every other request is refused", "[service][shutdown]") {
  ServerFixture f;
  const std::string id = f.OpenCase("li", "nanbin", "E-1");
  const uint64_t head = f.Head();
  f.service()->BeginDrain();
  HttpAnswer h = HttpCall(f.port(), "GET", "/healthz");
  INFO(h.body);
  CHECK(h.status == 503);  // a load balancer sends new work elsewhere
  const json health = h.Json();
  CHECK(health["status"] == "draining");
  CHECK(health["head"] == head);
  HttpAnswer post = f.Post("li", "/v1/cases", ServerFixture::OpenBody("nanbin", "E-2"));
  CHECK(post.status == 503);
  CHECK(post.Json()["error"]["code"] == "shutting_down");
  HttpAnswer read = f.Get("li", "/v1/cases/" + id);
  CHECK(read.status == 503);
  CHECK(read.Json()["error"]["code"] == "shutting_down");
  // The refused command wrote nothing.
  f.Stop();
  f.Start(false);
  CHECK(f.Head() == head);
}

TEST_CASE("service: SIGTERM drains, exits 0, and loses nothing acknowledged", "[service][shutdown]") {
  TempDir dir;
  std::string data = dir.Sub("data");
  ::mkdir(data.c_str(), 0700);
  User u;
  u.id = "li";
  u.role = "inspector";
  u.unit = "nanbin";
  auto token = AddUser(UsersFilePath(data), u, kDay, SystemClock::Default()->Now());
  REQUIRE(token.ok());
  uint16_t port = 0;
  pid_t pid = load::SpawnServe(XIAOHAO_BINARY, data, testing::SourceDir() + "/workflows",
                               /*threads: the server's default*/ 0, &port);
  REQUIRE(pid > 0);
  std::map<std::string, std::string> auth{{"Authorization", "Bearer " + token->token}};

  // Eight clients open cases as fast as they can; SIGTERM arrives mid-stream.
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&]() {
      while (!stop.load()) {
        HttpAnswer a = HttpCall(port, "POST", "/v1/cases", ServerFixture::OpenBody("nanbin", "E1").dump(), auth);
        if (a.status == 201) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.push_back(a.Json()["case_id"]);
        } else if (a.status == 0 || a.status == 503) {
          return;  // draining or closed
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  int exit_code = load::StopServe(pid);  // SIGTERM, then waits
  stop = true;
  for (auto& t : clients) t.join();
  // As a shell shows it: -1 when not waited for, 128 + N when killed by signal N.
  REQUIRE(exit_code >= 0);
  REQUIRE(exit_code < 128);
  CHECK(exit_code == 0);
  CHECK(!acknowledged.empty());

  StoreOptions so;
  so.path = data;
  so.read_only = true;
  auto store = EventStore::Open(so);
  REQUIRE(store.ok());
  for (const auto& id : acknowledged) {
    auto v = (*store)->StreamVersion(id);
    REQUIRE(v.ok());
    CHECK(*v == 1);
  }
  auto report = (*store)->Verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

}  // namespace
}  // namespace xiaohao

namespace xiaohao {
namespace {
json LeadBody(const std::string& office, const std::string& received_on, const std::string& occurred_at) {
  return json{{"workflow", "online_sales_lead"},
              {"occurred_at", occurred_at},
              {"payload",
               {{"office", office},
                {"lead_no", "JL-" + received_on},
                {"received_on", received_on},
                {"enterprise", "E1"},
                {"description", "平台销售未备案产品"}}}};
}
}  // namespace

TEST_CASE("service: the scheduler runs inside, overdue and upcoming deadlines are listed and alerted", "[service][deadlines]") {
  ServerFixture f;
  // Received long ago: its 50 days have passed, so the scheduler fires at once.
  HttpAnswer old = f.Post("li", "/v1/cases", LeadBody("nanbin", "2025-09-26", "2025-09-26T16:00:00+08:00"));
  REQUIRE(old.status == 201);
  std::string old_id = old.Json()["case_id"];
  // Received today: due in about 50 days.
  std::string today = FormatRfc3339Cst(SystemClock::Default()->Now());
  HttpAnswer fresh = f.Post("li", "/v1/cases", LeadBody("nanbin", today.substr(0, 10), today));
  REQUIRE(fresh.status == 201);
  std::string fresh_id = fresh.Json()["case_id"];

  bool overdue = false;
  for (int i = 0; i < 100 && !overdue; ++i) {
    json c = f.Get("li", "/v1/cases/" + old_id).Json();
    for (const auto& d : c["deadlines"]) overdue = overdue || d.value("overdue", false);
    if (!overdue) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(overdue);

  HttpAnswer list = f.Get("li", "/v1/deadlines?status=overdue");
  REQUIRE(list.status == 200);
  REQUIRE(list.Json()["deadlines"].size() == 1);
  CHECK(list.Json()["deadlines"][0]["case_id"] == old_id);
  CHECK(list.Json()["deadlines"][0]["due_date"] == "2025-11-17");
  // Another office's inspector does not see it.
  CHECK(f.Get("zhao", "/v1/deadlines?status=overdue").Json()["deadlines"].empty());
  // Upcoming: within 60 days yes, within 7 days no.
  auto up60 = f.Get("li", "/v1/deadlines?status=upcoming&within=60d").Json()["deadlines"];
  REQUIRE(up60.size() == 1);
  CHECK(up60[0]["case_id"] == fresh_id);
  CHECK(f.Get("li", "/v1/deadlines?status=upcoming&within=7d").Json()["deadlines"].empty());
  CHECK(f.Get("li", "/v1/deadlines?status=late").status == 400);
  CHECK(f.Get("li", "/v1/deadlines?within=soon").status == 400);

  // The overdue alert reaches the outbox.
  bool alerted = false;
  for (int i = 0; i < 100 && !alerted; ++i) {
    std::ifstream in(f.data() + "/alerts-outbox.jsonl");
    std::string line;
    while (std::getline(in, line))
      if (!line.empty() && json::parse(line)["kind"] == "overdue" && json::parse(line)["case_id"] == old_id)
        alerted = true;
    if (!alerted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(alerted);
}

TEST_CASE("service: a follower held by an error is reported while it retries, and resumes losing nothing",
          "[service][deadlines]") {
  if (::access("/dev/full", W_OK) != 0) {
    WARN("no writable /dev/full here; the disk-full outbox cannot be staged");
    return;
  }
  ServerFixture f;
  HttpAnswer h = HttpCall(f.port(), "GET", "/healthz");
  REQUIRE(h.status == 200);
  const json first = h.Json();  // held: a loop over a temporary's member would dangle
  CHECK(first["status"] == "ok");
  REQUIRE(first["followers"].size() == 3);  // the projection, the outbox, the scheduler
  for (const auto& one : first["followers"]) CHECK(one["state"] == "running");
  // The outbox on a full disk: its first alert cannot be written.
  f.Stop();
  f.alert_outbox = "/dev/full";
  f.Start(false);
  HttpAnswer old = f.Post("li", "/v1/cases", LeadBody("nanbin", "2025-09-26", "2025-09-26T16:00:00+08:00"));
  REQUIRE(old.status == 201);
  const std::string id = old.Json()["case_id"];
  json health;
  for (int i = 0; i < 200; ++i) {
    h = HttpCall(f.port(), "GET", "/healthz");
    health = h.Json();
    if (health["status"] == "degraded") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO(health.dump());
  REQUIRE(health["status"] == "degraded");
  CHECK(h.status == 200);  // still serving: see the next checks
  std::map<std::string, json> by_name;
  for (const auto& one : health["followers"]) by_name[one["name"]] = one;
  const json& outbox = by_name["alert outbox"];
  CHECK(outbox["state"] == "retrying");
  CHECK(outbox["checkpoint"].get<uint64_t>() < f.Head());
  CHECK(outbox["failures"].get<uint64_t>() >= 1);
  CHECK_THAT(outbox["error"].get<std::string>(), Catch::Contains("writing the alert outbox") &&
                                                     Catch::Contains("No space left on device") &&
                                                     Catch::Contains("it retries by itself"));
  CHECK(by_name["risk-list projection"]["failures"] == 0);
  CHECK(by_name["risk-list projection"]["state"] == "running");
  CHECK(by_name["deadline scheduler"]["state"] == "running");
  HttpAnswer m = HttpCall(f.port(), "GET", "/metrics");
  CHECK(m.body.find("xiaohao_follower_running{follower=\"alert_outbox\"} 0") != std::string::npos);
  CHECK(m.body.find("xiaohao_follower_running{follower=\"risk_list\"} 1") != std::string::npos);
  CHECK(m.body.find("xiaohao_follower_failures{follower=\"risk_list\"} 0") != std::string::npos);
  CHECK(m.body.find("xiaohao_follower_failures{follower=\"alert_outbox\"} 0") == std::string::npos);
  // Commands are still served: only the outbox is held.
  CHECK(f.Post("li", "/v1/cases", LeadBody("nanbin", "2025-09-27", "2025-09-27T16:00:00+08:00")).status == 201);
  // /dev/full never gets room (tests/adapters/alerts_test.cc has an outbox
  // that does, and catches up without a restart). Restarted on a real file,
  // the outbox resumes from its checkpoint: the alert it could not write
  // arrives.
  f.Stop();
  f.alert_outbox.clear();
  f.Start(false);
  bool alerted = false;
  for (int i = 0; i < 200 && !alerted; ++i) {
    std::ifstream in(f.data() + "/alerts-outbox.jsonl");
    std::string line;
    while (std::getline(in, line))
      if (!line.empty() && json::parse(line)["kind"] == "overdue" && json::parse(line)["case_id"] == id) alerted = true;
    if (!alerted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(alerted);
  h = HttpCall(f.port(), "GET", "/healthz");
  CHECK(h.status == 200);
  CHECK(h.Json()["status"] == "ok");
}

}  // namespace xiaohao

namespace xiaohao {

TEST_CASE("service: the risk list by unit and quarter, rolled up and scoped to the caller", "[service][views]") {
  ServerFixture f;
  f.OpenCase("li", "nanbin", "E1");
  f.OpenCase("li", "nanbin", "E2");
  f.OpenCase("zhao", "wanan", "E1");
  auto row = [](const json& j, const std::string& unit) {
    for (const auto& r : j["rows"])
      if (r["unit"] == unit) return r;
    return json();
  };
  HttpAnswer sup = f.Get("wang", "/v1/risk-list?quarter=2025Q3");
  REQUIRE(sup.status == 200);
  json s = sup.Json();
  CHECK(row(s, "shizhu")["opened"] == 3);
  CHECK(row(s, "shizhu")["open"] == 3);
  CHECK(row(s, "nanbin")["opened"] == 2);
  CHECK(row(s, "wanan")["opened"] == 1);
  CHECK(row(s, "chongqing").is_null());  // above the supervisor's unit: not shown

  HttpAnswer office = f.Get("li", "/v1/risk-list?quarter=2025Q3&items=1");
  REQUIRE(office.status == 200);
  CHECK(row(office.Json(), "nanbin")["opened"] == 2);
  CHECK(office.Json()["items"].size() == 2);
  CHECK(f.Get("li", "/v1/risk-list?unit=shizhu").status == 403);
  CHECK(f.Get("li", "/v1/risk-list?unit=wanan").status == 403);
  CHECK(f.Get("ent1", "/v1/risk-list").status == 403);
  CHECK(f.Get("wang", "/v1/risk-list?quarter=2025Q5").status == 400);
  CHECK(f.Get("wang", "/v1/risk-list?as_of=yesterday").status == 400);
  CHECK(f.Get("wang", "/v1/risk-list?unit=nowhere").status == 404);
  // Before anything was opened (business time), the quarter is empty.
  json before = f.Get("wang", "/v1/risk-list?quarter=2025Q3&as_at=2025-09-01").Json();
  CHECK((row(before, "shizhu").is_null() || row(before, "shizhu")["opened"] == 0));
}

}  // namespace xiaohao
