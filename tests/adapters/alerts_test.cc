// Alert sinks: which events alert, the JSONL outbox, and the webhook's
// retries and checkpoint, against a small HTTP receiver on loopback.
#include "adapters/alerts.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "store/event_store.h"
#include "store/fault_injection.h"
#include "tests/test_util.h"

namespace xiaohao {
namespace {

using nlohmann::json;
using testing::TempDir;

// Answers the first `failures` POSTs with 500, then 200; or, given the
// numbers of the POSTs to refuse (counted from 1), those with 500. Keeps the
// bodies it accepted.
class Receiver {
 public:
  explicit Receiver(int failures) : Receiver(std::set<int>{}) { failures_left_ = failures; }
  explicit Receiver(std::set<int> refuse) : refuse_(std::move(refuse)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    REQUIRE(listen(fd_, 16) == 0);
    thread_ = std::thread([this] { Run(); });
  }
  ~Receiver() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/alerts"; }
  std::vector<json> accepted() {
    std::lock_guard<std::mutex> l(mu_);
    return accepted_;
  }
  int refused() const { return refused_.load(); }

 private:
  void Run() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      size_t body_at = std::string::npos, length = 0;
      while (true) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        if (body_at == std::string::npos && (body_at = req.find("\r\n\r\n")) != std::string::npos) {
          body_at += 4;
          auto cl = req.find("Content-Length: ");
          if (cl == std::string::npos) cl = req.find("content-length: ");
          length = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
        }
        if (body_at != std::string::npos && req.size() >= body_at + length) break;
      }
      const int number = ++posts_;
      bool fail = failures_left_.fetch_sub(1) > 0 || refuse_.count(number) > 0;
      std::string answer = fail ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      if (fail) {
        refused_++;
      } else if (body_at != std::string::npos) {
        std::lock_guard<std::mutex> l(mu_);
        accepted_.push_back(json::parse(req.substr(body_at, length), nullptr, false));
      }
      (void)!write(c, answer.data(), answer.size());
      close(c);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> failures_left_{0};
  const std::set<int> refuse_;
  std::atomic<int> posts_{0};
  std::atomic<int> refused_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<json> accepted_;
  std::thread thread_;
};

void AppendDeadlineEvents(EventStore& store, int from, int n) {
  for (int i = from; i < from + n; ++i) {
    AppendRequest r;
    r.command_id = "c" + std::to_string(i);
    std::string stream = "online_sales_lead-" + std::to_string(i);
    r.events.push_back({stream, "online_sales_lead.received", "2025-09-26T16:00:00+08:00", {"u", "inspector", "nanbin"},
                        R"({"command":"receive","data":{}})"});
    r.events.push_back({stream, "deadline.overdue", "2025-11-18T00:00:00+08:00", {"scheduler", "system", "nanbin"},
                        R"({"deadline":"investigation","generation":1,"due_date":"2025-11-17","office":"nanbin","next_escalation_at":null})"});
    REQUIRE(store.Append(r).ok());
  }
}

// A store in `dir`/db, with the default options.
std::unique_ptr<EventStore> OpenStoreIn(const TempDir& dir) {
  StoreOptions o;
  o.path = dir.Sub("db");
  auto s = EventStore::Open(o);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

// The outbox's lines: ids of those that parse, and how many do not.
struct OutboxLines {
  std::vector<std::string> ids;
  int unparsed = 0;
};
OutboxLines ReadOutbox(const std::string& path) {
  OutboxLines out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      ++out.unparsed;
      continue;
    }
    out.ids.push_back(j["id"]);
  }
  return out;
}

