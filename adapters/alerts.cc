#include "adapters/alerts.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <mutex>

#include "store/time_format.h"

namespace xiaohao {

using json = nlohmann::json;

std::optional<json> AlertFromEvent(const RecordedEvent& e) {
  if (e.type.rfind("deadline.", 0) != 0) return std::nullopt;
  json p = json::parse(e.payload_json, nullptr, false);
  if (!p.is_object()) return std::nullopt;
  std::string kind, message;
  std::string name = p.value("deadline", std::string());
  std::string due = p.value("due_date", std::string());
  if (e.type == "deadline.warning") {
    kind = "warning";
    message = "期限将至：" + name + " 将于 " + due + " 24:00 届满";
  } else if (e.type == "deadline.escalated") {
    kind = "escalation";
    message = "逾期升级（第" + std::to_string(p.value("step", 0)) + "级）：" + name + " 已于 " + due +
              " 届满仍未办结，报 " + p.value("notify_unit_name", p.value("notify_unit", std::string()));
  } else if (e.type == "deadline.overdue" || p.contains("next_escalation_at")) {
    kind = "overdue";
    message = "已逾期：" + name + " 已于 " + due + " 24:00 届满";
  } else if (e.type == "deadline.overdue_corrected") {
    kind = "overdue_withdrawn";
    const std::string cause = p.value("cause", std::string("late_record"));
    if (cause == "extension_granted")
      message = "撤销逾期：" + name + " 已在期限届满前申请延期并获批准，期限延至 " +
                p.value("extended_due_date", std::string());
    else if (cause == "calendar_changed")
      message = "撤销逾期：节假日安排变更，" + name + " 期限改为 " + p.value("recomputed_due_date", std::string()) +
                "，尚未届满";
    else
      message = "撤销逾期：" + name + " 经补录，已于期限内办结";
  } else if (e.type == "deadline.recomputed") {
    kind = "deadline_recomputed";
    message = "节假日安排变更，期限 " + name + " 由 " + p.value("previous_due_date", std::string()) + " 改为 " + due;
  } else if ((e.type == "deadline.started" || e.type == "deadline.extended") && p.value("provisional", false)) {
    auto due_at = ParseRfc3339(p.value("due_at", std::string()));
    if (due_at.ok() && due_at->instant <= e.recorded_at) return std::nullopt;  // history, already past
    kind = "provisional_calendar";
    message = "缺少节假日安排：期限 " + name + " 暂按仅扣除周末计算为 " + due + "，请管理员加载该年度日历";
  } else {
    return std::nullopt;
  }
  json a = {{"id", "xh-alert-" + std::to_string(e.position)},
            {"kind", kind},
            {"case_id", e.stream_id},
            {"deadline", name},
            {"generation", p.value("generation", 0)},
            {"due_date", due},
            {"office", p.contains("office") ? p["office"] : json(e.actor.office)},
            {"message", message},
            {"occurred_at", e.occurred_at},
            {"recorded_at", FormatRfc3339Utc(e.recorded_at)},
            {"position", e.position},
            {"event_type", e.type},
            {"event_hash", HashToHex(e.hash)}};
  if (kind == "escalation") a["notify_unit"] = p.value("notify_unit", std::string());
  if (kind == "provisional_calendar") a["audience"] = "admin";
  return a;
}

namespace {
// What an outbox may be, and so what to give instead of anything else.
constexpr const char* kOutboxKinds =
    "the outbox must be a regular file (created if missing; each alert is synced to it) or a "
    "character device such as /dev/stdout (a stream, not synced); give a file path, e.g. "
    "<data>/alerts-outbox.jsonl";

// Only a regular file has a past to read: a device given as the outbox
// (/dev/zero, /dev/full) would be read for ever.
bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The position of the last line that parses as an alert: a line torn by a
// crash does not count. Read backwards from the end in chunks, so that a
// start does not parse years of alerts to find the last one.
uint64_t LastPositionInFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return 0;
  constexpr std::streamoff kChunk = 64 << 10;
  std::streamoff from = in.tellg();
  std::string tail;  // bytes [from, end of the lines not yet ruled out)
  while (from > 0) {
    const std::streamoff n = std::min(from, kChunk);
    from -= n;
    std::string chunk(static_cast<size_t>(n), '\0');
    in.seekg(from);
    if (!in.read(chunk.data(), n)) return 0;
    tail.insert(0, chunk);
    // Lines wholly in `tail`, last first; the first piece is whole only at
    // the start of the file.
    size_t end = tail.size();
    while (end > 0) {
      size_t nl = tail.rfind('\n', end - 1);
      if (nl == std::string::npos && from > 0) break;  // runs on before `from`
      size_t begin = nl == std::string::npos ? 0 : nl + 1;
      if (begin < end) {
        json j = json::parse(tail.begin() + static_cast<std::ptrdiff_t>(begin),
                             tail.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
        if (j.is_object() && j.contains("position") && j["position"].is_number_unsigned())
          return j["position"].get<uint64_t>();
      }
      if (nl == std::string::npos) break;
      end = nl;
    }
    tail.resize(end);  // what is left: the start of a line that began before `from`
  }
  return 0;
}

// The size of an open file, or -1.
off_t FileSize(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 ? st.st_size : -1;
}
}  // namespace

Result<std::unique_ptr<OutboxSink>> OutboxSink::Start(EventStore* store, const std::string& path,
                                                      const std::string& name) {
  std::unique_ptr<OutboxSink> sink(new OutboxSink());
  // A torn last line (killed mid-write) is not valid JSON: it is ignored here
  // and its alert written again whole after it.
  const bool regular = IsRegularFile(path);
  sink->last_written_ = regular ? LastPositionInFile(path) : 0;
  if (regular) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (in && in.tellg() > 0) {
      in.seekg(-1, std::ios::end);
      sink->torn_tail_ = in.get() != '\n';
    }
  }
  // O_NONBLOCK so that a FIFO nobody reads fails here (ENXIO) instead of
  // holding the service's start for ever; cleared once the kind is known.
  sink->fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0640);
  if (sink->fd_ < 0 && errno == ENXIO) {  // a FIFO without a reader, or a socket
    struct stat st;
    const bool fifo = ::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
    return Status::InvalidArgument("the alert outbox " + path + " is " +
                                       (fifo ? "a named pipe (FIFO) that no process reads" : "a socket") + "; " +
                                       kOutboxKinds,
                                   "--alert-outbox");
  }
  if (sink->fd_ < 0)
    return Status::IOError("cannot open the alert outbox " + path + ": " + std::strerror(errno) +
                           "; check the path and its directory's permissions");
  struct stat st;
  if (::fstat(sink->fd_, &st) != 0)
    return Status::IOError("cannot inspect the alert outbox " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
    const char* kind = S_ISFIFO(st.st_mode) ? "a named pipe (FIFO)" : S_ISSOCK(st.st_mode) ? "a socket"
                       : S_ISBLK(st.st_mode) ? "a block device" : "not a regular file";
    return Status::InvalidArgument("the alert outbox " + path + " is " + kind + "; " + kOutboxKinds,
                                   "--alert-outbox");
  }
  // A regular file is synced after every write, which is what makes an
  // alert in it durable. A character device is a stream with nothing of its
  // own to sync (fdatasync fails with EINVAL on /dev/null, a terminal):
  // syncing it would only make every batch fail and retry for ever.
  sink->sync_ = S_ISREG(st.st_mode);
  const int flags = fcntl(sink->fd_, F_GETFL);
  if (flags < 0 || fcntl(sink->fd_, F_SETFL, flags & ~O_NONBLOCK) != 0)
    return Status::IOError("cannot configure the alert outbox " + path + ": " + std::strerror(errno));
  OutboxSink* self = sink.get();
  auto sub = store->Subscribe(
      name,
      [self](const std::vector<RecordedEvent>& batch, AuxBatch&) -> Status { return self->Write(batch); },
      500);
  if (!sub.ok()) return sub.status();
  sink->sub_ = std::move(*sub);
  return sink;
}

