// EventStore::ScanLogRaw (the copy-free scan projection rebuilds fold) and
// EventHash: the views carry exactly what ScanLog's copies carry, from any
// position, stopping when asked; a damaged record is refused, not skipped.
#include <rocksdb/db.h>

#include <catch2/catch.hpp>

#include "store/envelope.h"
#include "store/event_store.h"
#include "tests/test_util.h"

using namespace xiaohao;
using xiaohao::testing::TempDir;

namespace {

struct ScanFixture {
  TempDir dir;
  ManualClock clock{1743422400000000};  // 2025-03-31T12:00:00Z
  std::unique_ptr<EventStore> store;
  ScanFixture() { Open(); }
  void Open() {
    store.reset();
    StoreOptions o;
    o.path = dir.Sub("db");
    o.clock = &clock;
    auto s = EventStore::Open(o);
    REQUIRE(s.ok());
    store = std::move(s).value();
  }
  // n appends of one or two events, with varied streams, actors and payloads.
  void Fill(int n) {
    for (int i = 1; i <= n; ++i) {
      AppendRequest r;
      r.command_id = "cmd-" + std::to_string(i);
      std::string office = i % 2 ? "nanbin" : "";
      r.events.push_back({"risk_item-" + std::to_string(i % 3), "risk_item.noted",
                          "2025-03-31T20:00:0" + std::to_string(i % 10) + "+08:00",
                          {"u-" + std::to_string(i), i % 2 ? "inspector" : "system", office},
                          R"({"n":)" + std::to_string(i) + R"(,"note":"整改到位"})"});
      if (i % 3 == 0)
        r.events.push_back({"$enterprise-E" + std::to_string(i), "enterprise.registered",
                            "2025-04-01T08:00:00+08:00", {"admin", "admin", ""}, R"({"name":"某公司"})"});
      REQUIRE(store->Append(r).ok());
      clock.Advance(1000);
    }
  }
  std::vector<RecordedEvent> Raw(uint64_t from, size_t stop_after = SIZE_MAX) {
    std::vector<RecordedEvent> out;
    Status s = store->ScanLogRaw(from, [&](const EventView& v) {
      out.push_back(v.ToRecorded());
      return out.size() < stop_after;
    });
    REQUIRE(s.ok());
    return out;
  }
};

void CheckSame(const RecordedEvent& a, const RecordedEvent& b) {
  CHECK(a.position == b.position);
  CHECK(a.stream_id == b.stream_id);
  CHECK(a.version == b.version);
  CHECK(a.type == b.type);
  CHECK(a.occurred_at == b.occurred_at);
  CHECK(a.recorded_at == b.recorded_at);
  CHECK(a.actor == b.actor);
  CHECK(a.command_id == b.command_id);
  CHECK(a.payload_json == b.payload_json);
  CHECK(a.prev_hash == b.prev_hash);
  CHECK(a.hash == b.hash);
}

}  // namespace

TEST_CASE("raw scan of an empty store visits nothing") {
  ScanFixture f;
  int calls = 0;
  auto count = [&](const EventView&) {
    ++calls;
    return true;
  };
  REQUIRE(f.store->ScanLogRaw(1, count).ok());
  REQUIRE(f.store->ScanLogRaw(0, count).ok());
  REQUIRE(f.store->ScanLogRaw(5, count).ok());
  CHECK(calls == 0);
}

TEST_CASE("raw scan gives every field ScanLog gives, in log order, and the hash EventHash computes") {
  ScanFixture f;
  f.Fill(12);
  auto copies = f.store->ReadLog(1, SIZE_MAX);
  REQUIRE(copies.ok());
  REQUIRE(copies->size() == 16);
  auto views = f.Raw(1);
  REQUIRE(views.size() == copies->size());
  for (size_t i = 0; i < views.size(); ++i) {
    INFO("position " << i + 1);
    CHECK(views[i].position == i + 1);
    CheckSame(views[i], (*copies)[i]);
    CHECK(EventHash(views[i]) == views[i].hash);
  }
  // The views point into the store's buffer: the scalar fields, the hashes
  // and the text are read in place, and EventView::Of round-trips.
  REQUIRE(f.store->ScanLogRaw(4, [&](const EventView& v) {
    CHECK(v.hash() == (*copies)[3].hash);
    CHECK(v.prev_hash() == (*copies)[2].hash);
    CHECK(v.type == "enterprise.registered");
    CHECK(v.payload_json == R"({"name":"某公司"})");
    CheckSame(EventView::Of(v.ToRecorded()).ToRecorded(), (*copies)[3]);
    return false;
  }).ok());
  // Still the same after a reopen (read from SST files rather than the memtable).
  f.Open();
  auto again = f.Raw(1);
  REQUIRE(again.size() == views.size());
  for (size_t i = 0; i < views.size(); ++i) CheckSame(again[i], views[i]);
}

TEST_CASE("raw scan starts at any position and stops when the visitor says so") {
  ScanFixture f;
  f.Fill(12);  // 16 events
  auto mid = f.Raw(7);
  REQUIRE(mid.size() == 10);
  CHECK(mid.front().position == 7);
  CHECK(mid.back().position == 16);
  auto last = f.Raw(16);
  REQUIRE(last.size() == 1);
  CHECK(last[0].position == 16);
  CHECK(f.Raw(17).empty());
  CHECK(f.Raw(1000).empty());
  CHECK(f.Raw(0).size() == 16);  // position 0 reads from the start, as ScanLog does

  auto two = f.Raw(5, 2);
  REQUIRE(two.size() == 2);
  CHECK(two[0].position == 5);
  CHECK(two[1].position == 6);
  CHECK(f.Raw(1, 1).size() == 1);
}

TEST_CASE("EventHash changes with any byte the hash covers") {
  ScanFixture f;
  f.Fill(2);
  auto log = f.store->ReadLog(1, 10);
  REQUIRE(log.ok());
  RecordedEvent e = log->at(1);
  REQUIRE(EventHash(e) == e.hash);
  RecordedEvent edited = e;
  edited.payload_json = R"({"n":3,"note":"整改到位"})";
  CHECK(EventHash(edited) != e.hash);
  edited = e;
  edited.prev_hash[0] ^= 1;
  CHECK(EventHash(edited) != e.hash);
  edited = e;
  edited.hash[0] ^= 1;  // not covered: the hash is of everything else
  CHECK(EventHash(edited) == e.hash);
}

TEST_CASE("raw scan refuses a damaged record with a corruption error, as ScanLog does") {
  ScanFixture f;
  f.Fill(3);
  std::string path = f.dir.Sub("db");
  f.store.reset();
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* n : {"default", "events", "streams", "commands", "aux"})
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), path, cfs, &h, &db).ok());
    std::string v;
    REQUIRE(db->Get(rocksdb::ReadOptions(), h[1], envelope::PositionKey(2), &v).ok());
    v.resize(v.size() - 40);  // torn: the hash and part of prev_hash gone
    REQUIRE(db->Put(rocksdb::WriteOptions(), h[1], envelope::PositionKey(2), v).ok());
    for (auto* x : h) db->DestroyColumnFamilyHandle(x);
    delete db;
  }
  f.Open();
  std::vector<uint64_t> seen;
  Status s = f.store->ScanLogRaw(1, [&](const EventView& v) {
    seen.push_back(v.position);
    return true;
  });
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK(seen == std::vector<uint64_t>{1});
  Status copy = f.store->ScanLog(1, [](const RecordedEvent&) { return true; });
  CHECK(copy.code() == StatusCode::kCorruption);
}