// Holds this process's files to `bytes` (RLIMIT_FSIZE): a write past it
// fails with EFBIG, as on a full disk, after writing what fits. The store
// under test is in memory, so only the outbox feels it; so would a report
// written to a file (-o) while it holds, which is why it holds briefly.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_) == 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // else the write kills the process
    rlimit now = old_;
    now.rlim_cur = bytes;
    if (setrlimit(RLIMIT_FSIZE, &now) != 0) std::signal(SIGXFSZ, old_handler_);
    else held_ = true;
    REQUIRE(held_);
  }
  ~FileSizeLimit() { Lift(); }
  void Lift() {
    if (!held_) return;
    held_ = false;
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
  bool held_ = false;
};

off_t SizeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

}  // namespace

TEST_CASE("alerts: which events alert, with stable ids", "[alerts]") {
  RecordedEvent e;
  e.position = 42;
  e.stream_id = "online_sales_lead-1";
  e.type = "deadline.warning";
  e.payload_json = R"({"deadline":"investigation","generation":1,"due_date":"2025-11-17","office":"nanbin"})";
  auto a = AlertFromEvent(e);
  REQUIRE(a);
  CHECK((*a)["id"] == "xh-alert-42");
  CHECK((*a)["kind"] == "warning");
  CHECK((*a)["office"] == "nanbin");
  e.type = "online_sales_lead.received";
  CHECK_FALSE(AlertFromEvent(e));
  // A provisional deadline alerts the administrators, unless it was already past when recorded (history).
  e.type = "deadline.started";
  e.recorded_at = 1700000000000000;  // 2023-11-14
  e.payload_json = R"({"deadline":"investigation","generation":1,"due_date":"2027-02-08","due_at":"2027-02-09T00:00:00+08:00","provisional":true})";
  auto p = AlertFromEvent(e);
  REQUIRE(p);
  CHECK((*p)["kind"] == "provisional_calendar");
  CHECK((*p)["audience"] == "admin");
  e.recorded_at = 1900000000000000;  // 2030: the due date had passed
  CHECK_FALSE(AlertFromEvent(e));
  e.payload_json = R"({"deadline":"investigation","generation":1,"due_date":"2027-02-08","due_at":"2027-02-09T00:00:00+08:00","provisional":false})";
  e.recorded_at = 1700000000000000;
  CHECK_FALSE(AlertFromEvent(e));
  // A withdrawn overdue notice says why it was withdrawn.
  e.type = "deadline.overdue_corrected";
  for (auto [payload, says] :
       {std::pair{R"({"deadline":"investigation","generation":1,"due_date":"2025-11-17","cause":"late_record"})",
                  "经补录"},
        {R"({"deadline":"investigation","generation":1,"due_date":"2025-11-17"})", "经补录"},
        {R"({"deadline":"investigation","generation":1,"due_date":"2025-11-17","cause":"extension_granted","extended_due_date":"2025-12-05"})",
         "申请延期并获批准，期限延至 2025-12-05"},
        {R"({"deadline":"investigation","generation":1,"due_date":"2027-02-08","cause":"calendar_changed","recomputed_due_date":"2027-02-15"})",
         "节假日安排变更，investigation 期限改为 2027-02-15"}}) {
    e.payload_json = payload;
    auto w = AlertFromEvent(e);
    REQUIRE(w);
    CHECK((*w)["kind"] == "overdue_withdrawn");
    CHECK_THAT((*w)["message"].get<std::string>(), Catch::Contains(says));
  }
}

TEST_CASE("alerts: the webhook retries until 2xx, delivers each alert, and resumes from its checkpoint", "[alerts]") {
  TempDir dir;
  auto owned = OpenStoreIn(dir);
  EventStore& store = *owned;
  AppendDeadlineEvents(store, 0, 5);
  Receiver receiver(3);  // the first three POSTs fail
  WebhookOptions wo;
  wo.url = receiver.url();
  wo.first_backoff_ms = 10;
  wo.max_backoff_ms = 40;
  {
    auto sink = WebhookSink::Start(&store, wo);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->subscription()->WaitFor(store.DurableHead(), 20000000));
    CHECK((*sink)->delivered() == 5);
    CHECK((*sink)->failures() == 3);
  }
  CHECK(receiver.refused() == 3);
  auto got = receiver.accepted();
  REQUIRE(got.size() == 5);
  std::set<std::string> ids;
  for (const auto& a : got) ids.insert(a["id"].get<std::string>());
  CHECK(ids.size() == 5);
  CHECK(got[0]["kind"] == "overdue");
  // A restart delivers only what is new: the receiver is not flooded.
  AppendDeadlineEvents(store, 5, 2);
  {
    auto sink = WebhookSink::Start(&store, wo);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->subscription()->WaitFor(store.DurableHead(), 20000000));
    CHECK((*sink)->delivered() == 2);
  }
  CHECK(receiver.accepted().size() == 7);
}

