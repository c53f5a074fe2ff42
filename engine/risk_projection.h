// The supervisor views' projection (风险清单 and friends), kept in the
// store's aux keyspace under "rl/" and maintained from the log.
//
// Keys (all under kPrefix = "rl/"):
//   rl/c/<case id>                      -> CaseSummary (binary, engine/case_summary.h)
//   rl/a/<YYYYQn>/<office>              -> RiskCounts of the risk items opened
//                                          in that quarter whose unit is office
//   rl/d/<dim> \0 <value> \0 <YYYYQn>/<office>
//                                       -> the same RiskCounts over only the items
//                                          whose <dim> (source | risk_level |
//                                          product_category) is <value>, so that a
//                                          risk list filtered by one of them reads
//                                          buckets, not every case summary
//   rl/e/<enterprise> \0 <case id>      -> ""  (supervision dossier index)
//   rl/r/<enterprise>                   -> the enterprise register record (JSON)
//   rl/checkpoint                       -> last folded position (decimal)
//   rl/rebuilding                       -> present while a rebuild is under way
//   rl/format                           -> kProjectionFormat; a projection written
//                                          by an older build is rebuilt on start
//
// The fold is a pure function of the log prefix: the same events give the
// same keys, whether folded in batches of one or all at once
// (tests/engine/risk_projection_test.cc proves rebuild == incremental).
// Enterprise register events: stream "$enterprise-<code>", type
// "enterprise.registered", payload = the register record (adapters/enterprise_import).
//
// Thread safety: ProjectionState is single-threaded. RiskListProjection's
// Start/Stop/Rebuild are called from one thread; the subscription runs on
// the store's thread.
#ifndef XIAOHAO_ENGINE_RISK_PROJECTION_H_
#define XIAOHAO_ENGINE_RISK_PROJECTION_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/case_summary.h"
#include "engine/workflow_registry.h"
#include "store/event_store.h"

namespace xiaohao {

inline constexpr char kProjectionPrefix[] = "rl/";
inline constexpr char kCaseKeyPrefix[] = "rl/c/";
inline constexpr char kBucketKeyPrefix[] = "rl/a/";
inline constexpr char kDossierKeyPrefix[] = "rl/e/";
inline constexpr char kRegisterKeyPrefix[] = "rl/r/";
inline constexpr char kProjectionCheckpointKey[] = "rl/checkpoint";
inline constexpr char kProjectionRebuildingKey[] = "rl/rebuilding";
inline constexpr char kDimensionBucketKeyPrefix[] = "rl/d/";
inline constexpr char kProjectionFormatKey[] = "rl/format";
// 2: dimension buckets (rl/d/). Bump when the keys change meaning.
inline constexpr char kProjectionFormat[] = "2";

// The case fields a risk list can be filtered by that have buckets of their
// own (rl/d/). The others (enterprise, state) are answered from summaries.
inline constexpr const char* kBucketDimensions[] = {"source", "risk_level", "product_category"};
// The value of one of kBucketDimensions in a summary.
const std::string& DimensionValue(const CaseSummary& s, std::string_view dim);
// The key under kDimensionBucketKeyPrefix, and its prefix for one value.
std::string DimensionBucketKey(std::string_view dim, std::string_view value, std::string_view bucket);
std::string DimensionValuePrefix(std::string_view dim, std::string_view value);
inline constexpr char kEnterpriseStreamPrefix[] = "$enterprise-";
inline constexpr char kEnterpriseRegistered[] = "enterprise.registered";

// Counts of risk items (风险清单) of one unit and quarter, or a roll-up.
struct RiskCounts {
  int64_t opened = 0;    // 发现（列入清单）
  int64_t closed = 0;    // 已销号
  int64_t referred = 0;  // 移送稽查/公安
  int64_t open = 0;      // 未销号 (neither closed nor referred)
  int64_t overdue = 0;   // open with an overdue deadline
  std::map<int64_t, int64_t> close_days;  // days from opening to closure -> items

  void Add(const RiskCounts& o, int sign = 1);
  bool zero() const;
  double closure_rate() const { return opened == 0 ? 0.0 : static_cast<double>(closed) / opened; }
  // Median days to close (the mean of the two middle values for an even
  // count); nullopt when nothing was closed.
  std::optional<double> median_days_to_close() const;
  std::string Encode() const;
  static Result<RiskCounts> Decode(const std::string& text);
  bool operator==(const RiskCounts& o) const;
};

// What one case contributes to its bucket: nothing unless it is a risk item
// that exists and was not voided.
RiskCounts ContributionOf(const CaseSummary& s);
// "<YYYYQn>/<office>", or "" when the case contributes to no bucket.
std::string BucketOf(const CaseSummary& s);

// A working set of summaries and buckets over a base (the stored projection,
// or nothing). Apply folds events; WriteTo emits what changed.
class ProjectionState {
 public:
  // Reads a key of the base; an empty function means an empty base (a rebuild).
  using Loader = std::function<Result<std::optional<std::string>>(const std::string& key)>;
  ProjectionState(const WorkflowRegistry* registry, Loader loader)
      : registry_(registry), loader_(std::move(loader)) {}

  // REQUIRES: events in log order, each once.
  Status Apply(const RecordedEvent& e);
  // The same fold over an event read in place (EventStore::ScanLogRaw).
  Status Apply(const EventView& e);
  uint64_t last_position() const { return last_position_; }

