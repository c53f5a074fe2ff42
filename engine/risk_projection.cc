#include "engine/risk_projection.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "engine/json_scan.h"

namespace xiaohao {
namespace {

using json = nlohmann::json;

std::string DossierKey(const std::string& enterprise, const std::string& case_id) {
  std::string k = kDossierKeyPrefix + enterprise;
  k.push_back('\0');
  k += case_id;
  return k;
}

// How many events a catch-up folds between two aux writes. Each write
// carries the checkpoint, so a crash resumes after the last write.
constexpr uint64_t kCatchUpChunk = 250000;
// Keys per unsynced write of a rebuild.
constexpr size_t kWriteChunkKeys = 100000;

// Events of a rebuild's scan on their way to one partition's fold: copies of
// the views, their bytes in one vector that never grows past its reserve (so
// never reallocates, and the views stay valid until Clear).
class ViewBatch {
 public:
  ViewBatch() { bytes_.reserve(RiskListProjection::kRebuildBatchBytes); }

  // Copies `e` in; false (and nothing copied) when it does not fit. An empty
  // batch takes any event, however large.
  bool Add(const EventView& e) {
    const size_t need = e.stream_id.size() + e.type.size() + e.occurred_at.size() +
                        e.actor_user_id.size() + e.actor_role.size() + e.actor_office.size() +
                        e.command_id.size() + e.payload_json.size() + 64;
    if (bytes_.size() + need > bytes_.capacity()) {
      if (!views_.empty()) return false;
      bytes_.reserve(need);  // empty: nothing points into the buffer yet
    }
    auto put = [&](std::string_view in) {
      const size_t at = bytes_.size();
      bytes_.insert(bytes_.end(), in.begin(), in.end());
      return std::string_view(bytes_.data() + at, in.size());
    };
    auto put_hash = [&](const uint8_t* h) -> const uint8_t* {
      if (h == nullptr) return nullptr;
      return reinterpret_cast<const uint8_t*>(put(std::string_view(reinterpret_cast<const char*>(h), 32)).data());
    };
    EventView v;
    v.position = e.position;
    v.version = e.version;
    v.recorded_at = e.recorded_at;
    v.stream_id = put(e.stream_id);
    v.type = put(e.type);
    v.occurred_at = put(e.occurred_at);
    v.actor_user_id = put(e.actor_user_id);
    v.actor_role = put(e.actor_role);
    v.actor_office = put(e.actor_office);
    v.command_id = put(e.command_id);
    v.payload_json = put(e.payload_json);
    v.prev_hash_bytes = put_hash(e.prev_hash_bytes);
    v.hash_bytes = put_hash(e.hash_bytes);
    views_.push_back(v);
    return true;
  }
  const std::vector<EventView>& views() const { return views_; }
  bool empty() const { return views_.empty(); }
  void Clear() {
    views_.clear();
    bytes_.clear();  // keeps the reserve
  }