TEST_CASE("alerts: a receiver that fails mid-batch holds the webhook, retrying, and gets nothing twice",
          "[alerts]") {
  TempDir dir;
  auto owned = OpenStoreIn(dir);
  EventStore& store = *owned;
  AppendDeadlineEvents(store, 0, 5);  // one batch: five alerts
  Receiver receiver({2, 3, 4});       // the 2nd alert is refused three times
  WebhookOptions wo;
  wo.url = receiver.url();
  wo.first_backoff_ms = 50;
  wo.max_backoff_ms = 200;
  auto sink = WebhookSink::Start(&store, wo);
  REQUIRE(sink.ok());
  Subscription* sub = (*sink)->subscription();
  // While the receiver refuses, the webhook says so, at its checkpoint.
  Status seen;
  uint64_t most_failures = 0;
  for (int i = 0; i < 400 && sub->Checkpoint() < store.DurableHead(); ++i) {
    if (!sub->status().ok()) seen = sub->status();
    most_failures = std::max(most_failures, sub->failures());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(sub->WaitFor(store.DurableHead(), 20'000'000));
  CHECK(most_failures >= 1);
  CHECK_THAT(seen.message(), Catch::Contains("webhook answered HTTP 500") && Catch::Contains("delivering alert xh-alert-"));
  CHECK(sub->status().ok());
  CHECK(sub->failures() == 0);
  CHECK((*sink)->failures() == 3);
  CHECK((*sink)->delivered() == 5);
  // Each retry read the batch again from the checkpoint; the first alert,
  // delivered before the failure, was not sent again.
  auto got = receiver.accepted();
  std::vector<std::string> ids;
  for (const auto& a : got) ids.push_back(a["id"].get<std::string>());
  CHECK(ids.size() == 5);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 5);
  CHECK(std::is_sorted(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    return std::stoull(a.substr(9)) < std::stoull(b.substr(9));  // "xh-alert-<position>"
  }));
}

TEST_CASE("alerts: webhook timeouts and backoffs that cannot work are refused", "[alerts]") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  for (auto [timeout, first, max] : {std::tuple{0, 500, 60000}, {5000, 0, 60000}, {5000, 500, 100}, {5000, -1, 100}}) {
    WebhookOptions wo;
    wo.url = "http://127.0.0.1:1/alerts";
    wo.timeout_ms = timeout;
    wo.first_backoff_ms = first;
    wo.max_backoff_ms = max;
    auto sink = WebhookSink::Start(store.get(), wo);
    REQUIRE_FALSE(sink.ok());
    CHECK(sink.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(sink.status().message(), Catch::Contains("must be > 0 ms"));
  }
}

TEST_CASE("alerts: a webhook URL that is not http(s) is refused", "[alerts]") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  WebhookOptions wo;
  wo.url = "ftp://example/alerts";
  auto sink = WebhookSink::Start(store.get(), wo);
  REQUIRE_FALSE(sink.ok());
  CHECK_THAT(sink.status().message(), Catch::Contains("http://"));
}

