// http_bench: the service end to end over HTTP on loopback (issues 8 and 9).
//
// Starts the real `xiaohao serve` on a fresh data directory (which must not
// exist yet; put it on the disk being measured), adds one inspector per office
// and a county supervisor, then runs the clients of tests/adapters/http_load.h
// for --warmup + --seconds, each on one keep-alive connection:
//
//   --mode commands   durable commands only (opens and workflow commands, each
//                     client on its own cases, exact expected versions): the
//                     figure issue 8 compares with PostgreSQL's appends
//   --mode mixed      the load test's mix (issue 9): commands, stale versions
//                     (409), races on shared cases, idempotent retries, reads
//
// then stops the server with SIGTERM (it must exit 0) and checks every
// acknowledged command against the log (positions gap-free, each answered
// event where its answer said, no command written twice, nothing written by
// a refused request). Prints one line of key=value figures:
//
//   http mode=commands clients=16 server_threads=16 seconds=10.0 commands=.. commands_per_s=..
//        p50_us=.. p99_us=.. max_us=.. requests_per_s=.. req_p50_us=.. req_p99_us=.. ...
//
// --background-cpu low moves the server's RocksDB flush and compaction threads
// to the normal policy at the lowest priority once it is up, for runs under a
// real-time policy (scripts/bench BENCH_RT=1), as store_bench --background-cpu
// low does in its own process (see there for why).
//
// p50/p99/max are over write requests (commands and opens, retries and lost
// races included); req_* over every request. Exit 1 on any error or failed check.
//
//   http_bench --xiaohao build/xiaohao --workflows workflows --data /var/tmp/x/http
//              --mode commands --clients 16 --seconds 10
#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "adapters/users.h"
#include "store/clock.h"
#include "tests/adapters/http_load.h"

