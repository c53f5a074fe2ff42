// `xiaohao append | read | verify` as a person or a script uses them.
#include <rocksdb/db.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "store/envelope.h"
#include "store/event_store.h"
#include "tests/test_util.h"

using namespace xiaohao;
using xiaohao::testing::RunXiaohao;
using xiaohao::testing::TempDir;

namespace {
std::vector<std::string> AppendArgs(const std::string& data, const std::string& stream,
                                    const std::string& payload, const std::string& extra = "") {
  std::vector<std::string> a = {"append", "--data", data, "--stream", stream, "--type", "risk_item.noted",
                                "--occurred-at", "2025-03-31T20:00:00+08:00", "--payload", payload};
  if (!extra.empty()) {
    a.push_back("--command-id");
    a.push_back(extra);
  }
  return a;
}
}  // namespace

TEST_CASE("cli: append, read back and verify") {
  TempDir dir;
  std::string data = dir.Sub("var");
  auto v0 = RunXiaohao({"verify", "--data", data});
  // No store yet: a clear error, not a crash.
  CHECK(v0.exit_code == 2);
  CHECK_THAT(v0.err, Catch::Contains("no xiaohao data directory"));

  auto a1 = RunXiaohao(AppendArgs(data, "case-1", R"({"发现":"未按规定储存"})", "cmd-1"));
  REQUIRE(a1.exit_code == 0);
  CHECK(nlohmann::json::parse(a1.out) == nlohmann::json{{"position", 1}, {"version", 1}, {"duplicate", false}});
  auto again = RunXiaohao(AppendArgs(data, "case-1", R"({"发现":"未按规定储存"})", "cmd-1"));
  REQUIRE(again.exit_code == 0);
  CHECK(nlohmann::json::parse(again.out)["duplicate"] == true);
  REQUIRE(RunXiaohao(AppendArgs(data, "case-2", "{}")).exit_code == 0);

  auto read = RunXiaohao({"read", "--data", data, "--stream", "case-1"});
  REQUIRE(read.exit_code == 0);
  auto e = nlohmann::json::parse(read.out);
  CHECK(e["position"] == 1);
  CHECK(e["payload"]["发现"] == "未按规定储存");
  CHECK(e["occurred_at"] == "2025-03-31T20:00:00+08:00");

  auto v = RunXiaohao({"verify", "--data", data});
  REQUIRE(v.exit_code == 0);
  CHECK_THAT(v.out, Catch::StartsWith("ok 2 events, head "));
}

TEST_CASE("cli: an empty store verifies as ok 0 events") {
  TempDir dir;
  {
    StoreOptions o;
    o.path = dir.Sub("var");
    REQUIRE(EventStore::Open(o).ok());
  }
  auto v = RunXiaohao({"verify", "--data", dir.Sub("var")});
  CHECK(v.exit_code == 0);
  CHECK(v.out == "ok 0 events\n");
}

TEST_CASE("cli: bad input is a one-line error, exit 2, and nothing is written") {
  TempDir dir;
  std::string data = dir.Sub("var");
  REQUIRE(RunXiaohao(AppendArgs(data, "case-1", "{}")).exit_code == 0);
  struct Bad {
    std::vector<std::string> args;
    const char* says;
  };
  std::vector<Bad> bad = {
      {AppendArgs(data, "case-1", "[1]"), "must be a JSON object"},
      {AppendArgs(data, "case-1", "{not json"), "not valid JSON"},
      {AppendArgs(data, "", "{}"), "stream id is empty"},
      {{"append", "--data", data, "--stream", "s", "--type", "bad type", "--payload", "{}"}, "only ASCII"},
      {{"append", "--data", data, "--stream", "s", "--type", "t", "--occurred-at", "yesterday"}, "RFC 3339"},
      {{"append", "--data", data, "--stream", "case-1", "--type", "t", "--expected-version", "7"},
       "is at version 1, expected version 7"},
      {{"append", "--data", data, "--stream", "s", "--type", "t", "--expected-version", "soon"},
       "--expected-version must be"},
      {{"append", "--stream", "s", "--type", "t"}, "--data is required"},
  };
  for (auto& b : bad) {
    INFO(b.says);
    auto r = RunXiaohao(b.args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::Contains(b.says));
  }
  auto v = RunXiaohao({"verify", "--data", data});
  CHECK_THAT(v.out, Catch::StartsWith("ok 1 events"));
}

