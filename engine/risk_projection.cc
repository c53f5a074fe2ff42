#include "engine/risk_projection.h"

#include <chrono>
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

// How many events a catch-up or rebuild folds between two aux writes. Each
// write carries the checkpoint, so a crash resumes after the last write.
constexpr uint64_t kCatchUpChunk = 250000;
constexpr size_t kWriteChunkKeys = 100000;

Status WriteInChunks(EventStore& store, const AuxBatch& all, AuxBatch final_batch) {
  // The bulk of a rebuild goes in unsynced chunks; the last batch, with the
  // checkpoint and the end of the rebuild marker, is synced. Until it lands
  // the marker says the keys are incomplete.
  AuxBatch chunk;
  for (const auto& op : all.ops) {
    chunk.ops.push_back(op);
    if (chunk.ops.size() >= kWriteChunkKeys) {
      RETURN_IF_ERROR(store.WriteAux(chunk, /*sync=*/false));
      chunk.ops.clear();
    }
  }
  for (auto& op : final_batch.ops) chunk.ops.push_back(std::move(op));
  return store.WriteAux(chunk, /*sync=*/true);
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

Result<CaseSummary*> ProjectionState::LoadCase(const std::string& id) {
  auto it = cases_.find(id);
  if (it != cases_.end()) return &it->second.summary;
  Touched t;
  if (loader_) {
    ASSIGN_OR_RETURN(auto v, loader_(kCaseKeyPrefix + id));
    if (v) {
      ASSIGN_OR_RETURN(t.summary, CaseSummary::Decode(*v));
      t.base_enterprise = t.summary.enterprise;
    }
  }
  return &cases_.emplace(id, std::move(t)).first->second.summary;
}

Result<RiskCounts*> ProjectionState::LoadBucket(const std::string& key) {
  auto it = buckets_.find(key);
  if (it != buckets_.end()) return &it->second;
  RiskCounts c;
  if (loader_) {
    ASSIGN_OR_RETURN(auto v, loader_(kBucketKeyPrefix + key));
    if (v) { ASSIGN_OR_RETURN(c, RiskCounts::Decode(*v)); }
  }
  return &buckets_.emplace(key, std::move(c)).first->second;
}

Status ProjectionState::Apply(const RecordedEvent& e) {
  last_position_ = e.position;
  if (e.stream_id.compare(0, sizeof(kEnterpriseStreamPrefix) - 1, kEnterpriseStreamPrefix) == 0) {
    if (e.type == kEnterpriseRegistered)
      register_[e.stream_id.substr(sizeof(kEnterpriseStreamPrefix) - 1)] = e.payload_json;
    return Status::OK();
  }
  if (e.stream_id.empty() || e.stream_id[0] == '$') return Status::OK();
  ASSIGN_OR_RETURN(CaseSummary * s, LoadCase(e.stream_id));
  std::string old_bucket = BucketOf(*s);
  RiskCounts old_c = ContributionOf(*s);
  if (!FoldCaseEvent(*registry_, e, s)) return Status::OK();
  std::string new_bucket = BucketOf(*s);
  RiskCounts new_c = ContributionOf(*s);
  if (old_bucket == new_bucket && old_c == new_c) return Status::OK();
  if (!old_bucket.empty()) {
    ASSIGN_OR_RETURN(RiskCounts * b, LoadBucket(old_bucket));
    b->Add(old_c, -1);
  }
  if (!new_bucket.empty()) {
    ASSIGN_OR_RETURN(RiskCounts * b, LoadBucket(new_bucket));
    b->Add(new_c, +1);
  }
  return Status::OK();
}

void ProjectionState::WriteTo(AuxBatch* batch) const {
  for (const auto& [id, t] : cases_) {
    if (!t.summary.exists()) continue;
    batch->Put(kCaseKeyPrefix + id, t.summary.Encode());
    if (t.base_enterprise != t.summary.enterprise) {
      if (!t.base_enterprise.empty()) batch->Delete(DossierKey(t.base_enterprise, id));
    }
    if (!t.summary.enterprise.empty()) batch->Put(DossierKey(t.summary.enterprise, id), "");
  }
  for (const auto& [key, c] : buckets_) {
    if (c.zero()) batch->Delete(kBucketKeyPrefix + key);
    else batch->Put(kBucketKeyPrefix + key, c.Encode());
  }
  for (const auto& [ent, rec] : register_) batch->Put(kRegisterKeyPrefix + ent, rec);
}

Result<ProjectionStatus> ReadProjectionStatus(EventStore& store) {
  ProjectionStatus st;
  ASSIGN_OR_RETURN(auto cp, store.GetAux(kProjectionCheckpointKey));
  if (cp) st.checkpoint = std::stoull(*cp);
  ASSIGN_OR_RETURN(auto rb, store.GetAux(kProjectionRebuildingKey));
  st.rebuilding = rb.has_value();
  return st;
}

Result<ProjectionState> FoldLog(EventStore& store, const WorkflowRegistry& registry,
                                const std::function<bool(const RecordedEvent&)>& keep,
                                const std::function<bool(const RecordedEvent&)>& stop) {
  ProjectionState state(&registry, {});
  Status inner;
  RETURN_IF_ERROR(store.ScanLog(1, [&](const RecordedEvent& e) {
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
    if (st.checkpoint >= store_->DurableHead()) return Status::OK();
    ProjectionState state(registry_, [this](const std::string& k) { return store_->GetAux(k); });
    uint64_t folded = 0;
    Status inner;
    RETURN_IF_ERROR(store_->ScanLog(st.checkpoint + 1, [&](const RecordedEvent& e) {
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

Result<uint64_t> RiskListProjection::Rebuild() {
  if (subscription_) return Status::FailedPrecondition("stop the projection before rebuilding it");
  {
    AuxBatch mark;
    mark.Put(kProjectionRebuildingKey, "1");
    RETURN_IF_ERROR(store_->WriteAux(mark, /*sync=*/true));
  }
  // Delete the old keys (the marker stays until the end).
  AuxBatch del;
  RETURN_IF_ERROR(store_->ScanAux(kProjectionPrefix, [&](const std::string& k, const std::string&) {
    if (k != kProjectionRebuildingKey) del.Delete(k);
    return true;
  }));
  RETURN_IF_ERROR(WriteInChunks(*store_, del, AuxBatch{}));
  uint64_t head = 0;
  uint64_t events = 0;
  ProjectionState state(registry_, {});
  Status inner;
  RETURN_IF_ERROR(store_->ScanLog(1, [&](const RecordedEvent& e) {
    inner = state.Apply(e);
    ++events;
    head = e.position;
    return inner.ok();
  }));
  RETURN_IF_ERROR(inner);
  AuxBatch all;
  state.WriteTo(&all);
  AuxBatch last;
  last.Put(kProjectionCheckpointKey, std::to_string(head));
  last.Delete(kProjectionRebuildingKey);
  RETURN_IF_ERROR(WriteInChunks(*store_, all, std::move(last)));
  checkpoint_.store(head);
  return events;
}

}  // namespace xiaohao
