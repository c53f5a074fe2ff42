// The chain-head export: at start, on request (SIGUSR1 for `xiaohao serve`),
// on a schedule and at exit (adapters/chain_head_log.h).
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/chain_head_log.h"
#include "store/event_store.h"
#include "tests/adapters/http_load.h"
#include "tests/test_util.h"

namespace xiaohao {
namespace {

using testing::TempDir;

std::vector<nlohmann::json> Lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Polls for up to 30 s (generous for a loaded CI machine; no timing is asserted).
template <typename F>
bool Eventually(F f) {
  for (int i = 0; i < 300; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

void AppendOne(EventStore& s, int i) {
  AppendRequest r;
  r.command_id = "cmd-" + std::to_string(i);
  NewEvent e;
  e.stream_id = "case-1";
  e.type = "risk_item.noted";
  e.occurred_at = "2025-03-31T20:00:00+08:00";
  e.actor = {"u-li", "inspector", "nanbin"};
  e.payload_json = "{}";
  r.events.push_back(e);
  REQUIRE(s.Append(r).ok());
}

TEST_CASE("chain head log: records the writer's head at start, on request and on schedule") {
  TempDir dir;
  std::string data = dir.Sub("var");
  StoreOptions o;
  o.path = data;
  auto store = EventStore::Open(o);
  REQUIRE(store.ok());
  for (int i = 0; i < 5; ++i) AppendOne(**store, i);

  std::vector<std::string> logged;
  std::mutex mu;
  ChainHeadLogOptions co;
  co.data_dir = data;
  co.interval = std::chrono::seconds(1);
  co.log = [&](const std::string& l) {
    std::lock_guard<std::mutex> lock(mu);
    logged.push_back(l);
  };
  auto heads = ChainHeadLog::Start(co);
  REQUIRE(heads.ok());
  std::string path = data + "/chain-heads.jsonl";
  auto lines = Lines(path);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["reason"] == "start");
  CHECK(lines[0]["position"] == 5);
  CHECK(lines[0]["hash"] == HashToHex((*store)->HeadHash()));
  {
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(logged.size() == 1);
    CHECK(logged[0].find("chain head 5:" + HashToHex((*store)->HeadHash())) == 0);
  }

  AppendOne(**store, 5);
  (*heads)->RequestRecord();
  REQUIRE(Eventually([&] { return (*heads)->records() >= 2; }));
  // The interval passes at least once more.
  REQUIRE(Eventually([&] {
    for (const auto& l : Lines(path))
      if (l["reason"] == "daily") return true;
    return false;
  }));
  heads->reset();
  lines = Lines(path);
  bool on_request = false;
  for (const auto& l : lines) {
    if (l["reason"] == "on request") {
      on_request = true;
      CHECK(l["position"] == 6);
      CHECK(l["hash"] == HashToHex((*store)->HeadHash()));
    }
    CHECK(l["at"].get<std::string>().back() == 'Z');  // RFC 3339 UTC
  }
  CHECK(on_request);
}

TEST_CASE("chain head log: a missing data directory is an error, and nothing is written") {
  TempDir dir;
  ChainHeadLogOptions co;
  co.data_dir = dir.Sub("nope");
  auto heads = ChainHeadLog::Start(co);
  REQUIRE_FALSE(heads.ok());
  CHECK_THAT(heads.status().message(), Catch::Contains("no xiaohao data directory"));
  CHECK(Lines(dir.Sub("nope") + "/chain-heads.jsonl").empty());
}

TEST_CASE("chain head log: xiaohao serve records at start, on SIGUSR1 and at exit") {
  TempDir dir;
  std::string data = dir.Sub("data");
  {
    StoreOptions o;
    o.path = data;
    auto store = EventStore::Open(o);
    REQUIRE(store.ok());
    for (int i = 0; i < 3; ++i) AppendOne(**store, i);
  }
  uint16_t port = 0;  // not used: the test speaks to the server by signals
  pid_t pid = load::SpawnServe(XIAOHAO_BINARY, data, testing::SourceDir() + "/workflows",
                               /*threads: the server's default*/ 0, &port);
  REQUIRE(pid > 0);  // it printed "listening on http://127.0.0.1:<port>"

  std::string path = data + "/chain-heads.jsonl";
  auto lines = Lines(path);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["reason"] == "start");
  uint64_t start_position = lines[0]["position"];
  CHECK(start_position >= 3);  // the service records its workflow versions too

  REQUIRE(::kill(pid, SIGUSR1) == 0);
  CHECK(Eventually([&] { return Lines(path).size() >= 2; }));
  int exit_code = load::StopServe(pid);  // SIGTERM, then waits
  // As a shell shows it: -1 when not waited for, 128 + N when killed by signal N.
  REQUIRE(exit_code >= 0);
  REQUIRE(exit_code < 128);
  CHECK(exit_code == 0);

  lines = Lines(path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1]["reason"] == "on request");
  CHECK(lines[2]["reason"] == "exit");
  StoreOptions ro;
  ro.path = data;
  ro.read_only = true;
  auto store = EventStore::Open(ro);
  REQUIRE(store.ok());
  CHECK(lines[2]["position"] == (*store)->DurableHead());
  CHECK(lines[2]["hash"] == HashToHex((*store)->HeadHash()));
}

}  // namespace
}  // namespace xiaohao
