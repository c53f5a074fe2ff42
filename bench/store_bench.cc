// store_bench: durable appends per second through EventStore, and the same
// shape of work as a bare loop of synced RocksDB WriteBatches.
//
//   store_bench --data DIR [--appenders N] [--seconds S] [--warmup S]
//               [--streams K] [--expect exact|any] [--pipelined 0|1] [--verify]
//               [--inline-max N] [--background-cpu low|inherit]
//   store_bench --bare --data DIR [--appenders N] [--seconds S] [--warmup S]
//               [--background-cpu low|inherit]
//   store_bench --fsync-probe --data DIR [--seconds S]
//
// Store mode: N threads, each appending one event per Append call (a unique
// command id each, ~400-byte JSON payload with Chinese text) and blocking until
// it is durable. With --clients C, the same N appenders each keep one append
// in flight through AppendAsync, driven from C threads (as pgbench -c N -j C). Streams are spread over K (default 10,000) like real cases:
// with --expect exact (the default) each appender owns the streams i % N == t
// and appends with the exact version it last saw (NoStream for a new stream),
// as a command handler does; with --expect any every appender picks any stream
// and appends with ExpectedVersion::Any.
//
// Bare mode: N threads, each writing one WriteBatch per event holding two keys
// (the event under its global position, ~435-byte value; the stream index key)
// with WriteOptions::sync = true. This is the physical floor a one-event append
// is compared against.
//
// Probe mode: 4 KiB appends + fdatasync on one file, the disk's own rate at
// the moment (it drifts on a shared virtual disk), printed beside results.
//
// --background-cpu low runs RocksDB's flush and compaction threads under the
// normal scheduling policy at the lowest priority (Env::LowerThreadPoolCPUPriority),
// for runs under a real-time policy (scripts/bench BENCH_RT=1), which the
// threads would otherwise inherit. Under SCHED_RR a flush (about 150 ms of CPU
// per 64 MiB memtable) is not preempted by the appenders' wake-ups and held
// its core for 192 ms without a switch (perf sched); the likely reading is
// that a thread woken onto that core waits behind it, and every appender
// waits when that thread is the syncer. Measured (2026-12-07, 16 appenders,
// 10 s, chrt -r 1): all 16 appenders stalled for the length of each flush
// (130-870 ms max latency); with the flag, no append over 50 ms, max 13-15
// ms, as without a real-time policy. The default, inherit, changes nothing.
//
// The first --warmup seconds (default 1) are not counted. Output is one
// machine-readable line (plus optional verify/error lines), e.g.
//   store appenders=16 expect=exact streams=10000 seconds=10.00 events=412345
//     events_per_s=41234 p50_us=371 p99_us=1020 p999_us=2400 max_us=9000 errors=0
// Exit status is non-zero if any append failed or the store's head disagrees
// with the number of acknowledged appends.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "store/event_store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  bool bare = false;
  bool probe = false;
  int appenders = 1;
  double seconds = 10;
  double warmup = 1;
  int streams = 10000;
  bool expect_exact = true;
  bool verify = false;
  int pipelined = -1;  // -1: the store's default
  int inline_max = -1;  // -1: the store's default (StoreOptions::inline_sync_max_appenders)
  int clients = 0;     // 0: a thread per appender (Append); else AppendAsync from this many threads
  bool background_low = false;  // --background-cpu low
  std::string data;
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "store_bench: %s\n"
               "usage: store_bench --data DIR [--appenders N] [--seconds S] [--warmup S]\n"
               "                   [--streams K] [--expect exact|any] [--pipelined 0|1] [--verify]\n"
               "                   [--clients C] [--inline-max N] [--background-cpu low|inherit]\n"
               "       store_bench --bare --data DIR [--appenders N] [--seconds S] [--warmup S]\n"
               "                   [--background-cpu low|inherit]\n"
               "       store_bench --fsync-probe --data DIR [--seconds S]\n",
               msg);
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + k).c_str());
      return argv[++i];
    };
    try {
      if (k == "--bare") {
        a.bare = true;
      } else if (k == "--fsync-probe") {
        a.probe = true;
      } else if (k == "--verify") {
        a.verify = true;
      } else if (k == "--appenders") {
        a.appenders = std::stoi(next());
      } else if (k == "--seconds") {
        a.seconds = std::stod(next());
      } else if (k == "--warmup") {
        a.warmup = std::stod(next());
      } else if (k == "--pipelined") {
        std::string v = next();
        if (v == "1") a.pipelined = 1;
        else if (v == "0") a.pipelined = 0;
        else Usage("--pipelined takes 0 or 1");
      } else if (k == "--inline-max") {
        a.inline_max = std::stoi(next());
        if (a.inline_max < 0) Usage("--inline-max takes a count >= 0");
      } else if (k == "--background-cpu") {
        std::string v = next();
        if (v == "low") a.background_low = true;
        else if (v == "inherit") a.background_low = false;
        else Usage("--background-cpu takes low or inherit");
      } else if (k == "--clients") {
        a.clients = std::stoi(next());
      } else if (k == "--streams") {
        a.streams = std::stoi(next());
      } else if (k == "--data") {
        a.data = next();
      } else if (k == "--expect") {
        std::string v = next();
        if (v == "exact") a.expect_exact = true;
        else if (v == "any") a.expect_exact = false;
        else Usage("--expect takes exact or any");
      } else if (k == "-h" || k == "--help") {
        Usage("help");
      } else {
        Usage(("unknown argument " + k).c_str());
      }
    } catch (const std::exception&) {
      Usage(("bad value for " + k).c_str());
    }
  }
  if (a.data.empty()) Usage("--data DIR is required");
  if (a.appenders < 1 || a.appenders > 1024) Usage("--appenders must be 1..1024");
  if (a.seconds <= 0 || a.warmup < 0) Usage("--seconds must be > 0, --warmup >= 0");
  if (a.streams < a.appenders) Usage("--streams must be >= --appenders");
  if (a.clients < 0 || a.clients > a.appenders) Usage("--clients must be 0..--appenders");
  return a;
}