Status OutboxSink::Write(const std::vector<RecordedEvent>& batch) {
  std::string out;
  for (const auto& e : batch) {
    if (e.position <= last_written_) continue;
    if (auto a = AlertFromEvent(e)) out += a->dump() + "\n";
  }
  if (out.empty()) return Status::OK();
  if (torn_tail_) out.insert(0, "\n");  // end the line a killed writer left unfinished
  // Measured now, not carried from the last sync: were the file shortened
  // meanwhile (rotated by copytruncate), a cut to the old size would pad it.
  const off_t start = FileSize(fd_);
  Status failed;
  for (size_t off = 0; off < out.size() && failed.ok();) {
    ssize_t n = write(fd_, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failed = Status::IOError(std::string("writing the alert outbox: ") + std::strerror(errno));
    else off += static_cast<size_t>(n);
  }
  if (failed.ok() && sync_ && fdatasync(fd_) != 0)
    failed = Status::IOError(std::string("syncing the alert outbox: ") + std::strerror(errno));
  if (!failed.ok()) {
    // The batch is retried (store/event_store.h Subscription::status). Cut
    // what this attempt left, a part of a line on a full disk or lines whose
    // sync failed, so that the retry writes each of them once and whole.
    // (What was in the file before this attempt was synced by an earlier
    // one, or found there at start.)
    // Where even that fails, the retry starts on a new line, and a receiver
    // that has seen some of its alerts already drops them by id.
    if (start < 0 || ftruncate(fd_, start) != 0) torn_tail_ = true;
    return failed;
  }
  last_written_ = batch.back().position;
  torn_tail_ = false;
  return Status::OK();
}

OutboxSink::~OutboxSink() {
  sub_.reset();
  if (fd_ >= 0) close(fd_);
}

namespace {
size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }
std::once_flag curl_once;
}  // namespace