 private:
  std::vector<char> bytes_;
  std::vector<EventView> views_;
};

// From the one scanner of a rebuild to one partition's fold: full batches in
// log order, and the emptied ones back. At most kRebuildBatches exist per
// partition, so a slow fold holds the scanner back rather than filling memory.
class BatchChannel {
 public:
  // The scanner's next empty batch; waits while all are full.
  std::unique_ptr<ViewBatch> Empty() {
    std::unique_lock<std::mutex> l(mu_);
    if (made_ < RiskListProjection::kRebuildBatches) {
      ++made_;
      return std::make_unique<ViewBatch>();
    }
    cv_.wait(l, [&] { return !empty_.empty(); });
    auto b = std::move(empty_.back());
    empty_.pop_back();
    return b;
  }
  void Send(std::unique_ptr<ViewBatch> b) {
    {
      std::lock_guard<std::mutex> l(mu_);
      full_.push_back(std::move(b));
    }
    cv_.notify_all();
  }
  // No more batches after those sent.
  void Close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  // The fold's next batch in log order; null once closed and drained.
  std::unique_ptr<ViewBatch> Take() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !full_.empty() || closed_; });
    if (full_.empty()) return nullptr;
    auto b = std::move(full_.front());
    full_.pop_front();
    return b;
  }
  void Return(std::unique_ptr<ViewBatch> b) {
    b->Clear();
    {
      std::lock_guard<std::mutex> l(mu_);
      empty_.push_back(std::move(b));
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<ViewBatch>> full_;
  std::vector<std::unique_ptr<ViewBatch>> empty_;
  size_t made_ = 0;
  bool closed_ = false;
};

// Writes the sorted `ops` merged with the sorted `old_keys`: keys that stay
// are overwritten, keys that went are deleted. A memtable takes a sorted run
// of inserts several times faster than keys in hash order, and a rebuild
// over an existing projection writes each key once, not a delete and a put.
// The writes are not synced, except the last one when `last` is given, with
// `last` appended: the log is one sequence, so that sync covers all before.
Status WriteMerged(EventStore& store, AuxBatch ops, std::vector<std::string> old_keys, AuxBatch* last) {
  AuxBatch chunk;
  auto emit = [&](std::string key, std::optional<std::string> value) -> Status {
    chunk.ops.emplace_back(std::move(key), std::move(value));
    if (chunk.ops.size() < kWriteChunkKeys) return Status::OK();
    Status s = store.WriteAux(chunk, /*sync=*/false);
    chunk.ops.clear();
    return s;
  };
  size_t o = 0;
  for (auto& op : ops.ops) {
    for (; o < old_keys.size() && old_keys[o] < op.first; ++o) RETURN_IF_ERROR(emit(std::move(old_keys[o]), std::nullopt));
    if (o < old_keys.size() && old_keys[o] == op.first) ++o;
    RETURN_IF_ERROR(emit(std::move(op.first), std::move(op.second)));
  }
  for (; o < old_keys.size(); ++o) RETURN_IF_ERROR(emit(std::move(old_keys[o]), std::nullopt));
  if (last != nullptr)
    for (auto& op : last->ops) chunk.ops.push_back(std::move(op));
  if (chunk.ops.empty()) return Status::OK();
  return store.WriteAux(chunk, /*sync=*/last != nullptr);
}

}  // namespace

void RiskCounts::Add(const RiskCounts& o, int sign) {
  opened += sign * o.opened;
  closed += sign * o.closed;
  referred += sign * o.referred;
  open += sign * o.open;
  overdue += sign * o.overdue;
  for (const auto& [d, n] : o.close_days) {
    int64_t& v = close_days[d];
    v += sign * n;
    if (v == 0) close_days.erase(d);
  }
}

bool RiskCounts::zero() const {
  return opened == 0 && closed == 0 && referred == 0 && open == 0 && overdue == 0 && close_days.empty();
}

bool RiskCounts::operator==(const RiskCounts& o) const {
  return opened == o.opened && closed == o.closed && referred == o.referred && open == o.open &&
         overdue == o.overdue && close_days == o.close_days;
}

std::optional<double> RiskCounts::median_days_to_close() const {
  int64_t n = 0;
  for (const auto& [d, c] : close_days) n += c;
  if (n <= 0) return std::nullopt;
  // The k-th smallest, 0-based.
  auto kth = [&](int64_t k) {
    int64_t seen = 0;
    for (const auto& [d, c] : close_days) {
      seen += c;
      if (seen > k) return d;
    }
    return close_days.rbegin()->first;
  };
  if (n % 2 == 1) return static_cast<double>(kth(n / 2));
  return (kth(n / 2 - 1) + kth(n / 2)) / 2.0;
}

std::string RiskCounts::Encode() const {
  json days = json::array();
  for (const auto& [d, c] : close_days) days.push_back({d, c});
  return json{{"opened", opened}, {"closed", closed}, {"referred", referred}, {"open", open},
              {"overdue", overdue}, {"close_days", days}}
      .dump();
}

