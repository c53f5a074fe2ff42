// libFuzzer target: arbitrary requests to the HTTP/JSON API
// (adapters/service.h), through Service::Handle, without a socket. The
// service runs on a fresh data directory with users of every role and a few
// opened cases, so valid tokens take requests past authentication into the
// handlers and the engine. Must never crash, and for every request:
// - Handle does not throw;
// - the status is one service.h documents (200 201 400 401 403 404 405 409
//   413 422 503); a 500 is a bug (an exception caught in Handle, or a store
//   status mapped to "internal"/"corruption");
// - a JSON answer parses (so it is valid UTF-8), and an error answer is JSON
//   with a non-empty error.code and an error.message; a 401 says
//   WWW-Authenticate;
// - a refused request (4xx) and every GET leave the event log's head where
//   it was.
//
// Input layout (FuzzedDataProvider; tests/fuzz/corpus/http_request/ holds
// seeds in it): the last three bytes select, from the end, the method, the
// Authorization header and the flags (bit 0: an Idempotency-Key); from the
// front come the target and, when flagged, the key, each ended by a
// backslash and one more byte (ConsumeRandomLengthString); the rest is the
// body. In target and body, "{c0}" "{c1}" "{c2}" stand for the ids of the
// opened cases, which the fuzzer could not guess.
//
// The store grows with successful commands (each one fsynced, which keeps
// the pace slow); past kMaxEvents the world is rebuilt on a new directory.
#include <fuzzer/FuzzedDataProvider.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/service.h"
#include "adapters/users.h"
#include "store/clock.h"
#include "tests/adapters/sample_requests.h"

using namespace xiaohao;
using nlohmann::json;

namespace {

constexpr int64_t kDay = 86400LL * 1000000;
constexpr uint64_t kMaxEvents = 20000;

const char* const kMethods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};

struct World {
  std::string dir;
  std::unique_ptr<Service> service;
  std::vector<std::string> auth;  // Authorization header values; "" = none
  std::vector<std::string> cases;

  World() {
    const char* tmp = getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/xiaohao-fuzz-http-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) Die("mkdtemp");
    dir = templ;
    std::string users = UsersFilePath(dir);
    UnixMicros now = SystemClock::Default()->Now();
    auth.push_back("");
    auto add = [&](const std::string& id, const std::string& role, const std::string& unit,
                   const std::string& enterprise, UnixMicros at, int64_t ttl) {
      User u;
      u.id = id;
      u.role = role;
      u.unit = unit;
      u.enterprise = enterprise;
      auto t = AddUser(users, u, ttl, at);
      if (!t.ok()) Die("AddUser " + id + ": " + t.status().ToString());
      auth.push_back("Bearer " + t->token);
      return t->token;
    };
    add("root", "admin", "", "", now, 30 * kDay);
    std::string li = add("li", "inspector", "nanbin", "", now, 30 * kDay);
    add("zhao", "inspector", "wanan", "", now, 30 * kDay);
    add("sup", "supervisor", "shizhu", "", now, 30 * kDay);
    add("prov", "province_approver", "chongqing", "", now, 30 * kDay);
    add("chen", "auditor", "shizhu", "", now, 30 * kDay);
    add("ent1", "enterprise", "", "E1", now, 30 * kDay);
    add("old", "inspector", "nanbin", "", now - 10 * kDay, kDay);  // expired
    add("gone", "inspector", "nanbin", "", now, 30 * kDay);
    if (!RevokeUser(users, "gone", now).ok()) Die("RevokeUser");
    auth.push_back("Bearer xh_forged");
    auth.push_back("Basic abc");
    auth.push_back("bearer " + li);
    auth.push_back("Bearer ");

    ServiceOptions so;
    so.data_dir = dir;
    so.workflows_dir = std::string(XIAOHAO_SOURCE_DIR) + "/workflows";
    so.max_body_bytes = 2048;  // small, so that 413 is within the fuzzer's reach
    so.run_scheduler = false;
    auto s = Service::Open(so);
    if (!s.ok()) Die("Service::Open: " + s.status().ToString());
    service = std::move(*s);

