// `xiaohao users` through the built binary, and the service's start-up check
// of the hash chain (a broken chain refuses to serve unless read-only).
#include <rocksdb/db.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "adapters/service.h"
#include "adapters/users.h"
#include "store/envelope.h"
#include "store/event_store.h"
#include "tests/test_util.h"

namespace xiaohao {
namespace {

using testing::RunXiaohao;
using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("users cli: add prints the token once, stores only its hash, list, rotate, revoke", "[users]") {
  TempDir dir;
  std::string data = dir.Sub("data");
  auto add = RunXiaohao({"users", "add", "--data", data, "--id", "li", "--role", "inspector", "--unit", "nanbin"});
  REQUIRE(add.exit_code == 0);
  std::string token = add.out.substr(0, add.out.find('\n'));
  CHECK(token.rfind("xh_", 0) == 0);
  CHECK(token.size() == 67);
  std::string file = Slurp(UsersFilePath(data));
  CHECK(file.find(token) == std::string::npos);
  CHECK(file.find(HashToken(token)) != std::string::npos);

  auto list = RunXiaohao({"users", "list", "--data", data});
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find("li\tinspector\tnanbin\tactive") == 0);
  CHECK(list.out.find(token) == std::string::npos);

  auto dup = RunXiaohao({"users", "add", "--data", data, "--id", "li", "--role", "inspector", "--unit", "nanbin"});
  CHECK(dup.exit_code == 2);

  auto rotate = RunXiaohao({"users", "rotate", "--data", data, "--id", "li", "--ttl", "1d"});
  REQUIRE(rotate.exit_code == 0);
  std::string fresh = rotate.out.substr(0, rotate.out.find('\n'));
  CHECK(fresh != token);
  Authenticator auth(UsersFilePath(data));
  UnixMicros now = SystemClock::Default()->Now();
  CHECK_FALSE(auth.Authenticate(token, now).ok());
  REQUIRE(auth.Authenticate(fresh, now).ok());
  CHECK(auth.Authenticate(fresh, now)->ToActor().office == "nanbin");

  REQUIRE(RunXiaohao({"users", "revoke", "--data", data, "--id", "li"}).exit_code == 0);
  CHECK(auth.Authenticate(fresh, now).status().code() == StatusCode::kUnauthenticated);
  CHECK(RunXiaohao({"users", "list", "--data", data}).out.find("revoked") != std::string::npos);
  CHECK(RunXiaohao({"users", "revoke", "--data", data, "--id", "nobody"}).exit_code == 2);
}

TEST_CASE("users cli: roles, units and enterprises are checked", "[users]") {
  TempDir dir;
  std::string data = dir.Sub("data");
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"users", "add", "--data", data};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunXiaohao(args).exit_code;
  };
  CHECK(run({"--id", "a", "--role", "janitor", "--unit", "nanbin"}) == 2);
  CHECK(run({"--id", "a", "--role", "inspector"}) == 2);                        // no unit
  CHECK(run({"--id", "a", "--role", "inspector", "--unit", "atlantis"}) == 2);  // unknown unit
  CHECK(run({"--id", "a", "--role", "supervisor", "--unit", "nanbin"}) == 2);   // an office is no bureau
  CHECK(run({"--id", "a", "--role", "province_approver", "--unit", "shizhu"}) == 2);
  CHECK(run({"--id", "a", "--role", "enterprise"}) == 2);  // no enterprise id
  CHECK(run({"--id", "a", "--role", "enterprise", "--enterprise", "E1", "--ttl", "soon"}) == 2);
  CHECK(run({"--id", "Bad Id", "--role", "admin"}) == 2);
  CHECK(run({"--id", "a", "--role", "enterprise", "--enterprise", "E1"}) == 0);
  CHECK(run({"--id", "b", "--role", "province_approver", "--unit", "chongqing"}) == 0);
  CHECK(run({"--id", "c", "--role", "admin"}) == 0);
}

TEST_CASE("serve: a broken hash chain refuses to start unless read-only", "[service]") {
  TempDir dir;
  std::string data = dir.Sub("data");
  {
    StoreOptions o;
    o.path = data;
    auto s = EventStore::Open(o);
    REQUIRE(s.ok());
    for (int i = 1; i <= 3; ++i) {
      AppendRequest r;
      r.command_id = "c" + std::to_string(i);
      r.events.push_back({"note-" + std::to_string(i), "demo.noted", "2025-01-02T09:00:00+08:00",
                          {"u", "inspector", "nanbin"}, R"({"amount":)" + std::to_string(i) + "}"});
      REQUIRE((*s)->Append(r).ok());
    }
  }
  {
    // Rewrite event 2's payload behind the store's back.
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* n : {"default", "events", "streams", "commands", "aux"})
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), data, cfs, &h, &db).ok());
    std::string v;
    REQUIRE(db->Get(rocksdb::ReadOptions(), h[1], envelope::PositionKey(2), &v).ok());
    auto at = v.find(R"({"amount":2})");
    REQUIRE(at != std::string::npos);
    v[at + 10] = '7';
    REQUIRE(db->Put(rocksdb::WriteOptions(), h[1], envelope::PositionKey(2), v).ok());
    for (auto* x : h) db->DestroyColumnFamilyHandle(x);
    delete db;
  }
  ServiceOptions so;
  so.data_dir = data;
  so.workflows_dir = testing::SourceDir() + "/workflows";
  auto refused = Service::Open(so);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kCorruption);
  CHECK_THAT(refused.status().message(), Catch::Contains("position 2"));

  auto cli = RunXiaohao({"serve", "--data", data, "--listen", "127.0.0.1:0", "--workflows", so.workflows_dir});
  CHECK(cli.exit_code == 2);
  CHECK_THAT(cli.err, Catch::Contains("--read-only"));

  so.read_only = true;
  auto reading = Service::Open(so);
  REQUIRE(reading.ok());
  CHECK_THAT((*reading)->StartupReport(), Catch::Contains("broken"));
  HttpRequest req;
  req.method = "GET";
  req.target = "/healthz";
  CHECK((*reading)->Handle(req).status == 200);
}

}  // namespace
}  // namespace xiaohao
