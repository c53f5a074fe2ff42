// Hostile input over HTTP (issue #9): forged and stale tokens, other offices'
// cases, roles that may not act, oversize and malformed bodies, invalid
// UTF-8 and path tricks. Each is refused with the right status and error
// code, counted in /metrics under its route and status, and writes nothing:
// the store's head does not move.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/http_server.h"
#include "adapters/service.h"
#include "adapters/users.h"
#include "store/clock.h"
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


class HostileFixture {
 public:
  HostileFixture() {
    data_ = dir_.Sub("data");
    ::mkdir(data_.c_str(), 0700);
    tokens_ = testing::AddTestUsers(data_, {{"li", "inspector", "nanbin", ""},
                                            {"zhao", "inspector", "wanan", ""},
                                            {"prov", "province_approver", "chongqing", ""},
                                            {"chen", "auditor", "shizhu", ""},
                                            {"ent2", "enterprise", "", "E2"},
                                            {"old", "inspector", "nanbin", "", 10, 1},  // expired 9 days ago
                                            {"gone", "inspector", "nanbin", "", 0, 30, true}});

    ServiceOptions so;
    so.data_dir = data_;
    so.workflows_dir = testing::SourceDir() + "/workflows";
    so.max_body_bytes = 64 * 1024;
    so.run_scheduler = false;
    so.log = [log = log_](const std::string& line) {
      std::lock_guard<std::mutex> lock(log->mu);
      log->lines.push_back(line);
    };
    live_ = std::make_unique<testing::LiveService>(so, 2);
  }

  std::map<std::string, std::string> Auth(const std::string& user) const {
    return {{"Authorization", "Bearer " + tokens_.at(user)}};
  }
  HttpAnswer Call(const std::string& user, const std::string& method, const std::string& target,
                  const std::string& body = "") {
    return HttpCall(port(), method, target, body, user.empty() ? std::map<std::string, std::string>{} : Auth(user));
  }
  uint64_t Head() { return HttpCall(port(), "GET", "/healthz").Json()["head"].get<uint64_t>(); }
  uint16_t port() const { return live_->port(); }
  // The service's log lines so far that contain `part`.
  std::vector<std::string> Logged(const std::string& part) const {
    std::lock_guard<std::mutex> lock(log_->mu);
    std::vector<std::string> out;
    for (const auto& l : log_->lines)
      if (l.find(part) != std::string::npos) out.push_back(l);
    return out;
  }
  const std::string& token(const std::string& user) const { return tokens_.at(user); }

  std::string OpenRiskItem(const std::string& user, const std::string& office) {
    HttpAnswer a = Call(user, "POST", "/v1/cases", testing::RiskItemOpenBody(office, "E1").dump());
    INFO(a.body);
    REQUIRE(a.status == 201);
    return a.Json()["case_id"];
  }

  // The count of answers with this route and status in /metrics.
  int Counted(const std::string& route, int status) {
    std::string m = HttpCall(port(), "GET", "/metrics").body;
    std::string key = "xiaohao_http_requests_total{route=\"" + route + "\",code=\"" + std::to_string(status) + "\"} ";
    size_t at = m.find(key);
    return at == std::string::npos ? 0 : std::stoi(m.substr(at + key.size()));
  }

 private:
  struct Log {
    std::mutex mu;
    std::vector<std::string> lines;  // GUARDED_BY(mu)
  };
  std::shared_ptr<Log> log_ = std::make_shared<Log>();
  TempDir dir_;
  std::string data_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<testing::LiveService> live_;
};

// The refusal every hostile request must get: status, a stable error code,
// an error body, and no write.
#define CHECK_REFUSED(answer, want_status, want_code)            \
  do {                                                           \
    HttpAnswer a_ = (answer);                                    \
    INFO("body: " << a_.body);                                   \
    CHECK(a_.status == (want_status));                           \
    CHECK(a_.ErrorCode() == (want_code));                        \
    CHECK_FALSE(a_.Json()["error"]["message"].get<std::string>().empty()); \
  } while (0)

json Assign() {
  return json{{"command", "assign"}, {"occurred_at", "2025-09-26T11:00:00+08:00"}, {"payload", {{"assignee", "李明"}}}};
}

