// The HTTP workload shared by the load test (tests/adapters/load_test.cc) and
// the HTTP benchmark (bench/http_bench.cc): `xiaohao serve` started as a child
// process, N client threads each on one keep-alive loopback connection
// driving risk items through their workflow, and a check of every
// acknowledged command against the log afterwards.
//
// Two mixes:
//   kCommands  opens and workflow commands only, each client on its own case
//              with exact expected versions: nothing conflicts (issue 8).
//   kMixed     as kCommands, plus deliberately stale expected versions (409),
//              races between the clients of one office on a case they share
//              (one wins, the others 409 and reload), Idempotency-Key retries
//              (the first answer again, nothing written), and reads of cases,
//              events, the risk list and deadlines (issue 9).
// Every answer is checked against what the client knows (its own cases change
// only through it), and an answer other than the expected one is an error,
// counted with a sample. Latencies are kept for the measured window only
// (after the warm-up); acknowledged commands for the whole run.
//
// Header-only on purpose: a test and a bench program include it, and neither
// library should carry a load generator.
#ifndef XIAOHAO_TESTS_ADAPTERS_HTTP_LOAD_H_
#define XIAOHAO_TESTS_ADAPTERS_HTTP_LOAD_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/event_store.h"

namespace xiaohao::load {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Answer {
  int status = 0;  // 0: no answer (connection failed or closed early)
  std::string body;
  bool replayed = false;  // "Idempotency-Replayed: true"
  json Json() const { return json::parse(body, nullptr, false); }
};

// One keep-alive HTTP/1.1 connection to 127.0.0.1:port. A transport failure
// answers status 0 and closes; the next call connects again. Never retries a
// request by itself: a command sent twice would be a second command.
class Connection {
 public:
  explicit Connection(uint16_t port) : port_(port) {}
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Answer Call(const std::string& method, const std::string& target, const std::string& body,
              const Headers& headers) {
    Answer a;
    if (fd_ < 0 && !Connect()) return a;
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (method == "POST") req += "Content-Type: application/json\r\n";
    if (method == "POST" || !body.empty()) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    for (size_t off = 0; off < req.size();) {
      ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return Fail();
      off += static_cast<size_t>(n);
    }
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!Fill()) return Fail();
    if (buf_.compare(0, 9, "HTTP/1.1 ") != 0) return Fail();
    a.status = std::atoi(buf_.c_str() + 9);
    size_t length = 0;
    bool close = false;
    for (size_t line = buf_.find("\r\n") + 2; line < head_end;) {
      size_t eol = buf_.find("\r\n", line);
      std::string h = buf_.substr(line, eol - line);
      line = eol + 2;
      size_t colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string name = h.substr(0, colon), value = h.substr(colon + 1);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      value.erase(0, value.find_first_not_of(' '));
      if (name == "content-length") length = std::stoull(value);
      if (name == "connection" && (value == "close" || value == "Close")) close = true;
      if (name == "idempotency-replayed") a.replayed = value == "true";
      if (name == "transfer-encoding") return Fail();  // not sent by the service; not parsed here
    }
    while (buf_.size() < head_end + 4 + length)
      if (!Fill()) return Fail();
    a.body = buf_.substr(head_end + 4, length);
    buf_.erase(0, head_end + 4 + length);
    if (close) Close();
    return a;
  }

 private:
  bool Connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      Close();
      return false;
    }
    return true;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  bool Fill() {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  Answer Fail() {
    Close();
    return Answer{};
  }

  uint16_t port_;
  int fd_ = -1;
  std::string buf_;  // bytes received past the last answer
};