Result<RiskCounts> RiskCounts::Decode(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::Corruption("a risk-list bucket is not a JSON object");
  RiskCounts c;
  try {
    c.opened = j.at("opened").get<int64_t>();
    c.closed = j.at("closed").get<int64_t>();
    c.referred = j.at("referred").get<int64_t>();
    c.open = j.at("open").get<int64_t>();
    c.overdue = j.at("overdue").get<int64_t>();
    for (const auto& p : j.at("close_days")) c.close_days[p.at(0).get<int64_t>()] = p.at(1).get<int64_t>();
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("a risk-list bucket is malformed: ") + e.what());
  }
  return c;
}

RiskCounts ContributionOf(const CaseSummary& s) {
  RiskCounts c;
  if (!s.exists() || s.workflow != "risk_item" || s.state == kVoidedState || s.opened_day == kNoDay) return c;
  c.opened = 1;
  if (s.state == "closed") {
    c.closed = 1;
    if (s.closed_day != kNoDay) c.close_days[s.closed_day - s.opened_day] = 1;
  } else if (s.state == "referred") {
    c.referred = 1;
  } else {
    c.open = 1;
    c.overdue = s.overdue() ? 1 : 0;
  }
  return c;
}

std::string BucketOf(const CaseSummary& s) {
  if (!s.exists() || s.workflow != "risk_item" || s.opened_day == kNoDay) return "";
  return QuarterOfDay(s.opened_day) + "/" + s.office;
}

const std::string& DimensionValue(const CaseSummary& s, std::string_view dim) {
  if (dim == "source") return s.source;
  if (dim == "risk_level") return s.risk_level;
  return s.product_category;  // the last of kBucketDimensions
}

std::string DimensionValuePrefix(std::string_view dim, std::string_view value) {
  std::string k(dim);
  k.push_back('\0');
  k.append(value);
  k.push_back('\0');
  return k;
}

std::string DimensionBucketKey(std::string_view dim, std::string_view value, std::string_view bucket) {
  std::string k = DimensionValuePrefix(dim, value);
  k.append(bucket);
  return k;
}

Result<CaseSummary*> ProjectionState::LoadCase(std::string_view id) {
  key_.assign(id);
  auto it = cases_.find(key_);
  if (it != cases_.end()) return &it->second.summary;
  Touched t;
  if (loader_) {
    ASSIGN_OR_RETURN(auto v, loader_(kCaseKeyPrefix + key_));
    if (v) {
      ASSIGN_OR_RETURN(t.summary, CaseSummary::Decode(*v));
      t.base_enterprise = t.summary.enterprise;
    }
  }
  return &cases_.emplace(key_, std::move(t)).first->second.summary;
}

Result<RiskCounts*> ProjectionState::LoadCounts(std::map<std::string, RiskCounts>& counts, const char* prefix,
                                                const std::string& key) {
  auto it = counts.find(key);
  if (it != counts.end()) return &it->second;
  RiskCounts c;
  if (loader_) {
    ASSIGN_OR_RETURN(auto v, loader_(prefix + key));
    if (v) { ASSIGN_OR_RETURN(c, RiskCounts::Decode(*v)); }
  }
  return &counts.emplace(key, std::move(c)).first->second;
}

Result<RiskCounts*> ProjectionState::LoadBucket(const std::string& key) {
  return LoadCounts(buckets_, kBucketKeyPrefix, key);
}

Result<RiskCounts*> ProjectionState::LoadDimensionBucket(const std::string& key) {
  return LoadCounts(dim_buckets_, kDimensionBucketKeyPrefix, key);
}

Status ProjectionState::Apply(const RecordedEvent& e) { return Apply(EventView::Of(e)); }