// ---------------------------------------------------------------------------
// Payloads: ~400 bytes of JSON with Chinese text, varying per event the way a
// risk-item case does (ids, counters, a few phrases), so nothing compresses to
// a constant.

const char* const kOffices[] = {"nanbin", "yubei", "jiangbei", "shapingba", "banan"};
const char* const kTitles[] = {
    "消防通道被杂物堵塞，需立即清理",
    "配电箱未上锁，存在触电隐患",
    "脚手架连墙件缺失，存在坍塌风险",
    "危化品仓库通风不良，须限期整改",
    "电梯维保记录缺失，责令补齐材料",
};
const char* const kLevels[] = {"一般", "较大", "重大"};
const char* const kInspectors[] = {"张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"};

std::string MakePayload(std::mt19937_64& rng, uint64_t stream, uint64_t seq) {
  char buf[1024];
  int n = std::snprintf(
      buf, sizeof buf,
      "{\"case_no\":\"RC-2024-%06" PRIu64 "\",\"seq\":%" PRIu64 ",\"office\":\"%s\","
      "\"inspector\":\"%s\",\"risk_level\":\"%s\",\"title\":\"%s\","
      "\"finding\":\"现场检查发现该处隐患，已当场告知负责人并拍照取证，要求限期整改后报送复查。\","
      "\"location\":{\"district\":\"南滨路片区\",\"lat\":29.%06u,\"lng\":106.%06u},"
      "\"deadline\":\"2024-%02u-%02uT17:00:00+08:00\",\"photos\":%u}",
      stream, seq, kOffices[rng() % 5], kInspectors[rng() % 6], kLevels[rng() % 3],
      kTitles[rng() % 5], static_cast<unsigned>(rng() % 1000000),
      static_cast<unsigned>(rng() % 1000000), static_cast<unsigned>(1 + rng() % 12),
      static_cast<unsigned>(1 + rng() % 28), static_cast<unsigned>(rng() % 9));
  return std::string(buf, static_cast<size_t>(n));
}

std::string StreamId(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "risk-item-%05" PRIu64, i);
  return buf;
}

// ---------------------------------------------------------------------------
// Results.