// Runs `<binary> serve` on data_dir with a kernel-chosen port; returns its pid
// (or -1, with no child left behind) and the port it printed. threads <= 0
// passes no --threads (the server's default). The child inherits stderr and
// the scheduling policy (so `chrt` on the caller covers the server too).
// Shared by the load test, the HTTP benchmark and the tests that run the
// real binary (service_http_test.cc, chain_head_log_test.cc).
inline pid_t SpawnServe(const std::string& binary, const std::string& data_dir, const std::string& workflows,
                        int threads, uint16_t* port) {
  const std::string t = std::to_string(threads);
  std::vector<const char*> argv{binary.c_str(), "serve",       "--data",      data_dir.c_str(),
                                "--listen",     "127.0.0.1:0", "--workflows", workflows.c_str()};
  if (threads > 0) argv.insert(argv.end(), {"--threads", t.c_str()});
  argv.push_back(nullptr);  // built before fork: the child only execs
  int out[2];
  if (::pipe(out) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    execv(binary.c_str(), const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  ::close(out[0]);
  const std::string prefix = "listening on http://127.0.0.1:";
  if (pid < 0 || line.rfind(prefix, 0) != 0) {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    return -1;
  }
  *port = static_cast<uint16_t>(std::stoi(line.substr(prefix.size())));
  return pid;
}

// SIGTERM, then the exit status as a shell shows it (128 + the signal when
// the server had died of one, e.g. 139 for SIGSEGV; -1 when waitpid failed).
inline int StopServe(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The ten offices of the sample jurisdiction (workflows/jurisdictions).
inline const std::vector<std::string>& Offices() {
  static const std::vector<std::string> k{"nanbin", "wanan", "xialu",  "sanhe", "xituo",
                                          "huangshui", "shazi", "mawu", "yuelai", "linxi"};
  return k;
}

enum class Mix { kCommands, kMixed };

struct LoadOptions {
  uint16_t port = 0;
  std::map<std::string, std::string> inspector_tokens;  // office -> token of an inspector there
  std::string supervisor_token;                          // a supervisor of the county (reads)
  int clients = 16;
  double warmup_seconds = 1;
  double seconds = 10;
  Mix mix = Mix::kCommands;
  uint64_t seed = 1;
};

struct LoadResult {
  // The measured window (after the warm-up).
  double measured_seconds = 0;
  uint64_t commands = 0;  // first 2xx answers to opens and commands: durable writes
  uint64_t opens = 0;
  uint64_t requests = 0;  // every request answered as expected
  uint64_t conflicts = 0;  // 409s expected (stale versions, lost races)
  uint64_t replays = 0;   // idempotent retries answered with the first answer
  uint64_t reads = 0;
  std::vector<int64_t> command_us;  // latency of every write request (commands, opens, retries, losers)
  std::vector<int64_t> request_us;  // of every request
  // The whole run, warm-up included.
  uint64_t errors = 0;
  std::vector<std::string> error_samples;  // the first few
  std::map<std::string, uint64_t> errors_by_kind;  // "<request kind> -> <status>" -> count
  std::vector<std::string> acknowledged;   // body of every first 2xx answer to an open or command
  std::vector<std::pair<std::string, std::string>> replay_pairs;  // (first body, retry body)
};

inline int64_t Percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

namespace internal {

inline std::string CstDate(int64_t days_from_now) {
  std::time_t t = std::time(nullptr) + 8 * 3600 + days_from_now * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[16];
  std::strftime(b, sizeof b, "%Y-%m-%d", &tm);
  return b;
}

struct CaseView {
  std::string id;
  uint64_t version = 0;
  std::string state;
};

// The next command of a risk item in `state` (empty when it is closed).
inline json NextCommand(const std::string& state, std::mt19937_64& rng, int client, uint64_t n) {
  const std::string today = CstDate(0), later = CstDate(30);
  const std::string tag = std::to_string(client) + "-" + std::to_string(n);
  if (state == "registered") return {{"command", "assign"}, {"payload", {{"assignee", "责任人-" + tag}}}};
  if (state == "assigned")
    return {{"command", "issue_rectification_notice"},
            {"payload", {{"notice_no", "石市监整〔2025〕" + tag + "号"}, {"rectify_by", later}, {"content", "补齐冷链温度记录"}}}};
  if (state == "rectifying")
    return {{"command", "report_rectification"}, {"payload", {{"report", "已安装温度记录仪并补录记录 " + tag}}}};
  if (state == "rectification_reported") {
    if (rng() % 3 == 0)
      return {{"command", "fail_verification"},
              {"payload",
               {{"method", "on_site"}, {"verified_on", today}, {"findings", "记录仍不完整"},
                {"notice_no", "石市监复〔2025〕" + tag + "号"}, {"rectify_by", later}}}};
    return {{"command", "pass_verification"},
            {"payload", {{"method", "desk_review"}, {"verified_on", today}, {"findings", "整改到位"}}}};
  }
  if (state == "verified") return {{"command", "close"}, {"payload", {{"basis", "跟踪检查通过，予以销号"}}}};
  return json();
}

inline json OpenBody(const std::string& office, int client, uint64_t n) {
  return {{"workflow", "risk_item"},
          {"payload",
           {{"source", "inspection"},
            {"office", office},
            {"enterprise", "91500240LOAD" + std::to_string(client % 7)},
            {"product_category", "体外诊断试剂"},
            {"risk_level", n % 3 == 0 ? "high" : (n % 3 == 1 ? "medium" : "low")},
            {"found_on", CstDate(0)},
            {"description", "负载测试：冷链储存温度记录缺失 " + std::to_string(client) + "-" + std::to_string(n)}}}};
}

// A case the clients of one office race on (kMixed).
struct SharedSlot {
  std::mutex mu;
  std::string case_id;  // GUARDED_BY(mu); empty while one client opens the next
};

class Client {
 public:
  Client(const LoadOptions& o, int index, std::vector<SharedSlot>* slots, std::atomic<bool>* measuring,
         std::atomic<bool>* stop)
      : o_(o), index_(index), office_index_(index % static_cast<int>(Offices().size())),
        office_(Offices()[office_index_]), conn_(o.port), rng_(o.seed * 7919 + static_cast<uint64_t>(index)),
        slots_(slots), measuring_(measuring), stop_(stop) {
    auth_ = {{"Authorization", "Bearer " + o.inspector_tokens.at(office_)}};
    sup_auth_ = {{"Authorization", "Bearer " + o.supervisor_token}};
  }

  void Run() {
    while (!stop_->load() && !gone_) {
      if (o_.mix == Mix::kCommands) {
        AdvanceOwn(/*keyed=*/false);
        continue;
      }
      int dice = static_cast<int>(rng_() % 100);
      if (dice < 45) AdvanceOwn(false);
      else if (dice < 50) StaleOwn();
      else if (dice < 58) AdvanceOwn(true);
      else if (dice < 70) Race();
      else if (dice < 80) ReadOwnCase();
      else if (dice < 87) ReadOwnEvents();
      else if (dice < 93) Get(sup_auth_, "/v1/risk-list?items=0");
      else Get(auth_, "/v1/deadlines?status=upcoming&within=60d");
    }
  }

  LoadResult result;

 private:
  using Clock = std::chrono::steady_clock;

  // Sends one request, times it, counts it if measuring.
  Answer Send(const std::string& method, const std::string& target, const std::string& body, const Headers& h,
              bool write) {
    auto t0 = Clock::now();
    Answer a = conn_.Call(method, target, body, h);
    int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    // A server that is gone answers nothing, at once: stop rather than spin
    // through thousands of identical errors.
    if (a.status == 0 && ++transport_failures_ >= 3) gone_ = true;
    if (a.status != 0) transport_failures_ = 0;
    counting_ = measuring_->load();
    if (counting_) {
      result.request_us.push_back(us);
      if (write) result.command_us.push_back(us);
    }
    return a;
  }
  void Count(uint64_t LoadResult::*field) {
    if (counting_) ++(result.*field);
  }
  // `what` starts with the kind of request ("open", "GET /v1/deadlines", ...),
  // the part before " on ", "?" or ":" that is counted per kind.
  void Error(const std::string& what, const Answer& a) {
    ++result.errors;
    std::string kind = what.substr(0, std::min({what.find(" on "), what.find('?'), what.find(':')}));
    ++result.errors_by_kind[kind + " -> " + std::to_string(a.status)];
    if (result.error_samples.size() < 10)
      result.error_samples.push_back(what + ": status " + std::to_string(a.status) + " " + a.body.substr(0, 300));
  }
  // A first 2xx answer to a write: acknowledged.
  void Ack(const Answer& a, bool open) {
    result.acknowledged.push_back(a.body);
    Count(&LoadResult::commands);
    Count(&LoadResult::requests);
    if (open) Count(&LoadResult::opens);
  }
  Headers With(const Headers& h, const std::string& key) {
    Headers out = h;
    if (!key.empty()) out.emplace_back("Idempotency-Key", key);
    return out;
  }
  std::string NewKey() { return "load-" + std::to_string(o_.seed) + "-" + std::to_string(index_) + "-" + std::to_string(++n_); }

  // Opens a case for this client's office; with `keyed`, under an
  // Idempotency-Key, and retries once to check the replay.
  bool Open(bool keyed, CaseView* out) {
    std::string body = OpenBody(office_, index_, ++n_).dump();
    std::string key = keyed ? NewKey() : "";
    Answer a = Send("POST", "/v1/cases", body, With(auth_, key), true);
    json j = a.Json();
    if (a.status != 201 || !j.is_object() || !j.contains("case_id")) {
      Error("open", a);
      return false;
    }
    Ack(a, true);
    out->id = j["case_id"];
    out->version = j["version"];
    out->state = j["state"];
    if (keyed) Replay("POST", "/v1/cases", body, key, a);
    return true;
  }

  // Sends the same keyed request again: the first answer, marked replayed.
  void Replay(const std::string& method, const std::string& target, const std::string& body, const std::string& key,
              const Answer& first) {
    Answer again = Send(method, target, body, With(auth_, key), true);
    if (again.status != first.status || again.body != first.body || !again.replayed) {
      Error("idempotent retry on " + target + " answered differently", again);
      return;
    }
    result.replay_pairs.emplace_back(first.body, again.body);
    Count(&LoadResult::replays);
    Count(&LoadResult::requests);
  }

  CaseView* OwnCase() {
    if (own_.id.empty() || own_.state == "closed") {
      CaseView c;
      bool keyed = o_.mix == Mix::kMixed && rng_() % 5 == 0;
      if (!Open(keyed, &c)) return nullptr;
      own_ = c;
      return nullptr;  // the open was this turn's request
    }
    return &own_;
  }

  void AdvanceOwn(bool keyed) {
    CaseView* c = OwnCase();
    if (c == nullptr) return;
    json cmd = NextCommand(c->state, rng_, index_, ++n_);
    cmd["expected_version"] = c->version;
    std::string target = "/v1/cases/" + c->id + "/commands", body = cmd.dump();
    std::string key = keyed ? NewKey() : "";
    Answer a = Send("POST", target, body, With(auth_, key), true);
    json j = a.Json();
    if (a.status != 200 || !j.is_object() || !j.contains("version")) {
      Error(cmd["command"].get<std::string>() + " on own case " + c->id, a);
      own_ = CaseView{};  // start afresh rather than repeat the error
      return;
    }
    Ack(a, false);
    c->version = j["version"];
    c->state = j["state"];
    if (keyed) Replay("POST", target, body, key, a);
  }

  // A deliberately stale expected version: 409 naming the current one.
  void StaleOwn() {
    CaseView* c = OwnCase();
    if (c == nullptr) return;
    json cmd = NextCommand(c->state, rng_, index_, ++n_);
    cmd["expected_version"] = c->version - 1;
    Answer a = Send("POST", "/v1/cases/" + c->id + "/commands", cmd.dump(), auth_, true);
    json j = a.Json();
    if (a.status != 409 || !j.is_object() || j["error"]["current_version"] != c->version) {
      Error("stale expected_version on own case " + c->id, a);
      return;
    }
    Count(&LoadResult::conflicts);
    Count(&LoadResult::requests);
  }

  // The next command on the office's shared case at the version this client
  // last saw: 200 when it was still current, else 409 and a reload.
  void Race() {
    SharedSlot& slot = (*slots_)[office_index_];
    std::string id;
    bool open_next = false;
    {
      std::lock_guard<std::mutex> lock(slot.mu);
      id = slot.case_id;
      if (id.empty()) {
        // Nobody holds the slot: this client opens the next shared case.
        slot.case_id = "-";
        open_next = true;
      }
    }
    if (open_next) {
      CaseView c;
      bool ok = Open(false, &c);
      std::lock_guard<std::mutex> lock(slot.mu);
      slot.case_id = ok ? c.id : "";
      if (ok) shared_[c.id] = c;
      return;
    }
    if (id.empty() || id == "-") return ReadOwnCase();
    auto it = shared_.find(id);
    if (it == shared_.end()) {
      if (!Reload(id)) return;
      it = shared_.find(id);
    }
    CaseView& c = it->second;
    if (c.state == "closed") {
      std::lock_guard<std::mutex> lock(slot.mu);
      if (slot.case_id == id) slot.case_id.clear();
      shared_.erase(id);
      return;
    }
    json cmd = NextCommand(c.state, rng_, index_, ++n_);
    cmd["expected_version"] = c.version;
    Answer a = Send("POST", "/v1/cases/" + id + "/commands", cmd.dump(), auth_, true);
    json j = a.Json();
    if (a.status == 200 && j.is_object() && j.contains("version")) {
      Ack(a, false);
      c.version = j["version"];
      c.state = j["state"];
    } else if (a.status == 409 && j.is_object() && j["error"]["current_version"].is_number() &&
               j["error"]["current_version"].get<uint64_t>() > c.version) {
      Count(&LoadResult::conflicts);
      Count(&LoadResult::requests);
      Reload(id);
    } else {
      Error(cmd["command"].get<std::string>() + " (race) on shared case " + id + " at version " +
                std::to_string(c.version),
            a);
      Reload(id);
    }
  }

  bool Reload(const std::string& id) {
    Answer a = Send("GET", "/v1/cases/" + id, "", auth_, false);
    json j = a.Json();
    if (a.status != 200 || !j.is_object() || !j.contains("version")) {
      Error("reading a shared case on " + id, a);
      return false;
    }
    Count(&LoadResult::reads);
    Count(&LoadResult::requests);
    shared_[id] = CaseView{id, j["version"].get<uint64_t>(), j["state"].get<std::string>()};
    return true;
  }

  // Reads of this client's own case must show exactly what it wrote.
  void ReadOwnCase() {
    CaseView* c = OwnCase();
    if (c == nullptr) return;
    Answer a = Send("GET", "/v1/cases/" + c->id, "", auth_, false);
    json j = a.Json();
    if (a.status != 200 || !j.is_object() || j["version"] != c->version || j["state"] != c->state) {
      Error("reading own case on " + c->id + " at version " + std::to_string(c->version), a);
      return;
    }
    Count(&LoadResult::reads);
    Count(&LoadResult::requests);
  }
  void ReadOwnEvents() {
    CaseView* c = OwnCase();
    if (c == nullptr) return;
    Answer a = Send("GET", "/v1/cases/" + c->id + "/events?limit=100", "", auth_, false);
    json j = a.Json();
    if (a.status != 200 || !j.is_object() || !j["events"].is_array() || j["events"].size() != c->version ||
        j["events"].back()["version"] != c->version) {
      Error("reading own events on " + c->id, a);
      return;
    }
    Count(&LoadResult::reads);
    Count(&LoadResult::requests);
  }
  void Get(const Headers& h, const std::string& target) {
    Answer a = Send("GET", target, "", h, false);
    if (a.status != 200 || !a.Json().is_object()) {
      Error("GET " + target, a);
      return;
    }
    Count(&LoadResult::reads);
    Count(&LoadResult::requests);
  }

  const LoadOptions& o_;
  int index_;
  int office_index_;
  std::string office_;
  Connection conn_;
  std::mt19937_64 rng_;
  std::vector<SharedSlot>* slots_;
  std::atomic<bool>* measuring_;
  std::atomic<bool>* stop_;
  Headers auth_, sup_auth_;
  CaseView own_;
  std::map<std::string, CaseView> shared_;
  bool counting_ = false;
  int transport_failures_ = 0;  // in a row
  bool gone_ = false;
  uint64_t n_ = 0;
};

}  // namespace internal

// Runs the clients for warmup_seconds + seconds against the server on
// options.port, then returns what they saw.
inline LoadResult RunLoad(const LoadOptions& o) {
  std::vector<internal::SharedSlot> slots(Offices().size());
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::unique_ptr<internal::Client>> clients;
  for (int i = 0; i < o.clients; ++i)
    clients.push_back(std::make_unique<internal::Client>(o, i, &slots, &measuring, &stop));
  std::vector<std::thread> threads;
  for (auto& c : clients) threads.emplace_back([&c]() { c->Run(); });
  auto sleep = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  sleep(o.warmup_seconds);
  auto t0 = std::chrono::steady_clock::now();
  measuring = true;
  sleep(o.seconds);
  measuring = false;
  auto t1 = std::chrono::steady_clock::now();
  stop = true;
  for (auto& t : threads) t.join();

  LoadResult r;
  r.measured_seconds = std::chrono::duration<double>(t1 - t0).count();
  for (auto& c : clients) {
    LoadResult& x = c->result;
    r.commands += x.commands;
    r.opens += x.opens;
    r.requests += x.requests;
    r.conflicts += x.conflicts;
    r.replays += x.replays;
    r.reads += x.reads;
    r.errors += x.errors;
    r.command_us.insert(r.command_us.end(), x.command_us.begin(), x.command_us.end());
    r.request_us.insert(r.request_us.end(), x.request_us.begin(), x.request_us.end());
    for (auto& [k, n] : x.errors_by_kind) r.errors_by_kind[k] += n;
    for (auto& s : x.error_samples)
      if (r.error_samples.size() < 10) r.error_samples.push_back(s);
    r.acknowledged.insert(r.acknowledged.end(), x.acknowledged.begin(), x.acknowledged.end());
    r.replay_pairs.insert(r.replay_pairs.end(), x.replay_pairs.begin(), x.replay_pairs.end());
  }
  return r;
}

// What the log says about the acknowledged commands.
struct LogCheck {
  uint64_t events = 0;              // in the log
  uint64_t acknowledged_events = 0;  // named by 2xx answers
  std::vector<std::string> problems;  // the first few; empty when all is well
  void Problem(const std::string& p) {
    if (problems.size() < 20) problems.push_back(p);
  }
};

// Opens the store at data_dir read-only (the server must have stopped, or be
// still running: read-only opens work beside a writer) and checks that
//   - positions run 1..head without a gap;
//   - every event named by an acknowledged answer is in the log at the
//     position the answer gave, with the same stream, version, type, command
//     id and hash;
//   - each acknowledged command id occurs in the log exactly as often as its
//     answer named events (written once, never again by a retry);
//   - every event written for a client request ("req-"/"idem-" command ids)
//     belongs to an acknowledged answer: refused requests wrote nothing.
inline LogCheck CheckLog(const std::string& data_dir, const std::vector<std::string>& acknowledged) {
  LogCheck check;
  StoreOptions so;
  so.path = data_dir;
  so.read_only = true;
  auto store = EventStore::Open(so);
  if (!store.ok()) {
    check.Problem("cannot open the store: " + store.status().ToString());
    return check;
  }
  std::map<uint64_t, RecordedEvent> log;
  std::map<std::string, uint64_t> per_command;
  uint64_t expect = 1;
  Status s = (*store)->ScanLog(1, [&](const RecordedEvent& e) {
    if (e.position != expect) check.Problem("gap: position " + std::to_string(e.position) + " after " + std::to_string(expect - 1));
    expect = e.position + 1;
    ++per_command[e.command_id];
    log[e.position] = e;
    return true;
  });
  if (!s.ok()) check.Problem("scanning the log: " + s.ToString());
  check.events = log.size();
  if ((*store)->DurableHead() != log.size())
    check.Problem("head " + std::to_string((*store)->DurableHead()) + " but " + std::to_string(log.size()) + " events");

  std::map<std::string, uint64_t> named;  // command id -> events its answer named
  for (const auto& body : acknowledged) {
    json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j["events"].is_array() || j["events"].empty()) {
      check.Problem("an acknowledged answer names no events: " + body.substr(0, 200));
      continue;
    }
    for (const auto& e : j["events"]) {
      ++check.acknowledged_events;
      uint64_t pos = e.value("position", uint64_t{0});
      std::string cid = e.value("command_id", "");
      ++named[cid];
      auto it = log.find(pos);
      if (it == log.end()) {
        check.Problem("acknowledged event at position " + std::to_string(pos) + " (" + e.value("stream_id", "") +
                      " v" + std::to_string(e.value("version", uint64_t{0})) + ") is not in the log");
        continue;
      }
      const RecordedEvent& r = it->second;
      if (r.stream_id != e.value("stream_id", "") || r.version != e.value("version", uint64_t{0}) ||
          r.type != e.value("type", "") || r.command_id != cid || HashToHex(r.hash) != e.value("hash", ""))
        check.Problem("position " + std::to_string(pos) + " holds " + r.stream_id + " v" + std::to_string(r.version) +
                      " " + r.type + ", not the acknowledged " + e.dump().substr(0, 200));
    }
  }
  for (const auto& [cid, n] : named)
    if (per_command[cid] != n)
      check.Problem("command " + cid + ": answered with " + std::to_string(n) + " events, the log holds " +
                    std::to_string(per_command[cid]));
  for (const auto& [cid, n] : per_command)
    if ((cid.rfind("req-", 0) == 0 || cid.rfind("idem-", 0) == 0) && !named.count(cid))
      check.Problem("command " + cid + " wrote " + std::to_string(n) + " events but no 2xx answer named it");
  return check;
}

}  // namespace xiaohao::load

#endif  // XIAOHAO_TESTS_ADAPTERS_HTTP_LOAD_H_
