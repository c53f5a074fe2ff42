// Tampering by someone with access to the data directory: `verify` names the
// first bad position. (The CLI side is in tests/adapters/store_cli_test.cc.)
#include <rocksdb/db.h>

#include <catch2/catch.hpp>

#include "store/envelope.h"
#include "store/event_store.h"
#include "tests/test_util.h"

using namespace xiaohao;
using xiaohao::testing::TempDir;

namespace {

// Raw access to the store's RocksDB, as an intruder would have it.
struct Raw {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  explicit Raw(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* n : {"default", "events", "streams", "commands", "aux"})
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), path, cfs, &h, &db).ok());
  }
  ~Raw() {
    for (auto* x : h) db->DestroyColumnFamilyHandle(x);
    delete db;
  }
  std::string Get(uint64_t pos) {
    std::string v;
    REQUIRE(db->Get(rocksdb::ReadOptions(), h[1], envelope::PositionKey(pos), &v).ok());
    return v;
  }
  void Put(uint64_t pos, const std::string& v) {
    REQUIRE(db->Put(rocksdb::WriteOptions(), h[1], envelope::PositionKey(pos), v).ok());
  }
  void Delete(uint64_t pos) {
    REQUIRE(db->Delete(rocksdb::WriteOptions(), h[1], envelope::PositionKey(pos)).ok());
  }
};

std::string MakeStore(const TempDir& dir, int n, Hash* head) {
  std::string path = dir.Sub("db");
  StoreOptions o;
  o.path = path;
  auto s = EventStore::Open(o);
  REQUIRE(s.ok());
  for (int i = 1; i <= n; ++i) {
    AppendRequest r;
    r.command_id = "c" + std::to_string(i);
    r.events.push_back({"case-" + std::to_string(i % 3), "risk_item.noted", "2025-01-02T09:00:00+08:00",
                        {"u", "inspector", "nanbin"}, R"({"amount":)" + std::to_string(i) + "}"});
    REQUIRE((*s)->Append(r).ok());
  }
  *head = (*s)->HeadHash();
  return path;
}

VerifyReport VerifyAt(const std::string& path,
                      std::optional<std::pair<uint64_t, Hash>> expected = std::nullopt) {
  StoreOptions o;
  o.path = path;
  o.read_only = true;
  auto s = EventStore::Open(o);
  REQUIRE(s.ok());
  auto r = (*s)->Verify(expected);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("verify: an intact log is ok and matches its kept head") {
  TempDir dir;
  Hash head;
  auto path = MakeStore(dir, 10, &head);
  auto r = VerifyAt(path, std::make_pair(uint64_t{10}, head));
  CHECK(r.ok);
  CHECK(r.events == 10);
  CHECK(r.head == head);
}

TEST_CASE("verify: a payload rewritten through RocksDB is caught at its position") {
  TempDir dir;
  Hash head;
  auto path = MakeStore(dir, 10, &head);
  {
    Raw raw(path);
    std::string v = raw.Get(6);
    auto at = v.find(R"({"amount":6})");
    REQUIRE(at != std::string::npos);
    v[at + 10] = '9';  // same length, different amount
    raw.Put(6, v);
  }
  auto r = VerifyAt(path);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_position == 6);
  CHECK_THAT(r.reason, Catch::Contains("altered"));
}

TEST_CASE("verify: a rewritten event with a recomputed own hash still breaks the chain after it") {
  TempDir dir;
  Hash head;
  auto path = MakeStore(dir, 10, &head);
  {
    Raw raw(path);
    RecordedEvent e;
    REQUIRE(envelope::Decode(raw.Get(4), &e).ok());
    e.payload_json = R"({"amount":4000})";
    std::string env;
    envelope::Encode(e, &env);
    Hash h = envelope::Sha256(env);
    env.append(reinterpret_cast<const char*>(h.data()), 32);
    raw.Put(4, env);
  }
  auto r = VerifyAt(path);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_position == 5);
  CHECK_THAT(r.reason, Catch::Contains("previous-hash"));
}

TEST_CASE("verify: a deleted event is named") {
  TempDir dir;
  Hash head;
  auto path = MakeStore(dir, 10, &head);
  {
    Raw raw(path);
    raw.Delete(3);
  }
  auto r = VerifyAt(path);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_position == 3);
  CHECK_THAT(r.reason, Catch::Contains("missing"));
}

TEST_CASE("verify: two events swapped are caught at the first") {
  TempDir dir;
  Hash head;
  auto path = MakeStore(dir, 10, &head);
  {
    Raw raw(path);
    std::string a = raw.Get(7), b = raw.Get(8);
    raw.Put(7, b);
    raw.Put(8, a);
  }
  auto r = VerifyAt(path);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_position == 7);
  CHECK_THAT(r.reason, Catch::Contains("reordered"));
}

TEST_CASE("verify: truncated last events are caught against the kept head") {
  TempDir dir;
  Hash head;
  auto path = MakeStore(dir, 10, &head);
  {
    Raw raw(path);
    raw.Delete(10);
    raw.Delete(9);
  }
  // Without the kept head the shorter log is self-consistent...
  CHECK(VerifyAt(path).ok);
  // ...with it, the truncation is named.
  auto r = VerifyAt(path, std::make_pair(uint64_t{10}, head));
  CHECK_FALSE(r.ok);
  CHECK(r.bad_position == 9);
  CHECK_THAT(r.reason, Catch::Contains("truncated"));
}

TEST_CASE("verify from a kept position: walks only what follows, but catches a rewritten or truncated checkpoint") {
  TempDir dir;
  Hash head;
  auto path = MakeStore(dir, 10, &head);
  Hash at5;
  {
    StoreOptions o;
    o.path = path;
    o.read_only = true;
    auto s = EventStore::Open(o);
    REQUIRE(s.ok());
    auto e = (*s)->ReadLog(5, 1);
    REQUIRE(e.ok());
    at5 = e->at(0).hash;
    auto r = (*s)->VerifyFrom(5, at5);
    REQUIRE(r.ok());
    CHECK(r->ok);
    CHECK(r->events == 10);
    CHECK(r->head == head);
    auto top = (*s)->VerifyFrom(10, head);  // nothing after the head
    REQUIRE(top.ok());
    CHECK(top->ok);
    CHECK(top->events == 10);
  }
  auto verify_from = [&](uint64_t pos, const Hash& h) {
    StoreOptions o;
    o.path = path;
    o.read_only = true;
    auto s = EventStore::Open(o);
    REQUIRE(s.ok());
    auto r = (*s)->VerifyFrom(pos, h);
    REQUIRE(r.ok());
    return *r;
  };
  {
    Raw raw(path);
    std::string v = raw.Get(8);
    v[v.find(R"({"amount":8})") + 10] = '9';
    raw.Put(8, v);
  }
  auto after = verify_from(5, at5);
  CHECK_FALSE(after.ok);
  CHECK(after.bad_position == 8);
  {
    Raw raw(path);
    std::string v = raw.Get(5);
    v[v.find(R"({"amount":5})") + 10] = '6';
    raw.Put(5, v);
  }
  auto at = verify_from(5, at5);
  CHECK_FALSE(at.ok);
  CHECK(at.bad_position == 5);
  CHECK_THAT(at.reason, Catch::Contains("rewritten"));
  {
    Raw raw(path);
    for (uint64_t p = 10; p >= 5; --p) raw.Delete(p);
  }
  auto gone = verify_from(5, at5);
  CHECK_FALSE(gone.ok);
  CHECK_THAT(gone.reason, Catch::Contains("truncated"));
}