Status ProjectionState::Apply(const EventView& e) {
  last_position_ = e.position;
  constexpr std::string_view kEnterprise(kEnterpriseStreamPrefix);
  if (e.stream_id.compare(0, kEnterprise.size(), kEnterprise) == 0) {
    if (e.type == kEnterpriseRegistered)
      register_[std::string(e.stream_id.substr(kEnterprise.size()))] = std::string(e.payload_json);
    return Status::OK();
  }
  if (e.stream_id.empty() || e.stream_id[0] == '$') return Status::OK();
  ASSIGN_OR_RETURN(CaseSummary * s, LoadCase(e.stream_id));
  // BucketOf reads only exists(), workflow, opened_day and office: keep
  // those, and build the bucket names (strings) only when something moved.
  auto bucketed = [](const CaseSummary& c) {
    return c.exists() && c.workflow == "risk_item" && c.opened_day != kNoDay;
  };
  bool old_bucketed = bucketed(*s);
  int64_t old_day = s->opened_day;
  std::string old_office = s->office;
  std::string old_dims[std::size(kBucketDimensions)];
  for (size_t d = 0; d < std::size(kBucketDimensions); ++d)
    old_dims[d] = DimensionValue(*s, kBucketDimensions[d]);
  RiskCounts old_c = ContributionOf(*s);
  if (!FoldCaseEvent(*registry_, e, s)) return Status::OK();
  RiskCounts new_c = ContributionOf(*s);
  bool same_dims = true;
  for (size_t d = 0; d < std::size(kBucketDimensions); ++d)
    same_dims = same_dims && old_dims[d] == DimensionValue(*s, kBucketDimensions[d]);
  bool same_bucket_inputs = old_bucketed == bucketed(*s) && (!old_bucketed || (old_day == s->opened_day &&
                                                                               old_office == s->office));
  if (same_bucket_inputs && same_dims && old_c == new_c) return Status::OK();
  std::string old_bucket = old_bucketed ? QuarterOfDay(old_day) + "/" + old_office : std::string();
  std::string new_bucket = BucketOf(*s);
  if (old_bucket == new_bucket && same_dims && old_c == new_c) return Status::OK();
  if (!old_bucket.empty()) {
    ASSIGN_OR_RETURN(RiskCounts * b, LoadBucket(old_bucket));
    b->Add(old_c, -1);
    for (size_t d = 0; d < std::size(kBucketDimensions); ++d) {
      if (old_dims[d].empty()) continue;
      ASSIGN_OR_RETURN(RiskCounts * db,
                       LoadDimensionBucket(DimensionBucketKey(kBucketDimensions[d], old_dims[d], old_bucket)));
      db->Add(old_c, -1);
    }
  }
  if (!new_bucket.empty()) {
    ASSIGN_OR_RETURN(RiskCounts * b, LoadBucket(new_bucket));
    b->Add(new_c, +1);
    for (const char* dim : kBucketDimensions) {
      const std::string& value = DimensionValue(*s, dim);
      if (value.empty()) continue;
      ASSIGN_OR_RETURN(RiskCounts * db, LoadDimensionBucket(DimensionBucketKey(dim, value, new_bucket)));
      db->Add(new_c, +1);
    }
  }
  return Status::OK();
}

void ProjectionState::WriteTo(AuxBatch* batch) const {
  WriteCasesTo(batch);
  WriteSharedTo(batch);
}

void ProjectionState::WriteCasesTo(AuxBatch* batch) const {
  for (const auto& [id, t] : cases_) {
    if (!t.summary.exists()) continue;
    batch->Put(kCaseKeyPrefix + id, t.summary.Encode());
    if (t.base_enterprise != t.summary.enterprise) {
      if (!t.base_enterprise.empty()) batch->Delete(DossierKey(t.base_enterprise, id));
    }
    if (!t.summary.enterprise.empty()) batch->Put(DossierKey(t.summary.enterprise, id), "");
  }
}

