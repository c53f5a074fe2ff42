// EventStore::AppendAsync (store/event_store.h): the same appends as Append,
// called back instead of blocking, driven from fewer threads than appends in
// flight.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "store/event_store.h"
#include "store/fault_injection.h"
#include "tests/store/store_test_util.h"
#include "tests/test_util.h"

using namespace xiaohao;
using xiaohao::testing::Ev;
using xiaohao::testing::Req;
using xiaohao::testing::TempDir;

namespace {

std::unique_ptr<EventStore> OpenStore(const std::string& path, bool pipelined = true,
                                      rocksdb::Env* env = nullptr) {
  StoreOptions o;
  o.path = path;
  o.pipelined_commit = pipelined;
  o.env = env;
  auto s = EventStore::Open(o);
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Counts callbacks and lets the test wait for a number of them, with a
// deadline so that a lost callback fails the test instead of hanging it.
class Callbacks {
 public:
  void Add() {
    std::lock_guard<std::mutex> l(mu_);
    ++n_;
    cv_.notify_all();
  }
  bool WaitFor(int n, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return n_ >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> l(mu_);
    return n_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

}  // namespace

TEST_CASE("AppendAsync calls every append back once, only after it is durable, from few threads") {
  for (bool pipelined : {true, false}) {
    INFO("pipelined " << pipelined);
    TempDir dir;
    auto store = OpenStore(dir.Sub("db"), pipelined);
    // Two client threads keep 8 appends each in flight, sending an appender's
    // next append when its last one is called back, as a server's I/O threads would.
    constexpr int kClients = 2, kInFlight = 8, kPerAppender = 40;
    constexpr int kTotal = kClients * kInFlight * kPerAppender;
    std::mutex mu;  // guards what the callbacks record
    std::set<uint64_t> positions;
    std::map<std::string, std::vector<uint64_t>> versions;  // stream -> versions returned
    int not_durable_yet = 0, failed = 0, twice = 0;
    std::set<std::string> called;
    Callbacks done;
    auto client = [&](int c) {
      struct Slot {
        std::mutex mu;
        std::condition_variable cv;
        std::vector<int> ready;  // appenders whose append came back
      } slot;
      std::vector<int> sent(kInFlight, 0);
      auto send = [&](const std::vector<int>& appenders) {
        std::vector<EventStore::AsyncAppend> batch;
        for (int a : appenders) {
          const std::string cmd = "c" + std::to_string(c) + "-a" + std::to_string(a) + "-" +
                                  std::to_string(sent[a]++);
          const std::string stream = "case-" + std::to_string(a % 5);
          batch.push_back({Req(cmd, {Ev(stream)}), [&, a, cmd, stream](Result<AppendResult> r) {
                             {
                               std::lock_guard<std::mutex> l(mu);
                               if (!called.insert(cmd).second) ++twice;
                               if (!r.ok()) {
                                 ++failed;
                               } else {
                                 // Durable before it is called back: readers see it.
                                 if (store->DurableHead() < r->last_position) ++not_durable_yet;
                                 positions.insert(r->first_position);
                                 versions[stream].push_back(r->streams.at(0).version);
                               }
                             }
                             done.Add();
                             std::lock_guard<std::mutex> l(slot.mu);
                             slot.ready.push_back(a);
                             slot.cv.notify_one();
                           }});
        }
        store->AppendAsync(std::move(batch));
      };
      std::vector<int> all;
      for (int a = 0; a < kInFlight; ++a) all.push_back(a);
      send(all);
      int back = 0;
      while (back < kInFlight * kPerAppender) {
        std::vector<int> ready;
        {
          std::unique_lock<std::mutex> l(slot.mu);
          slot.cv.wait(l, [&] { return !slot.ready.empty(); });
          ready.swap(slot.ready);
        }
        back += static_cast<int>(ready.size());
        std::vector<int> again;
        for (int a : ready)
          if (sent[a] < kPerAppender) again.push_back(a);
        if (!again.empty()) send(again);
      }
    };
    const CommitStats before = store->GetCommitStats();
    std::thread c0(client, 0), c1(client, 1);
    c0.join();
    c1.join();
    REQUIRE(done.count() == kTotal);
    CHECK(failed == 0);
    CHECK(twice == 0);
    CHECK(not_durable_yet == 0);
    // Gap-free positions, dense versions per stream.
    CHECK(positions.size() == static_cast<size_t>(kTotal));
    CHECK(*positions.begin() == 1);
    CHECK(*positions.rbegin() == static_cast<uint64_t>(kTotal));
    for (auto& [stream, vs] : versions) {
      std::sort(vs.begin(), vs.end());
      for (size_t i = 0; i < vs.size(); ++i) CHECK(vs[i] == i + 1);
    }
    CHECK(store->DurableHead() == static_cast<uint64_t>(kTotal));
    if (pipelined) {
      // Every acknowledgement was covered by a sync, and syncs were shared.
      const CommitStats after = store->GetCommitStats();
      CHECK(after.synced_appends - before.synced_appends == static_cast<uint64_t>(kTotal));
      CHECK(after.syncs - before.syncs < static_cast<uint64_t>(kTotal));
    }
    auto v = store->Verify();
    REQUIRE(v.ok());
    CHECK(v->ok);
    CHECK(v->events == static_cast<uint64_t>(kTotal));
  }
}

TEST_CASE("AppendAsync refuses bad input on the caller's thread, before it returns, and writes nothing of it") {
  TempDir dir;
  auto store = OpenStore(dir.Sub("db"));
  std::vector<Status> results(3);
  std::vector<bool> called(3, false);
  const auto caller = std::this_thread::get_id();
  std::vector<bool> on_caller(3, false);
  std::vector<EventStore::AsyncAppend> batch;
  batch.push_back({Req("bad-payload", {Ev("case-1", "risk_item.noted", "[1,2]")}), [&](Result<AppendResult> r) {
                     called[0] = true;
                     on_caller[0] = std::this_thread::get_id() == caller;
                     results[0] = r.status();
                   }});
  batch.push_back({Req("good", {Ev("case-1")}), [&](Result<AppendResult> r) {
                     called[1] = true;
                     results[1] = r.status();
                   }});
  batch.push_back({Req("", {Ev("case-1")}), [&](Result<AppendResult> r) {
                     called[2] = true;
                     on_caller[2] = std::this_thread::get_id() == caller;
                     results[2] = r.status();
                   }});
  store->AppendAsync(std::move(batch));
  // The refusals came back before AppendAsync returned, on this thread.
  CHECK(called[0]);
  CHECK(on_caller[0]);
  CHECK(results[0].code() == StatusCode::kInvalidArgument);
  CHECK_THAT(results[0].message(), Catch::Contains("object"));
  CHECK(called[2]);
  CHECK(on_caller[2]);
  CHECK(results[2].code() == StatusCode::kInvalidArgument);
  CHECK_THAT(results[2].message(), Catch::Contains("command"));
  // The good one in the same call is written, alone.
  REQUIRE(store->WaitForHead(1, 10'000'000) == 1);
  store.reset();  // every queued append is called back before the destructor returns
  CHECK(called[1]);
  CHECK(results[1].ok());
  store = OpenStore(dir.Sub("db"));
  auto log = store->ReadLog(1, 10);
  REQUIRE(log.ok());
  REQUIRE(log->size() == 1);
  CHECK(log->front().command_id == "good");
}

TEST_CASE("AppendAsync reports conflicts and duplicates as Append does") {
  TempDir dir;
  auto store = OpenStore(dir.Sub("db"));
  REQUIRE(store->Append(Req("first", {Ev("case-1")})).ok());
  Callbacks done;
  std::optional<Result<AppendResult>> conflict, duplicate;
  store->AppendAsync(Req("stale", {Ev("case-1")}, {{"case-1", ExpectedVersion::NoStream()}}),
                     [&](Result<AppendResult> r) {
                       conflict = std::move(r);
                       done.Add();
                     });
  store->AppendAsync(Req("first", {Ev("case-1")}), [&](Result<AppendResult> r) {
    duplicate = std::move(r);
    done.Add();
  });
  REQUIRE(done.WaitFor(2));
  REQUIRE_FALSE(conflict->ok());
  CHECK(conflict->status().code() == StatusCode::kVersionConflict);
  CHECK(conflict->status().actual_version() == std::optional<uint64_t>(1));
  REQUIRE(duplicate->ok());
  CHECK((*duplicate)->duplicate);
  CHECK((*duplicate)->first_position == 1);
  CHECK(store->DurableHead() == 1);
}

TEST_CASE("blocking and asynchronous appenders together: every append completes") {
  // The committer role passes only to an appender with a thread waiting on
  // it. Handed to an asynchronous append instead, it would be taken by
  // nobody, and whatever was queued would wait until some later append came:
  // for ever, when none does. Each round is one blocking append and one
  // asynchronous append sent a moment later (often during the first one's
  // sync, while its thread holds the role), and nothing after them.
  TempDir dir;
  auto store = OpenStore(dir.Sub("db"));
  constexpr int kRounds = 400;
  std::mt19937 rng(7);
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    const auto delay = std::chrono::microseconds(rng() % 300);
    const std::string r = std::to_string(round);
    Callbacks async_done;
    std::atomic<bool> async_ok{false};
    std::thread blocking([&] { CHECK(store->Append(Req("b" + r, {Ev("case-b")})).ok()); });
    std::thread async([&] {
      const auto until = std::chrono::steady_clock::now() + delay;
      while (std::chrono::steady_clock::now() < until) std::this_thread::yield();
      store->AppendAsync(Req("a" + r, {Ev("case-a")}), [&](Result<AppendResult> res) {
        async_ok = res.ok();
        async_done.Add();
      });
    });
    blocking.join();
    async.join();
    REQUIRE(async_done.WaitFor(1, std::chrono::seconds(10)));
    CHECK(async_ok);
  }
  CHECK(store->DurableHead() == static_cast<uint64_t>(2 * kRounds));
}

TEST_CASE("a callback may send the next append from the store's thread") {
  TempDir dir;
  auto store = OpenStore(dir.Sub("db"));
  constexpr int kChain = 300;
  Callbacks done;
  std::atomic<int> ok{0};
  std::function<void(int)> send = [&](int i) {
    store->AppendAsync(Req("chain-" + std::to_string(i), {Ev("case-chain")}),
                       [&, i](Result<AppendResult> r) {
                         if (r.ok() && r->streams.at(0).version == static_cast<uint64_t>(i + 1))
                           ok++;
                         done.Add();
                         if (i + 1 < kChain) send(i + 1);
                       });
  };
  send(0);
  REQUIRE(done.WaitFor(kChain));
  CHECK(ok == kChain);
  CHECK(store->DurableHead() == static_cast<uint64_t>(kChain));
}

TEST_CASE("closing the store calls back every queued append, and what was acknowledged is there after reopening") {
  TempDir dir;
  auto store = OpenStore(dir.Sub("db"));
  constexpr int kAppends = 500;
  std::atomic<int> called{0}, ok{0};
  for (int i = 0; i < kAppends; ++i)
    store->AppendAsync(Req("q-" + std::to_string(i), {Ev("case-" + std::to_string(i % 13))}),
                       [&](Result<AppendResult> r) {
                         called++;
                         if (r.ok()) ok++;
                       });
  store.reset();
  CHECK(called == kAppends);
  store = OpenStore(dir.Sub("db"));
  CHECK(store->DurableHead() == static_cast<uint64_t>(ok.load()));
  CHECK(ok == kAppends);  // nothing failed: the destructor waited for the syncer
}

TEST_CASE("after a failed sync, queued async appends fail with the sticky error and later ones are refused at once") {
  TempDir dir;
  auto fs = FaultInjectionEnv::Create(false);
  auto store = OpenStore(dir.Sub("db"), true, fs->env());
  REQUIRE(store->Append(Req("kept", {Ev("case-1")})).ok());
  fs->SetSyncFails(true);
  Callbacks done;
  std::mutex mu;
  std::vector<Status> results;
  std::vector<EventStore::AsyncAppend> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back({Req("lost-" + std::to_string(i), {Ev("case-1")}), [&](Result<AppendResult> r) {
                       {
                         std::lock_guard<std::mutex> l(mu);
                         results.push_back(r.status());
                       }
                       done.Add();
                     }});
  store->AppendAsync(std::move(batch));
  REQUIRE(done.WaitFor(5));
  for (const Status& s : results) CHECK(s.code() == StatusCode::kIOError);
  fs->SetSyncFails(false);
  bool refused_now = false;
  store->AppendAsync(Req("later", {Ev("case-1")}), [&](Result<AppendResult> r) {
    refused_now = r.status().code() == StatusCode::kIOError;
  });
  CHECK(refused_now);  // before AppendAsync returned
  CHECK(store->DurableHead() == 1);
  store.reset();
  store = OpenStore(dir.Sub("db"), true, fs->env());
  auto log = store->ReadLog(1, 10);
  REQUIRE(log.ok());
  REQUIRE(log->size() >= 1);
  CHECK(log->front().command_id == "kept");
  auto v = store->Verify();
  REQUIRE(v.ok());
  CHECK(v->ok);
}