struct ThreadStats {
  std::vector<uint32_t> lat_us;  // one per counted, successful append
  uint64_t warm = 0;             // successful appends during warm-up
  std::map<std::string, uint64_t> errors;  // code name -> count
  std::string first_error;
  uint64_t conflicts = 0;
  Clock::time_point last_done{};
};

struct Summary {
  uint64_t events = 0;
  double seconds = 0;
  uint32_t p50 = 0, p99 = 0, p999 = 0, max = 0;
  double mean = 0;
  uint64_t errors = 0;
};

uint32_t Pct(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

Summary Summarize(std::vector<ThreadStats>& st, Clock::time_point measure_start) {
  Summary s;
  std::vector<uint32_t> all;
  Clock::time_point end = measure_start;
  double sum = 0;
  for (auto& t : st) {
    all.insert(all.end(), t.lat_us.begin(), t.lat_us.end());
    end = std::max(end, t.last_done);
    for (auto& e : t.errors) s.errors += e.second;
  }
  std::sort(all.begin(), all.end());
  for (uint32_t v : all) sum += v;
  s.events = all.size();
  s.seconds = std::chrono::duration<double>(end - measure_start).count();
  s.p50 = Pct(all, 0.50);
  s.p99 = Pct(all, 0.99);
  s.p999 = Pct(all, 0.999);
  s.max = all.empty() ? 0 : all.back();
  s.mean = all.empty() ? 0 : sum / static_cast<double>(all.size());
  return s;
}

void PrintSummary(const char* what, const Args& a, const Summary& s, const std::string& extra) {
  double rate = s.seconds > 0 ? static_cast<double>(s.events) / s.seconds : 0;
  std::printf("%s appenders=%d%s background_cpu=%s seconds=%.2f events=%" PRIu64
              " events_per_s=%.0f p50_us=%u p99_us=%u p999_us=%u max_us=%u mean_us=%.0f"
              " errors=%" PRIu64 "\n",
              what, a.appenders, extra.c_str(), a.background_low ? "low" : "inherit", s.seconds,
              s.events, rate, s.p50, s.p99, s.p999, s.max, s.mean, s.errors);
  std::fflush(stdout);
}

// Runs body(thread, stats, counted) on N threads until the deadline; `counted`
// is false during warm-up. Returns the start of the measured window.
template <typename Body>
Clock::time_point RunThreads(const Args& a, std::vector<ThreadStats>& stats, Body body) {
  stats.assign(static_cast<size_t>(a.appenders), ThreadStats{});
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto start = Clock::now();  // replaced once every thread is ready
  Clock::time_point measure_start, deadline;
  std::vector<std::thread> threads;
  for (int t = 0; t < a.appenders; ++t) {
    threads.emplace_back([&, t] {
      ThreadStats& ts = stats[static_cast<size_t>(t)];
      ts.lat_us.reserve(1 << 16);
      ready.fetch_add(1);
      // Sleep rather than spin: under a real-time policy (BENCH_RT=1) 16
      // spinning threads could keep the main thread from starting the run.
      while (!go.load(std::memory_order_acquire))
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      for (;;) {
        auto t0 = Clock::now();
        if (t0 >= deadline) break;
        bool counted = t0 >= measure_start;
        bool ok = body(t, ts, counted);
        auto t1 = Clock::now();
        if (ok) {
          if (counted) {
            ts.lat_us.push_back(static_cast<uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
            ts.last_done = t1;
          } else {
            ++ts.warm;
          }
        }
      }
    });
  }
  while (ready.load() < a.appenders) std::this_thread::sleep_for(std::chrono::microseconds(200));
  start = Clock::now();
  measure_start = start + std::chrono::microseconds(static_cast<int64_t>(a.warmup * 1e6));
  deadline = measure_start + std::chrono::microseconds(static_cast<int64_t>(a.seconds * 1e6));
  go.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  return measure_start;
}

// Runs N appenders on C client threads through AppendAsync, each appender
// with one append in flight at a time, as pgbench -c N -j C drives N
// connections from C threads: a client thread sleeps until some of its
// appends are acknowledged, records them and sends those appenders' next
// appends together in one call. An append's latency runs from its submission
// to the moment its client thread takes the acknowledgement. Returns the
// start of the measured window.
template <typename MakeRequest, typename TakeResult, typename Sticky>
Clock::time_point RunClients(const Args& a, std::vector<ThreadStats>& stats,
                             xiaohao::EventStore& store, MakeRequest& make_request,
                             TakeResult& take_result, Sticky& sticky) {
  const size_t c = static_cast<size_t>(a.clients);
  stats.assign(c, ThreadStats{});
  struct Done {
    uint64_t appender;
    xiaohao::Result<xiaohao::AppendResult> result;
  };
  struct Client {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Done> done;  // GUARDED_BY(mu)
    bool waiting = false;    // GUARDED_BY(mu)
  };
  std::vector<Client> clients(c);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point measure_start, deadline;
  std::vector<std::thread> threads;
  for (size_t ci = 0; ci < c; ++ci) {
    threads.emplace_back([&, ci] {
      ThreadStats& ts = stats[ci];
      Client& me = clients[ci];
      ts.lat_us.reserve(1 << 17);
      std::vector<uint64_t> mine;  // appenders t with t % C == ci
      for (uint64_t t = ci; t < static_cast<uint64_t>(a.appenders); t += c) mine.push_back(t);
      std::vector<uint64_t> slot(static_cast<size_t>(a.appenders), 0);
      std::vector<Clock::time_point> sent(static_cast<size_t>(a.appenders));
      size_t outstanding = 0;
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire))
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      // The next appends of the given appenders, handed over in one call.
      std::vector<xiaohao::EventStore::AsyncAppend> batch_out;
      auto send = [&](const std::vector<uint64_t>& appenders) {
        batch_out.clear();
        const auto now = Clock::now();
        if (now >= deadline) return;
        for (uint64_t t : appenders) {
          sent[t] = now;
          batch_out.push_back({make_request(t, &slot[t]),
                               [&me, t](xiaohao::Result<xiaohao::AppendResult> r) {
                                 std::lock_guard<std::mutex> l(me.mu);
                                 me.done.push_back({t, std::move(r)});
                                 if (me.waiting) {
                                   me.waiting = false;
                                   me.cv.notify_one();
                                 }
                               }});
        }
        outstanding += appenders.size();
        store.AppendAsync(std::move(batch_out));
      };
      send(mine);
      std::vector<Done> batch;
      std::vector<uint64_t> again;
      while (outstanding > 0) {
        {
          std::unique_lock<std::mutex> l(me.mu);
          me.waiting = me.done.empty();
          me.cv.wait(l, [&] { return !me.done.empty(); });
          me.waiting = false;
          batch.swap(me.done);
        }
        const auto t1 = Clock::now();
        bool refused = false;
        again.clear();
        for (Done& d : batch) {
          --outstanding;
          const bool counted = sent[d.appender] >= measure_start;
          if (take_result(d.appender, slot[d.appender], ts, d.result)) {
            if (counted) {
              ts.lat_us.push_back(static_cast<uint32_t>(
                  std::chrono::duration_cast<std::chrono::microseconds>(t1 - sent[d.appender])
                      .count()));
              ts.last_done = t1;
            } else {
              ++ts.warm;
            }
          } else if (sticky(d.result.status())) {
            refused = true;
          }
          again.push_back(d.appender);
        }
        batch.clear();
        if (refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // do not spin
        send(again);
      }
    });
  }
  while (ready.load() < a.clients) std::this_thread::sleep_for(std::chrono::microseconds(200));
  auto start = Clock::now();
  measure_start = start + std::chrono::microseconds(static_cast<int64_t>(a.warmup * 1e6));
  deadline = measure_start + std::chrono::microseconds(static_cast<int64_t>(a.seconds * 1e6));
  go.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  return measure_start;
}

// ---------------------------------------------------------------------------
// Store mode.

int RunStore(const Args& a) {
  xiaohao::StoreOptions opts;
  opts.path = a.data;
  if (a.pipelined >= 0) opts.pipelined_commit = a.pipelined == 1;
  if (a.inline_max >= 0) opts.inline_sync_max_appenders = a.inline_max;
  auto opened = xiaohao::EventStore::Open(opts);
  if (!opened.ok()) {
    std::fprintf(stderr, "store_bench: open %s: %s\n", a.data.c_str(),
                 opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<xiaohao::EventStore> store = std::move(opened).value();
  const uint64_t head0 = store->DurableHead();

  // A run id keeps command ids unique across runs on the same directory.
  const uint64_t run_id = static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch().count());
  const uint64_t n = static_cast<uint64_t>(a.appenders);
  const uint64_t streams = static_cast<uint64_t>(a.streams);

  struct PerThread {
    std::mt19937_64 rng;
    uint64_t seq = 0;
    std::vector<uint64_t> versions;  // exact mode: owned streams t, t+n, t+2n, ...
  };
  std::vector<PerThread> pt(n);
  for (uint64_t t = 0; t < n; ++t) {
    pt[t].rng.seed(0x9e3779b97f4a7c15ULL * (t + 1) ^ run_id);
    if (a.expect_exact) {
      pt[t].versions.resize((streams - t + n - 1) / n);
      for (uint64_t j = 0; j < pt[t].versions.size(); ++j) {
        auto v = store->StreamVersion(StreamId(t + j * n));
        pt[t].versions[j] = v.ok() ? v.value() : 0;
      }
    }
  }

  std::atomic<size_t> payload_bytes{0};
  // The next append of appender t, on the stream in `*slot` (exact mode).
  auto make_request = [&](uint64_t t, uint64_t* slot) {
    PerThread& p = pt[t];
    uint64_t stream;
    if (a.expect_exact) {
      *slot = p.rng() % p.versions.size();
      stream = t + *slot * n;
    } else {
      stream = p.rng() % streams;
    }
    const uint64_t seq = ++p.seq;
    xiaohao::AppendRequest req;
    char cmd[64];
    std::snprintf(cmd, sizeof cmd, "bench-%" PRIx64 "-%" PRIu64 "-%" PRIu64, run_id, t, seq);
    req.command_id = cmd;
    xiaohao::NewEvent ev;
    ev.stream_id = StreamId(stream);
    ev.type = "risk_item.inspected";
    ev.occurred_at = "2024-05-20T09:30:00+08:00";
    ev.actor = {"u-" + std::to_string(1000 + stream % 300), "inspector",
                kOffices[stream % 5]};
    ev.payload_json = MakePayload(p.rng, stream, seq);
    payload_bytes.store(ev.payload_json.size(), std::memory_order_relaxed);
    req.events.push_back(std::move(ev));
    if (a.expect_exact) {
      uint64_t v = p.versions[*slot];
      req.expectations.push_back({StreamId(stream), v == 0 ? xiaohao::ExpectedVersion::NoStream()
                                                           : xiaohao::ExpectedVersion::Exact(v)});
    }
    return req;
  };
  // Records an append's outcome; false when it failed.
  auto take_result = [&](uint64_t t, uint64_t slot, ThreadStats& ts,
                         const xiaohao::Result<xiaohao::AppendResult>& r) {
    PerThread& p = pt[t];
    if (!r.ok()) {
      xiaohao::Status s = r.status();
      ts.errors[xiaohao::StatusCodeName(s.code())]++;
      if (ts.first_error.empty()) ts.first_error = s.ToString();
      if (a.expect_exact && s.code() == xiaohao::StatusCode::kVersionConflict &&
          s.actual_version()) {
        p.versions[slot] = *s.actual_version();
        ++ts.conflicts;
      }
      return false;
    }
    if (a.expect_exact) {
      const auto& res = r.value();
      p.versions[slot] = res.streams.empty() ? p.versions[slot] + 1 : res.streams[0].version;
    }
    return true;
  };
  auto sticky = [](const xiaohao::Status& s) {
    return s.code() == xiaohao::StatusCode::kIOError || s.code() == xiaohao::StatusCode::kReadOnly;
  };

  std::vector<ThreadStats> stats;
  Clock::time_point measure_start;
  if (a.clients == 0) {
    measure_start = RunThreads(a, stats, [&](int ti, ThreadStats& ts, bool) {
      const uint64_t t = static_cast<uint64_t>(ti);
      uint64_t slot = 0;
      auto r = store->Append(make_request(t, &slot));
      bool ok = take_result(t, slot, ts, r);
      if (!ok && sticky(r.status()))
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // sticky: do not spin
      return ok;
    });
  } else {
    measure_start = RunClients(a, stats, *store, make_request, take_result, sticky);
  }

  Summary s = Summarize(stats, measure_start);
  uint64_t warm = 0;
  for (auto& t : stats) warm += t.warm;
  char extra[160];
  std::snprintf(extra, sizeof extra,
                " clients=%d expect=%s streams=%d pipelined=%d inline_max=%d payload_bytes=%zu",
                a.clients, a.expect_exact ? "exact" : "any", a.streams,
                opts.pipelined_commit ? 1 : 0, opts.inline_sync_max_appenders,
                payload_bytes.load());
  PrintSummary("store", a, s, extra);
  // How the appends shared syncs, warm-up included: appends per sync is what
  // decides throughput under concurrency; sync_us is the disk's share.
  const xiaohao::CommitStats cs = store->GetCommitStats();
  std::printf("store_commit syncs=%" PRIu64 " appends_per_sync=%.2f sync_us=%.0f\n", cs.syncs,
              cs.syncs ? static_cast<double>(cs.synced_appends) / static_cast<double>(cs.syncs) : 0,
              cs.syncs ? static_cast<double>(cs.sync_micros) / static_cast<double>(cs.syncs) : 0);

  int rc = 0;
  std::map<std::string, uint64_t> errs;
  for (auto& t : stats) {
    for (auto& e : t.errors) errs[e.first] += e.second;
    if (!t.first_error.empty() && rc == 0) {
      std::fprintf(stderr, "store_bench: first error: %s\n", t.first_error.c_str());
      rc = 1;
    }
  }
  for (auto& e : errs) std::printf("store_error code=%s count=%" PRIu64 "\n", e.first.c_str(), e.second);

  const uint64_t acked = warm + s.events;
  const uint64_t head = store->DurableHead();
  std::printf("store_head before=%" PRIu64 " after=%" PRIu64 " acked=%" PRIu64 " match=%d\n", head0,
              head, acked, head - head0 == acked ? 1 : 0);
  if (head - head0 != acked) rc = 1;

  if (a.verify) {
    auto t0 = Clock::now();
    auto v = store->Verify();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!v.ok()) {
      std::printf("store_verify ok=0 error=\"%s\"\n", v.status().ToString().c_str());
      rc = 1;
    } else {
      std::printf("store_verify ok=%d events=%" PRIu64 " seconds=%.2f events_per_s=%.0f%s%s\n",
                  v->ok ? 1 : 0, v->events, secs, secs > 0 ? static_cast<double>(v->events) / secs : 0,
                  v->ok ? "" : " reason=", v->ok ? "" : v->reason.c_str());
      if (!v->ok || v->events != head) rc = 1;
    }
  }
  std::fflush(stdout);
  return rc;
}

// ---------------------------------------------------------------------------
// Bare mode: the same append shape straight into RocksDB, one synced
// WriteBatch per event: key "l"+BE64(position) -> ~435-byte JSON envelope,
// key "s"+stream+BE64(version) -> BE64(position).

void PutBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

int RunBare(const Args& a) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(o, a.data, &raw);
  if (!st.ok()) {
    std::fprintf(stderr, "store_bench: rocksdb open %s: %s\n", a.data.c_str(),
                 st.ToString().c_str());
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;

  const uint64_t n = static_cast<uint64_t>(a.appenders);
  const uint64_t streams = static_cast<uint64_t>(a.streams);
  std::atomic<uint64_t> next_pos{1};
  std::vector<std::mt19937_64> rngs(n);
  std::vector<uint64_t> seqs(n, 0);
  for (uint64_t t = 0; t < n; ++t) rngs[t].seed(0x9e3779b97f4a7c15ULL * (t + 1));
  std::vector<std::vector<uint64_t>> versions(n);  // per appender, owned streams t + j*n
  for (uint64_t t = 0; t < n; ++t) versions[t].resize((streams - t + n - 1) / n, 0);

  std::vector<ThreadStats> stats;
  std::atomic<size_t> value_bytes{0};
  auto measure_start = RunThreads(a, stats, [&](int ti, ThreadStats& ts, bool) {
    const uint64_t t = static_cast<uint64_t>(ti);
    auto& rng = rngs[t];
    const uint64_t slot = rng() % versions[t].size();
    const uint64_t stream = t + slot * n;
    const uint64_t version = ++versions[t][slot];
    const uint64_t pos = next_pos.fetch_add(1);
    const std::string sid = StreamId(stream);
    // A small envelope around the ~400-byte payload: ~435 bytes in all.
    std::string value = "{\"s\":\"" + sid + "\",\"v\":" + std::to_string(version) + ",\"d\":";
    value += MakePayload(rng, stream, ++seqs[t]);
    value += "}";
    value_bytes.store(value.size(), std::memory_order_relaxed);
    std::string k1 = "l";
    PutBE64(&k1, pos);
    std::string k2 = "s" + sid;
    k2.push_back('\0');
    PutBE64(&k2, version);
    std::string v2;
    PutBE64(&v2, pos);
    rocksdb::WriteBatch b;
    b.Put(k1, value);
    b.Put(k2, v2);
    rocksdb::Status s = db->Write(wo, &b);
    if (!s.ok()) {
      ts.errors["io_error"]++;
      if (ts.first_error.empty()) ts.first_error = s.ToString();
      return false;
    }
    return true;
  });
  Summary s = Summarize(stats, measure_start);
  char extra[96];
  std::snprintf(extra, sizeof extra, " keys_per_event=2 value_bytes=%zu sync=1",
                value_bytes.load());
  PrintSummary("bare", a, s, extra);
  for (auto& t : stats) {
    if (!t.first_error.empty()) {
      std::fprintf(stderr, "store_bench: first error: %s\n", t.first_error.c_str());
      return 1;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Probe mode: what the disk does right now, 4 KiB appended + fdatasync in a
// loop on one file (PERFORMANCE.md's first row). Printed next to the results
// because this disk's fsync latency drifts over minutes.

int RunProbe(const Args& a) {
  std::string path = a.data + "/fsync-probe";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::fprintf(stderr, "store_bench: open %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  std::string block(4096, 'x');
  std::vector<uint32_t> lat;
  off_t off = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::microseconds(static_cast<int64_t>(a.seconds * 1e6));
  auto t0 = start;
  while (t0 < deadline) {
    if (::pwrite(fd, block.data(), block.size(), off) != static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      std::fprintf(stderr, "store_bench: probe write: %s\n", std::strerror(errno));
      ::close(fd);
      return 1;
    }
    off += static_cast<off_t>(block.size());
    auto t1 = Clock::now();
    lat.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
    t0 = t1;
  }
  ::close(fd);
  ::unlink(path.c_str());
  double secs = std::chrono::duration<double>(t0 - start).count();
  std::sort(lat.begin(), lat.end());
  std::printf("disk op=append4k_fdatasync seconds=%.2f ops=%zu ops_per_s=%.0f p50_us=%u p99_us=%u\n",
              secs, lat.size(), secs > 0 ? static_cast<double>(lat.size()) / secs : 0,
              Pct(lat, 0.5), Pct(lat, 0.99));
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = ParseArgs(argc, argv);
  std::error_code ec;
  std::filesystem::create_directories(a.data, ec);
  if (ec) {
    std::fprintf(stderr, "store_bench: cannot create %s: %s\n", a.data.c_str(),
                 ec.message().c_str());
    return 1;
  }
  if (a.probe) return RunProbe(a);
  if (a.background_low) {
    // Both the store (a composite Env over the default one) and the bare
    // loop run their background jobs in Env::Default()'s pools; each thread
    // takes the priority before its next job.
    rocksdb::Env::Default()->LowerThreadPoolCPUPriority(rocksdb::Env::HIGH,
                                                        rocksdb::CpuPriority::kLow);
    rocksdb::Env::Default()->LowerThreadPoolCPUPriority(rocksdb::Env::LOW,
                                                        rocksdb::CpuPriority::kLow);
  }
  return a.bare ? RunBare(a) : RunStore(a);
}
