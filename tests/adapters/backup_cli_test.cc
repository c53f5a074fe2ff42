// `xiaohao backup` / `xiaohao restore`, including a backup taken while a
// writer appends (store/backup.h, adapters/cli_backup.cc).
#include <catch2/catch.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "store/event_store.h"
#include "tests/test_util.h"

using namespace xiaohao;
using xiaohao::testing::RunXiaohao;
using xiaohao::testing::TempDir;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Counts events in the aux keyspace, in the same atomic write as the events:
// a copy holding half a commit would disagree with its own log.
class CountingHook : public CommitHook {
 public:
  std::string Name() const override { return "test-count"; }
  Status OnEvents(const std::vector<RecordedEvent>& events, AuxWriter& aux) override {
    auto v = aux.Get("test/count");
    if (!v.ok()) return v.status();
    uint64_t n = v->has_value() ? std::stoull(**v) : 0;
    aux.Put("test/count", std::to_string(n + events.size()));
    return Status::OK();
  }
};

AppendRequest ThreeEvents(uint64_t i) {
  AppendRequest r;
  r.command_id = "cmd-" + std::to_string(i);
  for (int k = 0; k < 3; ++k) {
    NewEvent e;
    e.stream_id = "case-" + std::to_string(i % 7) + "-" + std::to_string(k);
    e.type = "risk_item.noted";
    e.occurred_at = "2025-03-31T20:00:00+08:00";
    e.actor = {"u-li", "inspector", "nanbin"};
    e.payload_json = R"({"note":"整改到位","i":)" + std::to_string(i) + "}";
    r.events.push_back(e);
  }
  return r;
}

}  // namespace

TEST_CASE("backup: taken while a writer appends, restores to a verified prefix of whole commits") {
  TempDir dir;
  std::string data = dir.Sub("var");
  CountingHook hook;
  StoreOptions o;
  o.path = data;
  o.hooks = {&hook};
  auto opened = EventStore::Open(o);
  REQUIRE(opened.ok());
  EventStore& writer = **opened;
  const std::string users = R"({"format": 1, "users": []})";
  { std::ofstream(data + "/users.json") << users; }

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> appended{0};
  Status writer_status;
  std::thread t([&] {
    for (uint64_t i = 0; !stop.load(); ++i) {
      auto r = writer.Append(ThreeEvents(i));
      if (!r.ok()) {
        writer_status = r.status();
        return;
      }
      appended = i + 1;
    }
  });
  while (appended.load() < 100 && writer_status.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    std::string backup = dir.Sub("backup-" + std::to_string(round));
    std::string restored = dir.Sub("restored-" + std::to_string(round));
    uint64_t acknowledged = writer.DurableHead();
    auto b = RunXiaohao({"backup", "--data", data, "--to", backup});
    INFO(b.err);
    REQUIRE(b.exit_code == 0);
    CHECK_THAT(b.out, Catch::Contains("verified") && Catch::Contains("users.json"));
    uint64_t head_after = writer.DurableHead();

    auto r = RunXiaohao({"restore", "--from", backup, "--data", restored});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("verified"));
    CHECK(RunXiaohao({"verify", "--data", restored}).exit_code == 0);
    CHECK(ReadFile(restored + "/users.json") == users);

    StoreOptions ro;
    ro.path = restored;
    ro.read_only = true;
    auto copy = EventStore::Open(ro);
    REQUIRE(copy.ok());
    uint64_t head = (*copy)->DurableHead();
    // Everything acknowledged before the backup began, nothing the writer
    // does not have, and a whole number of three-event commits.
    CHECK(head >= acknowledged);
    CHECK(head <= head_after + 3);  // a commit written but whose sync was in flight
    CHECK(head % 3 == 0);
    auto count = (*copy)->GetAux("test/count");
    REQUIRE(count.ok());
    REQUIRE(count->has_value());
    CHECK(std::stoull(**count) == head);
    // The same events as the writer's log, hash for hash.
    REQUIRE(writer.WaitForHead(head, 10'000'000) >= head);
    auto mine = writer.ReadLog(head, 1);
    REQUIRE(mine.ok());
    REQUIRE(mine->size() == 1);
    CHECK((*copy)->HeadHash() == mine->front().hash);
    auto manifest = nlohmann::json::parse(ReadFile(backup + "/backup.json"));
    CHECK(manifest["head"]["position"] == head);
  }
  stop = true;
  t.join();
  CHECK(writer_status.ok());
}