Result<std::unique_ptr<WebhookSink>> WebhookSink::Start(EventStore* store, WebhookOptions options) {
  if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0)
    return Status::InvalidArgument("the alert webhook URL must start with http:// or https://, not '" +
                                   options.url + "'");
  if (options.timeout_ms <= 0 || options.first_backoff_ms <= 0 || options.max_backoff_ms < options.first_backoff_ms)
    return Status::InvalidArgument("the alert webhook's timeout and backoffs must be > 0 ms, the first backoff at most "
                                   "the largest (given timeout " + std::to_string(options.timeout_ms) + ", backoff " +
                                   std::to_string(options.first_backoff_ms) + ".." +
                                   std::to_string(options.max_backoff_ms) + ")");
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<WebhookSink> sink(new WebhookSink());
  sink->options_ = std::move(options);
  WebhookSink* self = sink.get();
  // A receiver that fails or cannot be reached fails the batch: the
  // subscription holds its checkpoint, says why (/healthz: retrying) and
  // retries the batch after a wait that doubles from first_backoff_ms to
  // max_backoff_ms (store/event_store.h Subscription::status).
  EventStore::SubscribeOptions so;
  so.max_batch = 100;
  so.retry_first_micros = self->options_.first_backoff_ms * 1000;
  so.retry_max_micros = self->options_.max_backoff_ms * 1000;
  auto sub = store->Subscribe(
      self->options_.name,
      [self](const std::vector<RecordedEvent>& batch, AuxBatch&) -> Status {
        for (const auto& e : batch) {
          // The batch comes again after a failure: what was delivered of it
          // is not sent twice by this sink.
          if (e.position <= self->last_delivered_) continue;
          if (auto a = AlertFromEvent(e)) {
            Status s = self->Post(a->dump());
            if (!s.ok()) {
              self->failures_++;
              return s.WithContext("delivering alert " + (*a)["id"].get<std::string>() + " to " +
                                   self->options_.url);
            }
            self->delivered_++;
          }
          self->last_delivered_ = e.position;
        }
        return Status::OK();
      },
      so);
  if (!sub.ok()) return sub.status();
  sink->sub_ = std::move(*sub);
  return sink;
}

WebhookSink::~WebhookSink() { sub_.reset(); }

Status WebhookSink::Post(const std::string& body) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json; charset=utf-8");
  curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return Status::IOError(std::string("webhook: ") + curl_easy_strerror(rc));
  if (code < 200 || code > 299) return Status::IOError("webhook answered HTTP " + std::to_string(code));
  return Status::OK();
}

}  // namespace xiaohao