void ProjectionState::WriteSharedTo(AuxBatch* batch) const {
  for (const auto& [key, c] : buckets_) {
    if (c.zero()) batch->Delete(kBucketKeyPrefix + key);
    else batch->Put(kBucketKeyPrefix + key, c.Encode());
  }
  for (const auto& [key, c] : dim_buckets_) {
    if (c.zero()) batch->Delete(kDimensionBucketKeyPrefix + key);
    else batch->Put(kDimensionBucketKeyPrefix + key, c.Encode());
  }
  for (const auto& [ent, rec] : register_) batch->Put(kRegisterKeyPrefix + ent, rec);
}

void ProjectionState::MergeShared(const ProjectionState& other) {
  for (const auto& [key, c] : other.buckets_) buckets_[key].Add(c);
  for (const auto& [key, c] : other.dim_buckets_) dim_buckets_[key].Add(c);
  for (const auto& [ent, rec] : other.register_) register_[ent] = rec;
}

Result<ProjectionStatus> ReadProjectionStatus(EventStore& store) {
  ProjectionStatus st;
  ASSIGN_OR_RETURN(auto cp, store.GetAux(kProjectionCheckpointKey));
  if (cp) st.checkpoint = std::stoull(*cp);
  ASSIGN_OR_RETURN(auto rb, store.GetAux(kProjectionRebuildingKey));
  ASSIGN_OR_RETURN(auto format, store.GetAux(kProjectionFormatKey));
  st.format_current = format && *format == kProjectionFormat;
  // Keys written by an older build (no rl/format, or another one) lack what
  // this build reads: readers fold the log, and Start() rebuilds.
  st.rebuilding = rb.has_value() || (cp.has_value() && !st.format_current);
  return st;
}

Result<ProjectionState> FoldLog(EventStore& store, const WorkflowRegistry& registry,
                                const std::function<bool(const EventView&)>& keep,
                                const std::function<bool(const EventView&)>& stop) {
  ProjectionState state(&registry, {});
  Status inner;
  RETURN_IF_ERROR(store.ScanLogRaw(1, [&](const EventView& e) {
    if (stop && stop(e)) return false;
    if (keep && !keep(e)) return true;
    inner = state.Apply(e);
    return inner.ok();
  }));
  RETURN_IF_ERROR(inner);
  return state;
}

Status RiskListProjection::CatchUp() {
  for (;;) {
    ASSIGN_OR_RETURN(ProjectionStatus st, ReadProjectionStatus(*store_));
    if (st.rebuilding) {
      ASSIGN_OR_RETURN(uint64_t n, Rebuild());
      (void)n;
      continue;
    }
    checkpoint_.store(st.checkpoint);
    if (!st.format_current) {
      // A new projection (no checkpoint yet): say which format it is written in.
      AuxBatch format;
      format.Put(kProjectionFormatKey, kProjectionFormat);
      RETURN_IF_ERROR(store_->WriteAux(format, /*sync=*/true));
    }
    if (st.checkpoint >= store_->DurableHead()) return Status::OK();
    ProjectionState state(registry_, [this](const std::string& k) { return store_->GetAux(k); });
    uint64_t folded = 0;
    Status inner;
    RETURN_IF_ERROR(store_->ScanLogRaw(st.checkpoint + 1, [&](const EventView& e) {
      inner = state.Apply(e);
      return inner.ok() && ++folded < kCatchUpChunk;
    }));
    RETURN_IF_ERROR(inner);
    if (folded == 0) return Status::OK();
    AuxBatch batch;
    state.WriteTo(&batch);
    batch.Put(kProjectionCheckpointKey, std::to_string(state.last_position()));
    RETURN_IF_ERROR(store_->WriteAux(batch, /*sync=*/true));
    checkpoint_.store(state.last_position());
  }
}