TEST_CASE("hostile http: missing, expired, revoked and forged tokens write nothing", "[hostile]") {
  HostileFixture f;
  std::string id = f.OpenRiskItem("li", "nanbin");
  uint64_t head = f.Head();
  std::string target = "/v1/cases/" + id + "/commands";
  std::string body = Assign().dump();
  int before = f.Counted("POST /v1/cases/{id}/commands", 401);

  CHECK_REFUSED(HttpCall(f.port(), "POST", target, body), 401, "unauthenticated");
  CHECK_REFUSED(f.Call("old", "POST", target, body), 401, "unauthenticated");
  CHECK_REFUSED(f.Call("gone", "POST", target, body), 401, "unauthenticated");
  // Forged: the right shape, a made-up secret; a real token with one character changed.
  std::string forged = "xh_" + std::string(64, 'a');
  CHECK_REFUSED(HttpCall(f.port(), "POST", target, body, {{"Authorization", "Bearer " + forged}}), 401,
                "unauthenticated");
  std::string altered = f.token("li");
  altered.back() = altered.back() == '0' ? '1' : '0';
  CHECK_REFUSED(HttpCall(f.port(), "POST", target, body, {{"Authorization", "Bearer " + altered}}), 401,
                "unauthenticated");
  // The token's SHA-256 as stored in users.json is not a token.
  CHECK_REFUSED(HttpCall(f.port(), "POST", target, body, {{"Authorization", "Bearer " + HashToken(f.token("li"))}}),
                401, "unauthenticated");
  CHECK_REFUSED(HttpCall(f.port(), "POST", target, body, {{"Authorization", "Bearer " + std::string(8000, 'x')}}),
                401, "unauthenticated");
  CHECK_REFUSED(HttpCall(f.port(), "POST", target, body, {{"Authorization", "bearer"}}), 401, "unauthenticated");

  CHECK(f.Head() == head);
  CHECK(f.Counted("POST /v1/cases/{id}/commands", 401) == before + 8);
  // The same case still takes the genuine user's command.
  CHECK(f.Call("li", "POST", target, body).status == 200);
}

TEST_CASE("hostile http: another office's case, an auditor's write and an enterprise's reach write nothing",
          "[hostile]") {
  HostileFixture f;
  std::string id = f.OpenRiskItem("li", "nanbin");
  uint64_t head = f.Head();
  std::string target = "/v1/cases/" + id + "/commands";
  HttpAnswer other = f.Call("zhao", "POST", target, Assign().dump());
  INFO(other.body);
  CHECK(other.status == 403);
  CHECK(other.ErrorCode() == "outside_jurisdiction");
  HttpAnswer read = f.Call("zhao", "GET", "/v1/cases/" + id);
  CHECK((read.status == 403 || read.status == 404));
  CHECK(read.body.find("冷链") == std::string::npos);
  CHECK(f.Call("chen", "POST", target, Assign().dump()).status == 403);
  CHECK(f.Call("ent2", "GET", "/v1/cases/" + id).status / 100 == 4);
  // Opening a case for an office outside the caller's subtree.
  json body{{"workflow", "risk_item"},
            {"occurred_at", "2025-09-26T10:00:00+08:00"},
            {"payload",
             {{"source", "inspection"}, {"office", "nanbin"}, {"enterprise", "E1"},
              {"product_category", "体外诊断试剂"}, {"risk_level", "high"}, {"found_on", "2025-09-26"},
              {"description", "x"}}}};
  CHECK(f.Call("zhao", "POST", "/v1/cases", body.dump()).status == 403);
  CHECK(f.Head() == head);
}

TEST_CASE("hostile http: only a province approver grants an extension", "[hostile]") {
  HostileFixture f;
  json open{{"workflow", "online_sales_lead"},
            {"occurred_at", "2025-09-26T10:00:00+08:00"},
            {"payload",
             {{"office", "nanbin"}, {"lead_no", "JC-2025-001"}, {"received_on", "2025-09-26"},
              {"enterprise", "E1"}, {"description", "网店销售未备案产品"}}}};
  HttpAnswer opened = f.Call("li", "POST", "/v1/cases", open.dump());
  INFO(opened.body);
  REQUIRE(opened.status == 201);
  std::string target = "/v1/cases/" + opened.Json()["case_id"].get<std::string>() + "/commands";
  HttpAnswer started = f.Call("li", "POST", target,
                              json{{"command", "start_investigation"},
                                   {"occurred_at", "2025-09-27T10:00:00+08:00"},
                                   {"payload", {{"assignee", "李明"}}}}
                                  .dump());
  INFO(started.body);
  REQUIRE(started.status == 200);
  HttpAnswer requested = f.Call("li", "POST", target,
                                json{{"command", "request_extension"},
                                     {"occurred_at", "2025-10-20T10:00:00+08:00"},
                                     {"payload", {{"days", 10}, {"reason", "需协查平台数据"}}}}
                                    .dump());
  INFO(requested.body);
  REQUIRE(requested.status == 200);
  uint64_t head = f.Head();
  json grant{{"command", "grant_extension"}, {"occurred_at", "2025-10-21T10:00:00+08:00"}, {"payload", json::object()}};
  HttpAnswer by_inspector = f.Call("li", "POST", target, grant.dump());
  INFO(by_inspector.body);
  CHECK(by_inspector.status == 403);
  CHECK_FALSE(by_inspector.ErrorCode().empty());
  CHECK(f.Head() == head);
  HttpAnswer by_approver = f.Call("prov", "POST", target, grant.dump());
  INFO(by_approver.body);
  CHECK(by_approver.status == 200);
  CHECK(f.Head() > head);
}

