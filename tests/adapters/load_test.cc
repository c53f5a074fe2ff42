// A bounded load test of the real server (issue 9): `xiaohao serve` as a child
// process, 32 clients on keep-alive loopback connections for
// XIAOHAO_LOAD_SECONDS (default 10 s; 3 s in sanitizer builds, which are about
// ten times slower) running the mixed workload of tests/adapters/http_load.h:
// opens, commands with exact expected versions, deliberately stale ones (409),
// races between clients on shared cases (one wins, the rest 409), idempotent
// retries (the first answer again, nothing written), reads of cases, events,
// the risk list and deadlines. Then SIGTERM, which must exit 0, and the
// checks that make the run worth having:
//   - every answer was the one expected (each client knows its own cases);
//   - every acknowledged command's events are in the log where the answer
//     said, exactly once; no refused request wrote anything; positions run
//     without a gap (load::CheckLog);
//   - `xiaohao verify` walks the whole hash chain;
//   - the live risk-list projection gives the same report as a rebuild from
//     position 1, and that report counts exactly the cases the clients opened.
// Throughput and latency are printed for the curious, never asserted (speed
// is measured by bench/http_bench.cc under scripts/bench).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "adapters/users.h"
#include "store/clock.h"
#include "tests/adapters/http_load.h"
#include "tests/test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define XIAOHAO_LOAD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define XIAOHAO_LOAD_SANITIZED 1
#endif
#endif

namespace xiaohao {
namespace {

using nlohmann::json;
using testing::RunXiaohao;
using testing::TempDir;

double LoadSeconds() {
  const char* env = std::getenv("XIAOHAO_LOAD_SECONDS");
  if (env != nullptr && *env != '\0') return std::atof(env);
#ifdef XIAOHAO_LOAD_SANITIZED
  return 3;
#else
  return 10;
#endif
}

// The risk list of the whole tree with its items, as JSON.
json RiskList(const std::string& data, const std::string& workflows) {
  auto out = RunXiaohao({"report", "risk-list", "--data", data, "--workflows", workflows, "--items", "--format", "json"});
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  json j = json::parse(out.out, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

TEST_CASE("load: 32 clients, mixed commands and queries, everything acknowledged is in the log once", "[load]") {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string workflows = testing::SourceDir() + "/workflows";
  REQUIRE(::mkdir(data.c_str(), 0700) == 0);
  load::LoadOptions o;
  o.clients = 32;
  o.seconds = LoadSeconds();
  o.warmup_seconds = 0.5;
  o.mix = load::Mix::kMixed;
  o.seed = 42;
  const UnixMicros now = SystemClock::Default()->Now();
  auto add = [&](const std::string& id, const std::string& role, const std::string& unit) {
    User u;
    u.id = id;
    u.role = role;
    u.unit = unit;
    auto t = AddUser(UsersFilePath(data), u, 86400LL * 1000000, now);
    REQUIRE(t.ok());
    return t->token;
  };
  for (const auto& office : load::Offices()) o.inspector_tokens[office] = add("load." + office, "inspector", office);
  o.supervisor_token = add("load.shizhu", "supervisor", "shizhu");

  uint16_t port = 0;
  pid_t pid = load::SpawnServe(XIAOHAO_BINARY, data, workflows, 16, &port);
  REQUIRE(pid > 0);
  o.port = port;
  load::LoadResult r = load::RunLoad(o);
  int exit_code = load::StopServe(pid);

  std::printf("load: %d clients, %.1f s: %.0f requests/s, %.0f commands/s; write p50 %lld us, p99 %lld us; "
              "request p99 %lld us; %llu conflicts, %llu replays, %llu reads, %llu errors\n",
              o.clients, r.measured_seconds, r.requests / r.measured_seconds, r.commands / r.measured_seconds,
              static_cast<long long>(load::Percentile(r.command_us, 0.5)),
              static_cast<long long>(load::Percentile(r.command_us, 0.99)),
              static_cast<long long>(load::Percentile(r.request_us, 0.99)),
              static_cast<unsigned long long>(r.conflicts), static_cast<unsigned long long>(r.replays),
              static_cast<unsigned long long>(r.reads), static_cast<unsigned long long>(r.errors));
  for (const auto& [kind, n] : r.errors_by_kind) UNSCOPED_INFO(n << " errors: " << kind);
  for (const auto& e : r.error_samples) UNSCOPED_INFO(e);
  CHECK(r.errors == 0);
  CHECK(exit_code == 0);  // SIGTERM drains and exits cleanly
  // The mix did exercise each path.
  CHECK(r.commands > 0);
  CHECK(r.opens > 0);
  CHECK(r.conflicts > 0);
  CHECK(r.replays > 0);
  CHECK(r.reads > 0);

  load::LogCheck check = load::CheckLog(data, r.acknowledged);
  for (const auto& p : check.problems) UNSCOPED_INFO(p);
  CHECK(check.problems.empty());
  CHECK(check.acknowledged_events > 0);
  CHECK(check.acknowledged_events <= check.events);

  auto verified = RunXiaohao({"verify", "--data", data});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  CHECK(verified.out.rfind("ok " + std::to_string(check.events) + " events", 0) == 0);

  // The opens the clients saw acknowledged are the cases the report counts.
  uint64_t opened = 0;
  for (const auto& body : r.acknowledged) {
    json j = json::parse(body, nullptr, false);
    if (j["events"][0]["type"] == "risk_item.opened") ++opened;
  }
  json live = RiskList(data, workflows);
  auto rebuilt_out = RunXiaohao({"projections", "rebuild", "--data", data, "--workflows", workflows});
  INFO(rebuilt_out.err);
  REQUIRE(rebuilt_out.exit_code == 0);
  json rebuilt = RiskList(data, workflows);
  // Both read the stored projection (plus an empty tail), not a fold of the log.
  CHECK(live["basis"] == "projection");
  CHECK(rebuilt["basis"] == "projection");
  CHECK(live["position"] == check.events);
  CHECK(live == rebuilt);
  REQUIRE(live["items"].is_array());
  CHECK(live["items"].size() == opened);
}

}  // namespace
}  // namespace xiaohao