  // The changed keys, as aux writes (buckets that fall to zero are deleted).
  // WriteTo = WriteCasesTo (summaries, dossier index) + WriteSharedTo
  // (buckets, register).
  void WriteTo(AuxBatch* batch) const;
  void WriteCasesTo(AuxBatch* batch) const;
  void WriteSharedTo(AuxBatch* batch) const;

  // Adds the buckets and register records of a state folded over other
  // streams of the same log prefix (a partition of a rebuild): buckets are
  // sums over cases, so the sum over partitions is the whole fold's.
  void MergeShared(const ProjectionState& other);
  // Frees the case summaries once they are written (WriteCasesTo); the
  // buckets and register records stay.
  void ReleaseCases() { std::unordered_map<std::string, Touched>().swap(cases_); }

  struct Touched {
    CaseSummary summary;
    std::string base_enterprise;  // the enterprise in the base, for the dossier index
  };
  const std::unordered_map<std::string, Touched>& cases() const { return cases_; }
  const std::map<std::string, RiskCounts>& buckets() const { return buckets_; }
  // Keyed as DimensionBucketKey (without kDimensionBucketKeyPrefix).
  const std::map<std::string, RiskCounts>& dimension_buckets() const { return dim_buckets_; }
  const std::map<std::string, std::string>& register_records() const { return register_; }

 private:
  Result<CaseSummary*> LoadCase(std::string_view id);
  // The counts under `key` in `counts`, read from the base (prefix + key) on first use.
  Result<RiskCounts*> LoadCounts(std::map<std::string, RiskCounts>& counts, const char* prefix,
                                 const std::string& key);
  Result<RiskCounts*> LoadBucket(const std::string& key);
  Result<RiskCounts*> LoadDimensionBucket(const std::string& key);

  const WorkflowRegistry* registry_;
  Loader loader_;
  std::unordered_map<std::string, Touched> cases_;
  std::map<std::string, RiskCounts> buckets_;
  std::map<std::string, RiskCounts> dim_buckets_;
  std::map<std::string, std::string> register_;  // enterprise -> record JSON
  uint64_t last_position_ = 0;
  std::string key_;  // LoadCase's lookup key, kept to reuse its buffer
};

// The stored checkpoint (0 when none) and whether the stored keys are not to
// be used: a rebuild was interrupted, or they were written in an older format.
struct ProjectionStatus {
  uint64_t checkpoint = 0;
  bool rebuilding = false;
  bool format_current = false;  // rl/format is kProjectionFormat
};
Result<ProjectionStatus> ReadProjectionStatus(EventStore& store);

// Maintains the projection from the log with a store subscription.
class RiskListProjection {
 public:
  static constexpr char kSubscriptionName[] = "risk_list";

  // Not owned; both must outlive this object. REQUIRES: a writable store.
  RiskListProjection(EventStore* store, const WorkflowRegistry* registry) : store_(store), registry_(registry) {}
  ~RiskListProjection() { Stop(); }

  // Catches up from the stored checkpoint (rebuilding when an earlier
  // rebuild was interrupted), then follows the log on the store's
  // subscription thread. The projection's own checkpoint, written in the
  // same batch as its keys, decides what is folded, so events the
  // subscription redelivers after a rebuild are skipped.
  Status Start();
  void Stop();
  // Replaces every projection key by a fold of the whole log from position
  // 1. REQUIRES: not started. Returns the events folded. Folds the cases in
  // `threads` partitions (by stream id) at once; 0 = one per core, up to 4.
  // One scan of the log feeds the partitions in batches of copied events,
  // at most kRebuildBatches of kRebuildBatchBytes each per partition.
  Result<uint64_t> Rebuild(int threads = 0);
  static constexpr size_t kRebuildBatchBytes = 2 << 20;
  static constexpr size_t kRebuildBatches = 4;
  // The partition of `partitions` that folds a case's events in a rebuild.
  static size_t RebuildPartitionOf(std::string_view case_id, size_t partitions) {
    return std::hash<std::string_view>()(case_id) % partitions;
  }

  // The last position folded and committed.
  uint64_t Checkpoint() const {
    uint64_t sub = subscription_ ? subscription_->Checkpoint() : 0;
    return std::max(checkpoint_.load(), sub);
  }
  // Blocks until Checkpoint() >= position or the timeout passes.
  bool WaitFor(uint64_t position, int64_t timeout_micros);
  // While started: OK, or the error of the latest failed batch, which the
  // subscription retries (store/event_store.h Subscription::status).
  Status status() const;
  uint64_t failures() const { return subscription_ ? subscription_->failures() : 0; }  // in a row

 private:
  Status CatchUp();
  Status Handle(const std::vector<RecordedEvent>& batch, AuxBatch& aux);

  EventStore* store_;
  const WorkflowRegistry* registry_;
  std::atomic<uint64_t> checkpoint_{0};  // of the last catch-up or rebuild; fixed while started
  std::unique_ptr<Subscription> subscription_;
};

// Folds the log from position 1 into a fresh state, keeping the events for
// which `keep` returns true (all when empty), and stopping at the first
// event for which `stop` returns true (for as-of views: recorded_at is
// non-decreasing along the log).
Result<ProjectionState> FoldLog(EventStore& store, const WorkflowRegistry& registry,
                                const std::function<bool(const EventView&)>& keep = {},
                                const std::function<bool(const EventView&)>& stop = {});

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_RISK_PROJECTION_H_