TEST_CASE("alerts: an outbox that is not a file or a device is refused at once, saying what to give instead",
          "[alerts]") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  AppendDeadlineEvents(*store, 0, 1);
  auto refused = [&](const std::string& path) {
    auto sink = OutboxSink::Start(store.get(), path);  // must return, not wait for a reader
    REQUIRE_FALSE(sink.ok());
    return sink.status();
  };
  const std::string fifo = dir.Sub("alerts.fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  Status no_reader = refused(fifo);
  CHECK(no_reader.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(no_reader.message(), Catch::Contains("named pipe (FIFO) that no process reads") &&
                                      Catch::Contains("must be a regular file") &&
                                      Catch::Contains("alerts-outbox.jsonl"));
  {
    // With a reader the open would succeed, but a pipe cannot be synced,
    // and what a reader took is not in the outbox for the next one.
    int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    REQUIRE(reader >= 0);
    CHECK_THAT(refused(fifo).message(), Catch::Contains("is a named pipe (FIFO); the outbox must be"));
    close(reader);
  }
  const std::string sock_path = dir.Sub("alerts.sock");
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(sock_path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  REQUIRE(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  CHECK_THAT(refused(sock_path).message(), Catch::Contains("is a socket; the outbox must be a regular file"));
  close(sock);
  CHECK_THAT(refused(dir.Sub("db")).message(),
             Catch::Contains("cannot open the alert outbox") && Catch::Contains("Is a directory"));
  // Nothing was written or checkpointed by the refused starts.
  auto checkpoint = store->SubscriptionCheckpoint("alerts-outbox");
  CHECK((!checkpoint.ok() || *checkpoint == 0));
}

TEST_CASE("alerts: an outbox on a character device is written as a stream, without a sync that cannot succeed",
          "[alerts]") {
  if (::access("/dev/null", W_OK) != 0) {
    WARN("no writable /dev/null here");
    return;
  }
  TempDir dir;
  auto store = OpenStoreIn(dir);
  AppendDeadlineEvents(*store, 0, 3);
  auto sink = OutboxSink::Start(store.get(), "/dev/null");
  INFO(sink.status().ToString());
  REQUIRE(sink.ok());
  Subscription* sub = (*sink)->subscription();
  // fdatasync on /dev/null fails with EINVAL: were it called, this batch
  // would fail and be retried for ever, and the wait below time out.
  CHECK(sub->WaitFor(store->DurableHead(), 10'000'000));
  CHECK(sub->failures() == 0);
  CHECK(sub->status().ok());
}

TEST_CASE("alerts: the outbox gets each alert once across restarts, and a torn last line is repaired", "[alerts]") {
  TempDir dir;
  auto owned = OpenStoreIn(dir);
  EventStore& store = *owned;
  std::string path = dir.Sub("outbox.jsonl");
  AppendDeadlineEvents(store, 0, 3);
  {
    auto sink = OutboxSink::Start(&store, path);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->subscription()->WaitFor(store.DurableHead(), 10000000));
  }
  // A writer killed mid-line leaves a torn tail.
  std::ofstream(path, std::ios::app) << R"({"id":"xh-alert-9)";
  AppendDeadlineEvents(store, 3, 2);
  {
    auto sink = OutboxSink::Start(&store, path);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->subscription()->WaitFor(store.DurableHead(), 10000000));
  }
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> ids;
  int torn = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      ++torn;
      continue;
    }
    ids.push_back(j["id"]);
  }
  CHECK(torn == 1);
  REQUIRE(ids.size() == 5);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 5);
}

