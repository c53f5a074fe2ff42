// ViewReader: a consistent read of the projection (engine/risk_projection.h)
// for reports, as of now or as of a past instant.
//
// - Now: the stored projection at its checkpoint, plus the log's tail after
//   it folded in memory (so a read-only process, which cannot run the
//   subscription, still sees every durable event). When no projection is
//   stored, or a rebuild was interrupted, the whole log is folded instead.
// - As of a record time T (`as_of`, what the system knew): the events with
//   recorded_at <= T, a prefix of the log (recorded_at never decreases
//   along it), folded from position 1.
// - As at a business time T (`as_at`, what had happened): the events with
//   occurred_at <= T, wherever they sit in the log. Both may be combined.
//
// Not thread-safe; one reader per request. The store must outlive it.
#ifndef XIAOHAO_ENGINE_VIEW_READER_H_
#define XIAOHAO_ENGINE_VIEW_READER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/risk_projection.h"

namespace xiaohao {

struct ViewTime {
  std::optional<UnixMicros> as_of;  // record time
  std::optional<UnixMicros> as_at;  // business time
  bool now() const { return !as_of && !as_at; }
  // Whether an event belongs to this view (REQUIRES: occurred_at parses).
  bool Keeps(const RecordedEvent& e) const { return Keeps(EventView::Of(e)); }
  bool Keeps(const EventView& e) const;
};

class ViewReader {
 public:
  static Result<std::unique_ptr<ViewReader>> Open(EventStore* store, const WorkflowRegistry* registry,
                                                  const ViewTime& time);

  // "projection" (stored keys + tail), or "log" (folded from position 1).
  const std::string& basis() const { return basis_; }
  // The last log position the view reflects (events past it, or filtered
  // out by the view's time, are not in it).
  uint64_t position() const { return position_; }

  // Every case summary, in no particular order. The visitor returns false to stop.
  Status ForEachCase(const std::function<bool(const CaseSummary&)>& visit);
  // One case; nullopt when the view does not know it.
  Result<std::optional<CaseSummary>> Case(const std::string& case_id);
  // The risk-list buckets ("<YYYYQn>/<office>" -> counts).
  Result<std::map<std::string, RiskCounts>> Buckets();
  // The same over only the risk items whose `dim` (one of
  // kBucketDimensions) is `value`; keys "<YYYYQn>/<office>" as Buckets().
  Result<std::map<std::string, RiskCounts>> DimensionBuckets(std::string_view dim, std::string_view value);
  // The enterprise register: code -> record (JSON text).
  Result<std::map<std::string, std::string>> Register();
  // Case ids naming an enterprise (the dossier index).
  Result<std::vector<std::string>> CasesOfEnterprise(const std::string& enterprise);

 private:
  Status StoredCounts(const std::string& key_prefix, std::map<std::string, RiskCounts>* out);
  ViewReader(EventStore* store, ProjectionState state, bool overlay, std::string basis, uint64_t position)
      : store_(store), state_(std::move(state)), overlay_(overlay), basis_(std::move(basis)), position_(position) {}

  EventStore* store_;
  ProjectionState state_;  // the whole view (log basis) or the tail over the stored keys
  bool overlay_;
  std::string basis_;
  uint64_t position_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_VIEW_READER_H_