Status RiskListProjection::Handle(const std::vector<RecordedEvent>& batch, AuxBatch& aux) {
  // Positions up to the catch-up's checkpoint were folded before the
  // subscription started; it redelivers them from its own checkpoint.
  uint64_t cp = checkpoint_.load();
  ProjectionState state(registry_, [this](const std::string& k) { return store_->GetAux(k); });
  bool any = false;
  for (const auto& e : batch) {
    if (e.position <= cp) continue;  // already folded by a catch-up or a rebuild
    RETURN_IF_ERROR(state.Apply(e));
    any = true;
  }
  if (!any) return Status::OK();
  state.WriteTo(&aux);
  aux.Put(kProjectionCheckpointKey, std::to_string(state.last_position()));
  return Status::OK();
}

Status RiskListProjection::Start() {
  if (subscription_) return Status::OK();
  RETURN_IF_ERROR(CatchUp());
  ASSIGN_OR_RETURN(subscription_,
                   store_->Subscribe(kSubscriptionName, [this](const std::vector<RecordedEvent>& b, AuxBatch& aux) {
                     return Handle(b, aux);
                   }));
  return Status::OK();
}

void RiskListProjection::Stop() { subscription_.reset(); }

Status RiskListProjection::status() const { return subscription_ ? subscription_->status() : Status::OK(); }

bool RiskListProjection::WaitFor(uint64_t position, int64_t timeout_micros) {
  // The subscription's own checkpoint moves only after its batch (and ours
  // with it) is committed; a catch-up commits before it publishes.
  if (checkpoint_.load() >= position) return true;
  return subscription_ && subscription_->WaitFor(position, timeout_micros);
}

