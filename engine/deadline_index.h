// DeadlineIndex: every open deadline, keyed by the instant it next fires.
//
// A CommitHook: it folds the deadline.* events of each append into the
// store's aux keyspace in the same atomic write as the events, so the index
// always reflects exactly the log up to its checkpoint, and start-up reads the
// index, not the whole history. The scheduler asks it what is due.
//
// What it reads (payloads as in engine/workflow.h):
//   deadline.started / .extended / .recomputed  -> open, next fire = warn_at
//                                                   (or due_at when warn_at is not earlier)
//   deadline.warning                             -> next fire = due_at
//   deadline.overdue (any on_expiry type that starts "deadline.")
//                                                -> next fire = next_escalation_at, or done
//   deadline.escalated                           -> next fire = next_escalation_at, or done
//   deadline.cleared                             -> closed
// Events of an older generation than the open one are ignored.
//
// Keys:  dlc/<case>\0<name>                -> entry (JSON)
//        dlq/<next fire, u64 BE µs><case>\0<name> -> ""   (the queue; not for done entries)
//        dld/<due instant, u64 BE µs><case>\0<name> -> ""  (for overdue/upcoming lists)
// Memory is bounded: nothing is held in RAM; Due() scans the queue's head.
#ifndef XIAOHAO_ENGINE_DEADLINE_INDEX_H_
#define XIAOHAO_ENGINE_DEADLINE_INDEX_H_

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/event_store.h"

namespace xiaohao {

// One open deadline as the index holds it.
struct IndexedDeadline {
  // kDone: overdue and every rung of the ladder fired; the deadline stays
  // open (and listed as overdue) until cleared, but nothing more fires.
  enum class Stage { kWarning, kOverdue, kEscalation, kDone };
  std::string case_id;
  std::string name;
  int generation = 0;
  Stage stage = Stage::kWarning;
  int escalation_step = 0;  // the step that fires next (1-based) when stage is kEscalation
  UnixMicros next_at = 0;   // when the next stage fires
  UnixMicros due_at = 0;    // 24:00 CST of the due date
  UnixMicros warn_at = 0;
  std::string due_date;     // YYYY-MM-DD
  bool provisional = false;
  nlohmann::json facts;     // the payload of the event that set it (start, period, basis, versions)

  nlohmann::json ToJson() const;
  static Result<IndexedDeadline> FromJson(const nlohmann::json& j);
};
const char* StageName(IndexedDeadline::Stage s);

class DeadlineIndex final : public CommitHook {
 public:
  // Reads go through the store the index is attached to (CommitHook::Attach):
  // create the index, pass it in StoreOptions::hooks, then open the store.
  DeadlineIndex() = default;

  std::string Name() const override { return "deadlines"; }
  Status OnEvents(const std::vector<RecordedEvent>& events, AuxWriter& aux) override;
  void Attach(EventStore* store) override { store_ = store; }

  // Called (on the committer thread) whenever a deadline's next fire is set,
  // so a waiting scheduler can wake earlier. Thread-safe; once it returns, the
  // previous callback is not running and will not be called again.
  // Arguments: the instant of the next firing, and the position of the event
  // that set it (not yet durable when the callback runs).
  void SetOnScheduled(std::function<void(UnixMicros, uint64_t)> f) {
    std::lock_guard<std::mutex> l(on_scheduled_mu_);
    on_scheduled_ = std::move(f);
  }

  // Deadlines whose next fire is at or before `now`, earliest first.
  Result<std::vector<IndexedDeadline>> Due(UnixMicros now, size_t limit) const;
  // The earliest next fire, if any.
  Result<std::optional<UnixMicros>> NextFire() const;
  // One open deadline.
  Result<std::optional<IndexedDeadline>> Find(const std::string& case_id,
                                              const std::string& name) const;
  // Every open deadline, in case order. The visitor returns false to stop.
  Status ForEach(const std::function<bool(const IndexedDeadline&)>& visitor) const;
  // Open deadlines whose due instant lies in [from, to), earliest first
  // (for "upcoming within 7 days" and "overdue" lists).
  Result<std::vector<IndexedDeadline>> DueBetween(UnixMicros from, UnixMicros to, size_t limit) const;
  // The same list resumed after the entry whose DueOrderKey is `after`
  // ("" = from the start), for paging through it.
  Result<std::vector<IndexedDeadline>> DueBetweenAfter(UnixMicros from, UnixMicros to, const std::string& after,
                                                       size_t limit) const;
  // An entry's place in the due-date order: the due instant (u64 BE µs),
  // then "<case>\0<name>". Opaque bytes; compare them only with each other.
  static std::string DueOrderKey(const IndexedDeadline& d);

  // Drops an entry the log no longer supports (a repair; the caller logs it).
  Status Remove(const IndexedDeadline& d);

 private:
  EventStore* store() const { return store_; }
  // The entries that queue or due-date `keys` point to (the ident
  // "<case>\0<name>" starts at ident_offset), in order; entries removed since
  // the keys were scanned are left out.
  Result<std::vector<IndexedDeadline>> Load(const std::vector<std::string>& keys, size_t ident_offset) const;
  EventStore* store_ = nullptr;  // set by Attach
  std::mutex on_scheduled_mu_;
  std::function<void(UnixMicros, uint64_t)> on_scheduled_;  // GUARDED_BY(on_scheduled_mu_)
};

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_DEADLINE_INDEX_H_