TEST_CASE("alerts: the outbox on a full disk holds its checkpoint, and once there is room writes each alert once and whole",
          "[alerts][faults]") {
  auto fs = FaultInjectionEnv::Create(/*in_memory=*/true);
  TempDir dir;
  StoreOptions o;
  o.path = "/in-memory/db";
  o.env = fs->env();
  o.subscription_retry_first_micros = 20'000;
  o.subscription_retry_max_micros = 80'000;
  auto s = EventStore::Open(o);
  REQUIRE(s.ok());
  EventStore& store = **s;
  const std::string path = dir.Sub("outbox.jsonl");
  AppendDeadlineEvents(store, 0, 3);
  auto sink = OutboxSink::Start(&store, path);
  REQUIRE(sink.ok());
  Subscription* sub = (*sink)->subscription();
  REQUIRE(sub->WaitFor(store.DurableHead(), 10'000'000));
  const off_t before = SizeOf(path);
  REQUIRE(ReadOutbox(path).ids.size() == 3);
  const uint64_t held = sub->Checkpoint();
  {
    // Room for part of one more line: each attempt writes that part and
    // fails on the rest.
    FileSizeLimit full(static_cast<rlim_t>(before) + 150);
    AppendDeadlineEvents(store, 3, 2);
    for (int i = 0; i < 500 && sub->failures() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(sub->failures() >= 3);
    CHECK(sub->Checkpoint() == held);
    CHECK(*store.SubscriptionCheckpoint("alerts-outbox") == held);
    CHECK_THAT(sub->status().message(), Catch::Contains("writing the alert outbox") &&
                                            Catch::Contains("File too large"));
    full.Lift();
  }
  // The same sink, not restarted, catches up.
  REQUIRE(sub->WaitFor(store.DurableHead(), 10'000'000));
  CHECK(sub->status().ok());
  CHECK(sub->failures() == 0);
  OutboxLines lines = ReadOutbox(path);
  CHECK(lines.unparsed == 0);  // the parts of lines were cut, not left in the file
  REQUIRE(lines.ids.size() == 5);
  CHECK(std::set<std::string>(lines.ids.begin(), lines.ids.end()).size() == 5);
}

TEST_CASE("alerts: a restarted outbox finds its last alert from the end of a long file, past lines that do not parse",
          "[alerts]") {
  // The outbox reads the file backwards in 64 KiB pieces. Two layouts: a
  // broken line longer than a piece, and the last alert split across the
  // start of the first piece read.
  for (const bool split_last_alert : {false, true}) {
    INFO((split_last_alert ? "the last alert across a boundary" : "a broken line over 64 KiB"));
    TempDir dir;
    auto owned = OpenStoreIn(dir);
    EventStore& store = *owned;
    const std::string path = dir.Sub("outbox.jsonl");
    AppendDeadlineEvents(store, 0, 300);  // about 100 KB of alerts: more than one piece
    {
      auto sink = OutboxSink::Start(&store, path);
      REQUIRE(sink.ok());
      REQUIRE((*sink)->subscription()->WaitFor(store.DurableHead(), 10'000'000));
    }
    const off_t size = SizeOf(path);
    REQUIRE(size > (64 << 10));
    std::string last_line;
    {
      std::ifstream in(path);
      for (std::string line; std::getline(in, line);) last_line = line;
    }
    const std::string torn = R"({"id":"xh-al)";
    // The first piece begins 64 KiB before the end: in the middle of the
    // last alert when the broken line and the torn one fill the rest.
    const size_t broken = split_last_alert ? (64 << 10) - torn.size() - 1 - last_line.size() / 2 : 100 << 10;
    std::ofstream(path, std::ios::app) << std::string(broken, 'x') << "\n" << torn;
    if (split_last_alert) {
      const off_t boundary = SizeOf(path) - (64 << 10);
      REQUIRE(boundary > size - static_cast<off_t>(last_line.size()));
      REQUIRE(boundary < size);
    }
    AppendDeadlineEvents(store, 300, 2);
    {
      auto sink = OutboxSink::Start(&store, path);
      REQUIRE(sink.ok());
      REQUIRE((*sink)->subscription()->WaitFor(store.DurableHead(), 10'000'000));
    }
    OutboxLines lines = ReadOutbox(path);
    CHECK(lines.unparsed == 2);
    REQUIRE(lines.ids.size() == 302);  // a start that missed the last alert would write them all again
    CHECK(std::set<std::string>(lines.ids.begin(), lines.ids.end()).size() == 302);
  }
}

}  // namespace xiaohao