    const std::pair<const char*, const char*> opened[] = {{"nanbin", "E1"}, {"wanan", "E2"}, {"nanbin", "E3"}};
    for (const auto& [office, ent] : opened) {
      json body = xiaohao::testing::RiskItemOpenBody(office, ent);
      HttpRequest req{"POST", "/v1/cases", {{"authorization", auth[4]}}, body.dump()};  // sup, of shizhu
      HttpResponse r = service->Handle(req);
      if (r.status != 201) Die("opening a case: " + r.body);
      cases.push_back(json::parse(r.body)["case_id"].get<std::string>());
    }
  }

  ~World() {
    service.reset();  // closes the store before its files go
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  uint64_t Head() {
    HttpResponse r = service->Handle(HttpRequest{"GET", "/healthz", {}, ""});
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("head") || !j["head"].is_number_unsigned()) Die("/healthz: " + r.body);
    return j["head"].get<uint64_t>();
  }

  [[noreturn]] static void Die(const std::string& what) {
    std::fprintf(stderr, "fuzz_http_request setup: %s\n", what.c_str());
    std::abort();
  }
};

World* world = nullptr;

void DropWorld() {
  delete world;
  world = nullptr;
}

std::string Substitute(std::string text, const std::vector<std::string>& cases) {
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string mark = "{c" + std::to_string(i) + "}";
    for (size_t at = text.find(mark); at != std::string::npos; at = text.find(mark, at + cases[i].size()))
      text.replace(at, mark.size(), cases[i]);
  }
  return text;
}

[[noreturn]] void Violation(const char* what, const HttpRequest& req, const HttpResponse& r) {
  std::fprintf(stderr, "fuzz_http_request: %s\n  request: %s %s\n  body (%zu bytes): %.400s\n  answer %d %s: %.1000s\n",
               what, req.method.c_str(), req.target.c_str(), req.body.size(), req.body.c_str(), r.status,
               r.content_type.c_str(), r.body.c_str());
  std::abort();
}

bool Documented(int status) {
  switch (status) {
    case 200: case 201: case 400: case 401: case 403: case 404: case 405: case 409: case 413: case 422: case 503:
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (world == nullptr) {
    world = new World();
    static bool registered = (std::atexit(DropWorld), true);
    (void)registered;
  }
  FuzzedDataProvider in(data, size);
  HttpRequest req;
  req.method = kMethods[in.ConsumeIntegral<uint8_t>() % (sizeof(kMethods) / sizeof(kMethods[0]))];
  const std::string& auth = world->auth[in.ConsumeIntegral<uint8_t>() % world->auth.size()];
  uint8_t flags = in.ConsumeIntegral<uint8_t>();
  req.target = Substitute(in.ConsumeRandomLengthString(1024), world->cases);
  if (!auth.empty()) req.headers["authorization"] = auth;
  if (flags & 1) req.headers["idempotency-key"] = in.ConsumeRandomLengthString(256);
  req.body = Substitute(in.ConsumeRemainingBytesAsString(), world->cases);

  uint64_t head = world->Head();
  HttpResponse r;
  try {
    r = world->service->Handle(req);
  } catch (const std::exception& e) {
    Violation(e.what(), req, r);
  } catch (...) {
    Violation("Handle threw", req, r);
  }

  if (!Documented(r.status)) Violation("an undocumented status (500 = an internal error)", req, r);
  bool is_json = r.content_type.rfind("application/json", 0) == 0;
  if (r.status >= 400 && !is_json) Violation("an error that is not JSON", req, r);
  if (is_json) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) Violation("a JSON answer that does not parse", req, r);
    if (r.status >= 400) {
      if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) Violation("no error object", req, r);
      const json& e = j["error"];
      if (!e.contains("code") || !e["code"].is_string() || e["code"].get<std::string>().empty())
        Violation("an error without error.code", req, r);
      if (!e.contains("message") || !e["message"].is_string()) Violation("an error without error.message", req, r);
    }
  }
  if (r.status == 401) {
    bool says = false;
    for (const auto& [name, value] : r.headers) says = says || name == "WWW-Authenticate";
    if (!says) Violation("a 401 without WWW-Authenticate", req, r);
  }
  uint64_t after = world->Head();
  if ((r.status >= 400 && r.status < 500) || req.method == "GET") {
    if (after != head) Violation("a refused request or a read moved the log's head", req, r);
  }
  if (after > kMaxEvents) {
    delete world;
    world = new World();
  }
  return 0;
}