Result<uint64_t> RiskListProjection::Rebuild(int threads) {
  if (subscription_) return Status::FailedPrecondition("stop the projection before rebuilding it");
  // Until the marker is gone the stored keys are incomplete: readers fold
  // the log instead, and Start() rebuilds again after a crash.
  {
    AuxBatch mark;
    mark.Put(kProjectionRebuildingKey, "1");
    RETURN_IF_ERROR(store_->WriteAux(mark, /*sync=*/true));
  }
  // A case's summary depends on its own events only, and a bucket is a sum
  // over cases: so the cases are folded in partitions by stream id, each on
  // its own thread, and the partitions' buckets are added up. One scan of
  // the log (this thread) feeds them all: reading and decompressing the log
  // cost about a quarter of a rebuild's CPU when each partition scanned it
  // itself (2026-12-07, report_bench, 1M cases / 8M events: 38 s of CPU
  // with one partition, 51 s with two). Measured against that, five
  // interleaved runs on the same data: 414k-438k events/s and 34-37 s of
  // CPU, against 307k-430k and 36-49 s. Each partition then writes its own
  // keys; the buckets, the register and the end go last.
  if (threads <= 0) threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  const size_t n = static_cast<size_t>(threads);
  const uint64_t head = store_->DurableHead();  // the scan stops here
  auto partition_of = [n](std::string_view case_id) { return RebuildPartitionOf(case_id, n); };
  struct Partition {
    std::unique_ptr<ProjectionState> state;
    Status status;
  };
  std::vector<Partition> parts(n);
  std::vector<BatchChannel> channels(n);
  // Set by a fold that failed (the scan stops) or by the scan (the folds
  // write nothing); read by the folds only after their channel closed.
  std::atomic<bool> failed{false};
  auto run = [&](size_t k) -> Status {
    Partition& p = parts[k];
    p.state = std::make_unique<ProjectionState>(registry_, ProjectionState::Loader());
    Status inner;
    // Takes every batch, even after a failure, so the scan never waits on it.
    while (std::unique_ptr<ViewBatch> b = channels[k].Take()) {
      if (inner.ok()) {
        for (const EventView& e : b->views()) {
          inner = p.state->Apply(e);
          if (!inner.ok()) {
            failed = true;
            break;
          }
        }
      }
      channels[k].Return(std::move(b));
    }
    RETURN_IF_ERROR(inner);
    if (failed.load()) return Status::OK();  // the scan or another partition failed: its error is returned
    AuxBatch ops;
    p.state->WriteCasesTo(&ops);
    p.state->ReleaseCases();
    // Keys are unique within a partition, so the order of equal keys is moot.
    std::sort(ops.ops.begin(), ops.ops.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    // The old keys of this partition's cases, in key order ("rl/c/" < "rl/e/").
    std::vector<std::string> old_keys;
    for (const char* prefix : {kCaseKeyPrefix, kDossierKeyPrefix}) {
      std::string_view pre(prefix);
      RETURN_IF_ERROR(store_->ScanAux(prefix, [&](const std::string& key, const std::string&) {
        std::string_view id(key);
        id.remove_prefix(pre.size());
        if (pre == kDossierKeyPrefix) {
          // "<enterprise>\0<case id>": a case id holds no control character.
          size_t z = id.rfind('\0');
          id = z == std::string_view::npos ? std::string_view() : id.substr(z + 1);
        }
        if (n == 1 || partition_of(id) == k) old_keys.push_back(key);
        return true;
      }));
    }
    return WriteMerged(*store_, std::move(ops), std::move(old_keys), nullptr);
  };
  std::vector<std::thread> workers;
  for (size_t k = 0; k < n; ++k)
    workers.emplace_back([&, k] {
      parts[k].status = run(k);
      if (!parts[k].status.ok()) failed = true;
    });
  uint64_t events = 0;
  Status scanned;
  {
    std::vector<std::unique_ptr<ViewBatch>> filling(n);
    for (size_t k = 0; k < n; ++k) filling[k] = channels[k].Empty();
    scanned = store_->ScanLogRaw(1, [&](const EventView& e) {
      if (e.position > head || failed.load(std::memory_order_relaxed)) return false;
      ++events;
      const size_t k = n > 1 ? partition_of(e.stream_id) : 0;
      if (!filling[k]->Add(e)) {
        channels[k].Send(std::move(filling[k]));
        filling[k] = channels[k].Empty();
        filling[k]->Add(e);  // an empty batch takes any event
      }
      return true;
    });
    if (!scanned.ok()) failed = true;
    for (size_t k = 0; k < n; ++k) {
      if (!filling[k]->empty()) channels[k].Send(std::move(filling[k]));
      channels[k].Close();
    }
  }
  for (auto& w : workers) w.join();
  RETURN_IF_ERROR(scanned);
  for (auto& p : parts) RETURN_IF_ERROR(p.status);
  for (size_t k = 1; k < n; ++k) parts[0].state->MergeShared(*parts[k].state);
  AuxBatch shared;
  parts[0].state->WriteSharedTo(&shared);
  std::sort(shared.ops.begin(), shared.ops.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Every other old key (buckets, register, checkpoint, anything unknown),
  // in key order: the ranges around "rl/c/" and "rl/e/".
  std::vector<std::string> old_keys;
  auto keep = [&](const std::string& key, const std::string&) {
    if (key != kProjectionRebuildingKey) old_keys.push_back(key);
    return true;
  };
  auto after = [](std::string prefix) {
    prefix.back() = static_cast<char>(prefix.back() + 1);  // "rl/c/" -> "rl/c0"
    return prefix;
  };
  RETURN_IF_ERROR(store_->ScanAuxRange(kProjectionPrefix, kCaseKeyPrefix, keep));
  RETURN_IF_ERROR(store_->ScanAuxRange(after(kCaseKeyPrefix), kDossierKeyPrefix, keep));
  RETURN_IF_ERROR(store_->ScanAuxRange(after(kDossierKeyPrefix), after(kProjectionPrefix), keep));
  // The last write, synced, lands after every unsynced one before it (one
  // log, in order): the checkpoint and the end of the marker.
  AuxBatch last;
  last.Put(kProjectionCheckpointKey, std::to_string(head));
  last.Put(kProjectionFormatKey, kProjectionFormat);
  last.Delete(kProjectionRebuildingKey);
  RETURN_IF_ERROR(WriteMerged(*store_, std::move(shared), std::move(old_keys), &last));
  checkpoint_.store(head);
  return events;
}

}  // namespace xiaohao