TEST_CASE("cli: read and verify work while another process holds the store open for writing") {
  TempDir dir;
  StoreOptions o;
  o.path = dir.Sub("var");
  auto store = EventStore::Open(o);
  REQUIRE(store.ok());
  AppendRequest r;
  r.command_id = "c1";
  r.events.push_back({"case-1", "t.x", "2025-01-01T00:00:00Z", {"u", "inspector", "nanbin"}, "{}"});
  REQUIRE((*store)->Append(r).ok());
  auto read = RunXiaohao({"read", "--data", o.path});
  CHECK(read.exit_code == 0);
  CHECK_THAT(read.out, Catch::Contains("\"case-1\""));
  auto v = RunXiaohao({"verify", "--data", o.path});
  CHECK(v.exit_code == 0);
  CHECK_THAT(v.out, Catch::StartsWith("ok 1 events"));
  // A second writer is refused with a message that says why.
  auto w = RunXiaohao(AppendArgs(o.path, "case-1", "{}"));
  CHECK(w.exit_code == 2);
  CHECK_THAT(w.err, Catch::Contains("in use by another xiaohao process"));
}

TEST_CASE("cli: verify names the first bad position and exits 1, --expect-head catches truncation") {
  TempDir dir;
  std::string data = dir.Sub("var");
  for (int i = 0; i < 5; ++i) REQUIRE(RunXiaohao(AppendArgs(data, "case-1", "{\"i\":" + std::to_string(i) + "}")).exit_code == 0);
  auto good = RunXiaohao({"verify", "--data", data});
  REQUIRE(good.exit_code == 0);
  std::string head = good.out.substr(good.out.find("head ") + 5, 64);
  {
    rocksdb::DB* db;
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* n : {"default", "events", "streams", "commands", "aux"})
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), data, cfs, &h, &db).ok());
    REQUIRE(db->Delete(rocksdb::WriteOptions(), h[1], envelope::PositionKey(5)).ok());
    for (auto* x : h) db->DestroyColumnFamilyHandle(x);
    delete db;
  }
  auto trunc = RunXiaohao({"verify", "--data", data, "--expect-head", "5:" + head});
  CHECK(trunc.exit_code == 1);
  CHECK_THAT(trunc.out, Catch::StartsWith("broken at position 5: "));
  auto bad_arg = RunXiaohao({"verify", "--data", data, "--expect-head", "five"});
  CHECK(bad_arg.exit_code == 2);
  CHECK_THAT(bad_arg.err, Catch::Contains("POSITION:HASH"));
}

TEST_CASE("cli: an auditor's own script recomputes the chain from an export (doc/verify_export.py)") {
  if (system("python3 --version >/dev/null 2>&1") != 0) {
    WARN("python3 not installed; the recipe check is skipped");
    return;
  }
  TempDir dir;
  std::string data = dir.Sub("var");
  for (int i = 0; i < 4; ++i)
    REQUIRE(RunXiaohao(AppendArgs(data, "case-" + std::to_string(i % 2), R"({"整改":"已完成","n":)" + std::to_string(i) + "}")).exit_code == 0);
  auto exported = RunXiaohao({"read", "--data", data});
  REQUIRE(exported.exit_code == 0);
  std::string log = dir.Sub("log.jsonl");
  std::ofstream(log) << exported.out;
  auto v = RunXiaohao({"verify", "--data", data});
  std::string cmd = "python3 " + xiaohao::testing::SourceDir() + "/doc/verify_export.py " + log + " > " +
                    dir.Sub("out") + " 2>&1";
  REQUIRE(system(cmd.c_str()) == 0);
  std::ifstream in(dir.Sub("out"));
  std::string line;
  std::getline(in, line);
  CHECK(line + "\n" == v.out);  // the same count and head as xiaohao's own verify

  // A tampered export fails the recipe: the displayed payload, or the hashed text.
  for (int occurrence : {0, 1}) {
    std::string tampered = exported.out;
    auto at = tampered.find("已完成");
    if (occurrence == 1) at = tampered.find("已完成", at + 1);
    REQUIRE(at != std::string::npos);
    tampered.replace(at, std::string("已完成").size(), "未完成");
    std::ofstream(log) << tampered;
    CHECK(system(cmd.c_str()) != 0);
  }
}
