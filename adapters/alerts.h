// Alerts: what offices, bureaus and administrators are told, and the sinks
// that deliver it.
//
// An alert is derived from one event of the log, so it has a stable id
// ("xh-alert-<position>") and a receiver can de-duplicate. The events that
// make alerts (engine/deadline_scheduler.h, engine/workflow.h):
//   deadline.warning               kind "warning"          before a deadline
//   deadline.overdue (on_expiry)   kind "overdue"
//   deadline.escalated             kind "escalation"       to the supervising unit
//   deadline.overdue_corrected     kind "overdue_withdrawn" a late record showed it was in time
//   deadline.started/.extended with provisional = true, recorded before its due date
//                                  kind "provisional_calendar" (to administrators:
//                                  the holiday calendar of a year is missing)
//   deadline.recomputed            kind "deadline_recomputed"
// Nothing else alerts, so an import of closed historical cases (whose
// deadlines were cleared in the same history) raises none.
//
// Sinks are store subscriptions: they resume from their checkpoint after a
// restart, so no alert is lost, and the receiver is not flooded with old ones.
// - OutboxSink appends JSON lines to a file and fsyncs before checkpointing.
//   At start it reads the last line's id and skips what the file already
//   holds, so a crash between the write and the checkpoint duplicates nothing.
//   A batch it fails to write (a full disk) is cut back off the file and
//   retried by the subscription, which holds its checkpoint until it passes.
// - WebhookSink POSTs each alert (libcurl) and checkpoints after a 2xx. A
//   failed POST fails the batch, which the subscription retries from its
//   checkpoint with exponential backoff (at-least-once; what was delivered
//   of the batch is not sent again by the same sink).
#ifndef XIAOHAO_ADAPTERS_ALERTS_H_
#define XIAOHAO_ADAPTERS_ALERTS_H_

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/event_store.h"

namespace xiaohao {

std::optional<nlohmann::json> AlertFromEvent(const RecordedEvent& e);

class OutboxSink {
 public:
  // Subscribes as "alerts-outbox" (or `name`). The file is created if missing.
  // A regular file or a character device (/dev/stdout: written, not synced);
  // anything else (a FIFO, a socket, a directory) is refused with an error
  // that says so, never waited on.
  static Result<std::unique_ptr<OutboxSink>> Start(EventStore* store, const std::string& path,
                                                   const std::string& name = "alerts-outbox");
  ~OutboxSink();
  Subscription* subscription() { return sub_.get(); }

 private:
  OutboxSink() = default;
  Status Write(const std::vector<RecordedEvent>& batch);  // the subscription's handler
  int fd_ = -1;
  uint64_t last_written_ = 0;  // position of the last alert already in the file
  bool torn_tail_ = false;     // the file does not end with a newline
  bool sync_ = true;           // a regular file (synced); false for a character device
  std::unique_ptr<Subscription> sub_;
};

struct WebhookOptions {
  std::string url;
  std::string name = "alerts-webhook";
  int64_t timeout_ms = 5000;        // per POST
  int64_t first_backoff_ms = 500;   // the wait after a first failure, doubled after each in a row
  int64_t max_backoff_ms = 60000;   // up to this
};

class WebhookSink {
 public:
  // Errors: kInvalidArgument for a URL that is not http(s) or timeouts and
  // backoffs that are not positive (or a first backoff over the largest).
  static Result<std::unique_ptr<WebhookSink>> Start(EventStore* store, WebhookOptions options);
  ~WebhookSink();  // stops the subscription, after a POST in flight (timeout_ms at most)
  Subscription* subscription() { return sub_.get(); }
  uint64_t delivered() const { return delivered_.load(); }
  uint64_t failures() const { return failures_.load(); }  // failed POSTs since Start, in all

 private:
  WebhookSink() = default;
  Status Post(const std::string& body);
  WebhookOptions options_;
  std::atomic<uint64_t> delivered_{0}, failures_{0};
  uint64_t last_delivered_ = 0;  // the subscription's thread only: position of the last event sent or passed over
  std::unique_ptr<Subscription> sub_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_ALERTS_H_