TEST_CASE("hostile http: oversize, deeply nested and invalid UTF-8 bodies are refused with an answer", "[hostile]") {
  HostileFixture f;
  std::string id = f.OpenRiskItem("li", "nanbin");
  uint64_t head = f.Head();
  std::string target = "/v1/cases/" + id + "/commands";

  // Over max_body_bytes (64 KiB here) but under the transport's limit: a 413
  // answer, not a closed socket.
  json big = Assign();
  big["payload"]["assignee"] = std::string(200 * 1024, 'a');
  CHECK_REFUSED(f.Call("li", "POST", target, big.dump()), 413, "body_too_large");
  CHECK_REFUSED(f.Call("li", "POST", "/v1/cases", big.dump()), 413, "body_too_large");

  // Deep nesting is refused while parsing (400 too_deep), before a document
  // exists; a document 30,000 levels deep crashed a server thread under ASan.
  for (size_t depth : {size_t{1000}, size_t{30000}}) {
    CAPTURE(depth);
    std::string nested = R"({"command":"assign","occurred_at":"2025-09-26T11:00:00+08:00","payload":{"assignee":)" +
                         std::string(depth, '[') + std::string(depth, ']') + "}}";
    CHECK_REFUSED(f.Call("li", "POST", target, nested), 400, "too_deep");
    std::string whole = std::string(depth, '[') + std::string(depth, ']');
    CHECK_REFUSED(f.Call("li", "POST", target, whole), 400, "too_deep");
    CHECK_REFUSED(f.Call("li", "POST", "/v1/cases", whole), 400, "too_deep");
  }
  // At the limit it is only a wrong value (the assignee must be a string).
  std::string at_limit = R"({"command":"assign","occurred_at":"2025-09-26T11:00:00+08:00","payload":{"assignee":)" +
                         std::string(61, '[') + std::string(61, ']') + "}}";
  HttpAnswer within = f.Call("li", "POST", target, at_limit);
  INFO(within.body);
  CHECK((within.status == 400 || within.status == 422));
  CHECK(within.ErrorCode() != "too_deep");
  std::string unclosed = std::string(20000, '{');
  CHECK(f.Call("li", "POST", target, unclosed).status == 400);

  // Invalid UTF-8: a lone continuation byte, an overlong '/', a surrogate.
  for (std::string bad : std::vector<std::string>{std::string("\x80"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("\xff\xfe")}) {
    std::string body = R"({"command":"assign","occurred_at":"2025-09-26T11:00:00+08:00","payload":{"assignee":"李)" +
                       bad + R"("}})";
    HttpAnswer a = f.Call("li", "POST", target, body);
    INFO(a.body);
    CHECK(a.status == 400);
    CHECK_FALSE(a.ErrorCode().empty());
  }
  // Not JSON at all, and JSON of the wrong shape.
  CHECK(f.Call("li", "POST", target, "command=assign").status == 400);
  CHECK(f.Call("li", "POST", target, "[]").status == 400);
  CHECK(f.Call("li", "POST", target, R"({"command":["assign"]})").status == 400);
  CHECK(f.Head() == head);
  CHECK(f.Counted("POST /v1/cases/{id}/commands", 413) == 1);
}

