#include "engine/view_reader.h"

#include <set>

#include "store/time_format.h"

namespace xiaohao {

namespace {
// Folds of the projection's tail tried before the whole log is folded (see Open).
constexpr int kTailAttempts = 8;
}  // namespace

bool ViewTime::Keeps(const EventView& e) const {
  if (as_of && e.recorded_at > *as_of) return false;
  if (as_at) {
    auto t = ParseRfc3339(e.occurred_at);
    if (!t.ok() || t->instant > *as_at) return false;
  }
  return true;
}

Result<std::unique_ptr<ViewReader>> ViewReader::Open(EventStore* store, const WorkflowRegistry* registry,
                                                     const ViewTime& time) {
  if (time.now()) {
    // The projection's keys are read live, not at one snapshot, so a batch
    // the subscription commits while the tail is folded would be counted
    // twice: once in the keys the tail reads as its base, once in the tail
    // (a unit's "opened" showed 2 for one case under load). Every batch
    // advances the checkpoint with its keys, so an unchanged checkpoint
    // after the fold means the base was read as of that checkpoint. Keys
    // the tail did not touch may be read newer later, which counts nothing
    // twice. If the projection keeps moving, fold the whole log instead.
    for (int attempt = 0; attempt < kTailAttempts; ++attempt) {
      ASSIGN_OR_RETURN(ProjectionStatus st, ReadProjectionStatus(*store));
      if (st.checkpoint == 0 || st.rebuilding) break;
      ProjectionState tail(registry, [store](const std::string& k) { return store->GetAux(k); });
      Status inner;
      uint64_t head = st.checkpoint;
      RETURN_IF_ERROR(store->ScanLogRaw(st.checkpoint + 1, [&](const EventView& e) {
        inner = tail.Apply(e);
        head = e.position;
        return inner.ok();
      }));
      RETURN_IF_ERROR(inner);
      ASSIGN_OR_RETURN(ProjectionStatus after, ReadProjectionStatus(*store));
      if (after.checkpoint != st.checkpoint || after.rebuilding) continue;
      return std::unique_ptr<ViewReader>(new ViewReader(store, std::move(tail), true, "projection", head));
    }
  }
  uint64_t last = 0;
  ASSIGN_OR_RETURN(
      ProjectionState full,
      FoldLog(
          *store, *registry,
          [&](const EventView& e) {
            if (!time.Keeps(e)) return false;
            last = e.position;
            return true;
          },
          // recorded_at never decreases along the log: past as_of, nothing more is kept.
          [&](const EventView& e) { return time.as_of && e.recorded_at > *time.as_of; }));
  return std::unique_ptr<ViewReader>(new ViewReader(store, std::move(full), false, "log", last));
}

Status ViewReader::ForEachCase(const std::function<bool(const CaseSummary&)>& visit) {
  bool go = true;
  if (overlay_) {
    Status inner;
    RETURN_IF_ERROR(store_->ScanAux(kCaseKeyPrefix, [&](const std::string& k, const std::string& v) {
      if (state_.cases().count(k.substr(sizeof(kCaseKeyPrefix) - 1))) return true;
      auto s = CaseSummary::Decode(v);
      if (!s.ok()) {
        inner = s.status();
        return false;
      }
      go = visit(*s);
      return go;
    }));
    RETURN_IF_ERROR(inner);
  }
  if (!go) return Status::OK();
  for (const auto& [id, t] : state_.cases()) {
    if (!t.summary.exists()) continue;
    if (!visit(t.summary)) break;
  }
  return Status::OK();
}

Result<std::optional<CaseSummary>> ViewReader::Case(const std::string& case_id) {
  auto it = state_.cases().find(case_id);
  if (it != state_.cases().end())
    return it->second.summary.exists() ? std::optional<CaseSummary>(it->second.summary) : std::nullopt;
  if (!overlay_) return std::optional<CaseSummary>();
  ASSIGN_OR_RETURN(auto v, store_->GetAux(kCaseKeyPrefix + case_id));
  if (!v) return std::optional<CaseSummary>();
  ASSIGN_OR_RETURN(CaseSummary s, CaseSummary::Decode(*v));
  return std::optional<CaseSummary>(std::move(s));
}

// The stored counts under `key_prefix` (keys without it), when the view
// stands on the stored projection.
Status ViewReader::StoredCounts(const std::string& key_prefix, std::map<std::string, RiskCounts>* out) {
  if (!overlay_) return Status::OK();
  Status inner;
  RETURN_IF_ERROR(store_->ScanAux(key_prefix, [&](const std::string& k, const std::string& v) {
    auto c = RiskCounts::Decode(v);
    if (!c.ok()) {
      inner = c.status();
      return false;
    }
    (*out)[k.substr(key_prefix.size())] = std::move(*c);
    return true;
  }));
  return inner;
}

Result<std::map<std::string, RiskCounts>> ViewReader::Buckets() {
  std::map<std::string, RiskCounts> out;
  RETURN_IF_ERROR(StoredCounts(kBucketKeyPrefix, &out));
  for (const auto& [k, c] : state_.buckets()) {
    if (c.zero()) out.erase(k);
    else out[k] = c;
  }
  return out;
}

Result<std::map<std::string, RiskCounts>> ViewReader::DimensionBuckets(std::string_view dim,
                                                                       std::string_view value) {
  const std::string prefix = DimensionValuePrefix(dim, value);
  std::map<std::string, RiskCounts> out;
  RETURN_IF_ERROR(StoredCounts(kDimensionBucketKeyPrefix + prefix, &out));
  for (auto it = state_.dimension_buckets().lower_bound(prefix);
       it != state_.dimension_buckets().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    std::string bucket = it->first.substr(prefix.size());
    if (it->second.zero()) out.erase(bucket);
    else out[bucket] = it->second;
  }
  return out;
}

Result<std::map<std::string, std::string>> ViewReader::Register() {
  std::map<std::string, std::string> out;
  if (overlay_) {
    RETURN_IF_ERROR(store_->ScanAux(kRegisterKeyPrefix, [&](const std::string& k, const std::string& v) {
      out[k.substr(sizeof(kRegisterKeyPrefix) - 1)] = v;
      return true;
    }));
  }
  for (const auto& [k, v] : state_.register_records()) out[k] = v;
  return out;
}

Result<std::vector<std::string>> ViewReader::CasesOfEnterprise(const std::string& enterprise) {
  std::set<std::string> ids;
  if (overlay_) {
    std::string prefix = kDossierKeyPrefix + enterprise;
    prefix.push_back('\0');
    RETURN_IF_ERROR(store_->ScanAux(prefix, [&](const std::string& k, const std::string&) {
      std::string id = k.substr(prefix.size());
      auto it = state_.cases().find(id);
      if (it == state_.cases().end()) ids.insert(id);  // the tail decides for touched cases
      return true;
    }));
  }
  for (const auto& [id, t] : state_.cases())
    if (t.summary.exists() && t.summary.enterprise == enterprise) ids.insert(id);
  return std::vector<std::string>(ids.begin(), ids.end());
}

}  // namespace xiaohao