TEST_CASE("backup and restore: bad paths and a non-empty target are refused, writing nothing") {
  TempDir dir;
  std::string data = dir.Sub("var");
  {
    StoreOptions o;
    o.path = data;
    auto s = EventStore::Open(o);
    REQUIRE(s.ok());
    AppendRequest r = ThreeEvents(1);
    REQUIRE((*s)->Append(r).ok());
  }

  auto missing = RunXiaohao({"backup", "--data", dir.Sub("nope"), "--to", dir.Sub("b0")});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("no data directory at") && Catch::Contains("--data"));
  CHECK_FALSE(std::filesystem::exists(dir.Sub("b0")));

  auto no_parent = RunXiaohao({"backup", "--data", data, "--to", dir.Sub("no/such/parent")});
  CHECK(no_parent.exit_code == 2);
  CHECK_THAT(no_parent.err, Catch::Contains("does not exist; create it first"));

  std::filesystem::create_directory(dir.Sub("taken"));
  auto exists = RunXiaohao({"backup", "--data", data, "--to", dir.Sub("taken")});
  CHECK(exists.exit_code == 2);
  CHECK_THAT(exists.err, Catch::Contains("already exists"));

  std::string backup = dir.Sub("backup");
  REQUIRE(RunXiaohao({"backup", "--data", data, "--to", backup}).exit_code == 0);

  auto not_backup = RunXiaohao({"restore", "--from", data, "--data", dir.Sub("r0")});
  CHECK(not_backup.exit_code == 2);
  CHECK_THAT(not_backup.err, Catch::Contains("has no backup.json"));
  CHECK_FALSE(std::filesystem::exists(dir.Sub("r0")));

  // A non-empty target keeps what it had.
  std::string busy = dir.Sub("busy");
  std::filesystem::create_directory(busy);
  { std::ofstream(busy + "/keep.txt") << "mine"; }
  auto refused = RunXiaohao({"restore", "--from", backup, "--data", busy});
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains("is not empty") && Catch::Contains("never overwrites"));
  CHECK(ReadFile(busy + "/keep.txt") == "mine");
  CHECK(std::distance(std::filesystem::directory_iterator(busy), {}) == 1);
  // Nor into the live data directory itself.
  CHECK(RunXiaohao({"restore", "--from", backup, "--data", data}).exit_code == 2);

  // An empty directory is fine.
  std::string empty = dir.Sub("empty");
  std::filesystem::create_directory(empty);
  auto ok = RunXiaohao({"restore", "--from", backup, "--data", empty});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("3 events"));

  // A backup whose recorded head does not match its store is damaged: the
  // restore says so and leaves nothing behind.
  auto manifest = nlohmann::json::parse(ReadFile(backup + "/backup.json"));
  manifest["head"]["hash"] = std::string(64, 'a');
  { std::ofstream(backup + "/backup.json") << manifest.dump(); }
  auto damaged = RunXiaohao({"restore", "--from", backup, "--data", dir.Sub("r1")});
  CHECK(damaged.exit_code == 2);
  CHECK_THAT(damaged.err, Catch::Contains("does not match the backup's head"));
  CHECK_FALSE(std::filesystem::exists(dir.Sub("r1")));
}

TEST_CASE("backup: the restored copy answers the same reports") {
  TempDir dir;
  std::string data = dir.Sub("var");
  auto load = RunXiaohao({"demo", "load", "--data", data, "--per-office", "2"});
  INFO(load.err);
  REQUIRE(load.exit_code == 0);
  REQUIRE(RunXiaohao({"backup", "--data", data, "--to", dir.Sub("b")}).exit_code == 0);
  REQUIRE(RunXiaohao({"restore", "--from", dir.Sub("b"), "--data", dir.Sub("r")}).exit_code == 0);
  for (std::vector<std::string> report : {std::vector<std::string>{"report", "risk-list", "--items", "--format", "json"},
                                          std::vector<std::string>{"report", "rates", "--format", "json"}}) {
    CAPTURE(report[1]);
    auto a = report, b = report;
    a.insert(a.end(), {"--data", data});
    b.insert(b.end(), {"--data", dir.Sub("r")});
    auto from_original = RunXiaohao(a);
    auto from_restored = RunXiaohao(b);
    INFO(from_original.err);
    REQUIRE(from_original.exit_code == 0);
    CHECK(from_original.out.size() > 20);
    CHECK(from_restored.out == from_original.out);
  }
}