TEST_CASE("hostile http: path tricks in case ids and export names reach nothing and write nothing", "[hostile]") {
  HostileFixture f;
  std::string id = f.OpenRiskItem("li", "nanbin");
  uint64_t head = f.Head();
  std::string body = Assign().dump();
  for (std::string trick : std::vector<std::string>{"..", "%2e%2e", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..%2f..%2fusers.json",
                            id + "%2F..%2F" + id, id + "%00", id + "%0d%0aX-Injected:%201"}) {
    CAPTURE(trick);
    HttpAnswer get = f.Call("li", "GET", "/v1/cases/" + trick);
    INFO(get.body);
    CHECK((get.status == 404 || get.status == 400));
    CHECK_FALSE(get.ErrorCode().empty());
    CHECK(get.headers.count("x-injected") == 0);
    HttpAnswer post = f.Call("li", "POST", "/v1/cases/" + trick + "/commands", body);
    INFO(post.body);
    CHECK((post.status == 404 || post.status == 400));
    CHECK(post.headers.count("x-injected") == 0);
  }
  // A literal ../ in the path is a path of its own, not the parent's route.
  CHECK(f.Call("li", "GET", "/v1/cases/../verify").status == 404);
  CHECK(f.Call("li", "GET", "/v1/cases/" + id + "/../../verify").status == 404);

  // Export names are built from the office and the quarter: neither may carry
  // a path or a header break into Content-Disposition.
  for (std::string q : std::vector<std::string>{"quarter=2025Q3&format=csv&office=..%2F..%2Fetc",
                        "quarter=2025Q3&format=csv&office=nanbin%2F..%2F..%2Fx",
                        "quarter=..%2F2025Q3&format=csv&office=nanbin",
                        "quarter=2025Q3%22%0d%0aX-Injected:%201&format=csv&office=nanbin",
                        "quarter=2025Q3&format=..%2Fcsv&office=nanbin",
                        "quarter=2025Q3&format=csv&office=nanbin%22%3B%20filename%3D%22evil.sh"}) {
    CAPTURE(q);
    HttpAnswer a = f.Call("li", "GET", "/v1/reports/quarterly?" + q);
    INFO(a.body);
    CHECK(a.status / 100 == 4);
    CHECK_FALSE(a.ErrorCode().empty());
    CHECK(a.headers.count("x-injected") == 0);
    CHECK(a.headers.count("content-disposition") == 0);
  }
  // The genuine export names only what it was asked for.
  HttpAnswer ok = f.Call("li", "GET", "/v1/reports/quarterly?quarter=2025Q3&format=csv&office=nanbin");
  INFO(ok.body);
  CHECK(ok.status == 200);
  CHECK(ok.headers["content-disposition"] == "attachment; filename=\"risk-list-nanbin-2025Q3.csv\"");
  CHECK(f.Head() == head);
}

// A path that is not UTF-8 once percent-decoded used to reach the error
// message and make nlohmann's dump throw: a 500. It is bad input (400), and
// its log line escapes the bytes, so it can neither break nor forge lines.
TEST_CASE("hostile http: a case id or query that is not UTF-8 is refused as bad input and logged", "[hostile]") {
  HostileFixture f;
  f.OpenRiskItem("li", "nanbin");
  uint64_t head = f.Head();
  for (std::string trick : std::vector<std::string>{"%ff%fe", "\xff\xfe", "%c0%af", "%ed%a0%80"}) {
    CAPTURE(trick);
    CHECK_REFUSED(f.Call("li", "GET", "/v1/cases/" + trick), 400, "invalid_utf8");
    CHECK_REFUSED(f.Call("li", "POST", "/v1/cases/" + trick + "/commands", Assign().dump()), 400, "invalid_utf8");
  }
  CHECK_REFUSED(f.Call("li", "GET", "/v1/risk-list?unit=%ff"), 400, "invalid_utf8");
  CHECK(f.Head() == head);
  auto lines = f.Logged("400 invalid_utf8");
  CHECK(lines.size() == 9);
  for (const auto& l : lines) {
    INFO(l);
    CHECK(l.rfind("refused ", 0) == 0);
    CHECK(l.find('\n') == std::string::npos);
    CHECK(l.find('\xff') == std::string::npos);
    CHECK(l.find("user=-") != std::string::npos);  // refused before the token is looked at
  }
  // Refusals after authentication name the caller; the query is not logged.
  CHECK_REFUSED(f.Call("zhao", "GET", "/v1/risk-list?unit=nanbin"), 403, "outside_jurisdiction");
  auto denied = f.Logged("403 outside_jurisdiction user=zhao");
  REQUIRE(denied.size() == 1);
  CHECK(denied[0] == "refused \"GET\" \"/v1/risk-list\" 403 outside_jurisdiction user=zhao");
}

TEST_CASE("hostile http: oversized and odd idempotency keys and methods write nothing", "[hostile]") {
  HostileFixture f;
  std::string id = f.OpenRiskItem("li", "nanbin");
  uint64_t head = f.Head();
  std::string target = "/v1/cases/" + id + "/commands";
  auto h = f.Auth("li");
  h["Idempotency-Key"] = std::string(201, 'k');
  HttpAnswer a = HttpCall(f.port(), "POST", target, Assign().dump(), h);
  INFO(a.body);
  CHECK(a.status == 400);
  CHECK_FALSE(a.ErrorCode().empty());
  CHECK_REFUSED(f.Call("li", "DELETE", "/v1/cases/" + id), 405, "method_not_allowed");
  CHECK_REFUSED(f.Call("li", "PUT", target, Assign().dump()), 405, "method_not_allowed");
  CHECK(f.Head() == head);
}

}  // namespace
}  // namespace xiaohao