namespace {

int Usage(const char* what) {
  std::fprintf(stderr,
               "http_bench: %s\nusage: http_bench --xiaohao BIN --workflows DIR --data NEW_DIR [--mode commands|mixed]\n"
               "                  [--clients 16] [--seconds 10] [--warmup 1] [--threads 16] [--seed 1]\n"
               "                  [--background-cpu low|inherit]\n",
               what);
  return 2;
}

// What RocksDB's Env::LowerThreadPoolCPUPriority(kLow) does to its own
// threads (SCHED_OTHER, nice 19), done from outside to the server's threads,
// which that call cannot reach. Returns how many were moved, or -1 with *why.
int LowerServerBackgroundThreads(pid_t pid, std::string* why) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    *why = "cannot list " + dir + ": " + std::strerror(errno);
    return -1;
  }
  int moved = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string comm;
    std::getline(std::ifstream(dir + "/" + e->d_name + "/comm"), comm);
    if (comm.rfind("rocksdb:", 0) != 0) continue;
    const pid_t tid = static_cast<pid_t>(std::stol(e->d_name));
    sched_param p{};
    if (::sched_setscheduler(tid, SCHED_OTHER, &p) != 0 || ::setpriority(PRIO_PROCESS, tid, 19) != 0) {
      *why = "cannot lower thread " + std::to_string(tid) + " (" + comm + "): " + std::strerror(errno);
      ::closedir(d);
      return -1;
    }
    ++moved;
  }
  ::closedir(d);
  if (moved == 0) *why = "no rocksdb:* threads in " + dir;
  return moved;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace xiaohao;
  std::string binary, workflows, data, mode = "commands";
  int clients = 16, threads = 16;
  double seconds = 10, warmup = 1;
  uint64_t seed = 1;
  bool background_low = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return Usage(("missing value after " + a).c_str());
    std::string v = argv[++i];
    try {
      if (a == "--xiaohao") binary = v;
      else if (a == "--workflows") workflows = v;
      else if (a == "--data") data = v;
      else if (a == "--mode") mode = v;
      else if (a == "--clients") clients = std::stoi(v);
      else if (a == "--threads") threads = std::stoi(v);
      else if (a == "--seconds") seconds = std::stod(v);
      else if (a == "--warmup") warmup = std::stod(v);
      else if (a == "--seed") seed = std::stoull(v);
      else if (a == "--background-cpu" && (v == "low" || v == "inherit")) background_low = v == "low";
      else if (a == "--background-cpu") return Usage("--background-cpu takes low or inherit");
      else return Usage(("unknown option " + a).c_str());
    } catch (const std::exception&) {
      return Usage(("bad value for " + a + ": " + v).c_str());
    }
  }
  if (binary.empty() || workflows.empty() || data.empty()) return Usage("--xiaohao, --workflows and --data are required");
  if (mode != "commands" && mode != "mixed") return Usage("--mode must be commands or mixed");
  if (clients < 1 || threads < 1 || seconds <= 0 || warmup < 0) return Usage("counts and durations must be positive");
  if (::mkdir(data.c_str(), 0700) != 0)
    return Usage(("cannot create --data " + data + " (it must not exist): " + std::strerror(errno)).c_str());

  load::LoadOptions o;
  o.clients = clients;
  o.seconds = seconds;
  o.warmup_seconds = warmup;
  o.mix = mode == "mixed" ? load::Mix::kMixed : load::Mix::kCommands;
  o.seed = seed;
  const std::string users = UsersFilePath(data);
  const UnixMicros now = SystemClock::Default()->Now();
  const int64_t day = 86400LL * 1000000;
  auto add = [&](const std::string& id, const std::string& role, const std::string& unit) -> std::string {
    User u;
    u.id = id;
    u.role = role;
    u.unit = unit;
    auto t = AddUser(users, u, day, now);
    if (!t.ok()) {
      std::fprintf(stderr, "http_bench: adding user %s: %s\n", id.c_str(), t.status().ToString().c_str());
      std::exit(1);
    }
    return t->token;
  };
  for (const auto& office : load::Offices()) o.inspector_tokens[office] = add("bench." + office, "inspector", office);
  o.supervisor_token = add("bench.shizhu", "supervisor", "shizhu");

  uint16_t port = 0;
  pid_t pid = load::SpawnServe(binary, data, workflows, threads, &port);
  if (pid < 0) {
    std::fprintf(stderr, "http_bench: `%s serve` did not start\n", binary.c_str());
    return 1;
  }
  o.port = port;
  if (background_low) {
    std::string why;
    const int moved = LowerServerBackgroundThreads(pid, &why);
    if (moved <= 0) {
      std::fprintf(stderr, "http_bench: --background-cpu low: %s\n", why.c_str());
      load::StopServe(pid);
      return 1;
    }
    std::fprintf(stderr, "http_bench: %d RocksDB background threads of the server at normal policy, nice 19\n",
                 moved);
  }
  load::LoadResult r = load::RunLoad(o);
  int exit_code = load::StopServe(pid);
  load::LogCheck check = load::CheckLog(data, r.acknowledged);

  const double s = r.measured_seconds;
  std::printf(
      "http mode=%s clients=%d server_threads=%d seconds=%.1f commands=%llu commands_per_s=%.0f p50_us=%lld "
      "p99_us=%lld max_us=%lld requests=%llu requests_per_s=%.0f req_p50_us=%lld req_p99_us=%lld opens=%llu "
      "conflicts=%llu replays=%llu reads=%llu errors=%llu log_events=%llu acknowledged_events=%llu "
      "log_problems=%zu server_exit=%d\n",
      mode.c_str(), clients, threads, s, static_cast<unsigned long long>(r.commands), r.commands / s,
      static_cast<long long>(load::Percentile(r.command_us, 0.5)),
      static_cast<long long>(load::Percentile(r.command_us, 0.99)),
      static_cast<long long>(load::Percentile(r.command_us, 1.0)), static_cast<unsigned long long>(r.requests),
      r.requests / s, static_cast<long long>(load::Percentile(r.request_us, 0.5)),
      static_cast<long long>(load::Percentile(r.request_us, 0.99)), static_cast<unsigned long long>(r.opens),
      static_cast<unsigned long long>(r.conflicts), static_cast<unsigned long long>(r.replays),
      static_cast<unsigned long long>(r.reads), static_cast<unsigned long long>(r.errors),
      static_cast<unsigned long long>(check.events), static_cast<unsigned long long>(check.acknowledged_events),
      check.problems.size(), exit_code);
  for (const auto& [kind, n] : r.errors_by_kind)
    std::fprintf(stderr, "http_bench: %llu errors: %s\n", static_cast<unsigned long long>(n), kind.c_str());
  for (const auto& e : r.error_samples) std::fprintf(stderr, "http_bench: error: %s\n", e.c_str());
  for (const auto& p : check.problems) std::fprintf(stderr, "http_bench: log: %s\n", p.c_str());
  if (exit_code != 0) std::fprintf(stderr, "http_bench: the server exited %d after SIGTERM, not 0\n", exit_code);
  return r.errors == 0 && check.problems.empty() && exit_code == 0 ? 0 : 1;
}
