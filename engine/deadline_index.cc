#include "engine/deadline_index.h"

#include <algorithm>

#include "store/time_format.h"

namespace xiaohao {
namespace {

using json = nlohmann::json;

const std::string kEntryPrefix = "dlc/";
const std::string kQueuePrefix = "dlq/";
const std::string kDuePrefix = "dld/";

std::string BE64(uint64_t v) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i) {
    k[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return k;
}
uint64_t FromBE64(const std::string& s, size_t at) {
  uint64_t r = 0;
  for (size_t i = 0; i < 8; ++i) r = r << 8 | static_cast<uint8_t>(s[at + i]);
  return r;
}
// Instants before 1970 do not occur in this domain; clamp so the key order holds.
uint64_t KeyTime(UnixMicros t) { return t < 0 ? 0 : static_cast<uint64_t>(t); }

std::string Ident(const std::string& case_id, const std::string& name) {
  std::string s = case_id;
  s.push_back('\0');
  s += name;
  return s;
}
std::string EntryKey(const IndexedDeadline& d) { return kEntryPrefix + Ident(d.case_id, d.name); }
std::string QueueKey(const IndexedDeadline& d) {
  return kQueuePrefix + BE64(KeyTime(d.next_at)) + Ident(d.case_id, d.name);
}
std::string DueKey(const IndexedDeadline& d) {
  return kDuePrefix + BE64(KeyTime(d.due_at)) + Ident(d.case_id, d.name);
}

Result<UnixMicros> Instant(const json& p, const char* field) {
  if (!p.contains(field) || !p[field].is_string())
    return Status::Corruption(std::string("deadline event without ") + field);
  auto t = ParseRfc3339(p[field].get<std::string>());
  if (!t.ok()) return t.status();
  return t->instant;
}

bool IsDeadlineEvent(const std::string& type) { return type.rfind("deadline.", 0) == 0; }

}  // namespace

const char* StageName(IndexedDeadline::Stage s) {
  switch (s) {
    case IndexedDeadline::Stage::kWarning: return "warning";
    case IndexedDeadline::Stage::kOverdue: return "overdue";
    case IndexedDeadline::Stage::kEscalation: return "escalation";
    case IndexedDeadline::Stage::kDone: return "done";
  }
  return "?";
}

json IndexedDeadline::ToJson() const {
  return {{"case_id", case_id},     {"name", name},         {"generation", generation},
          {"stage", StageName(stage)}, {"step", escalation_step}, {"next_at", next_at},
          {"due_at", due_at},       {"warn_at", warn_at},   {"due_date", due_date},
          {"provisional", provisional}, {"facts", facts}};
}

Result<IndexedDeadline> IndexedDeadline::FromJson(const json& j) {
  try {
    IndexedDeadline d;
    d.case_id = j.at("case_id").get<std::string>();
    d.name = j.at("name").get<std::string>();
    d.generation = j.at("generation").get<int>();
    std::string stage = j.at("stage").get<std::string>();
    d.stage = stage == "warning"      ? Stage::kWarning
              : stage == "overdue"    ? Stage::kOverdue
              : stage == "escalation" ? Stage::kEscalation
                                      : Stage::kDone;
    d.escalation_step = j.at("step").get<int>();
    d.next_at = j.at("next_at").get<UnixMicros>();
    d.due_at = j.at("due_at").get<UnixMicros>();
    d.warn_at = j.at("warn_at").get<UnixMicros>();
    d.due_date = j.at("due_date").get<std::string>();
    d.provisional = j.at("provisional").get<bool>();
    d.facts = j.value("facts", json::object());
    return d;
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("deadline index entry is malformed: ") + e.what());
  }
}

Status DeadlineIndex::OnEvents(const std::vector<RecordedEvent>& events, AuxWriter& aux) {
  for (const RecordedEvent& e : events) {
    if (!IsDeadlineEvent(e.type)) continue;
    json p = json::parse(e.payload_json, nullptr, false);
    if (!p.is_object() || !p.contains("deadline") || !p["deadline"].is_string())
      return Status::Corruption("event " + std::to_string(e.position) + " (" + e.type +
                                ") has no deadline name");
    std::string name = p["deadline"].get<std::string>();
    int generation = p.value("generation", 0);
    std::string ekey = kEntryPrefix + Ident(e.stream_id, name);
    ASSIGN_OR_RETURN(auto existing_raw, aux.Get(ekey));
    std::optional<IndexedDeadline> existing;
    if (existing_raw) {
      ASSIGN_OR_RETURN(IndexedDeadline d, IndexedDeadline::FromJson(json::parse(*existing_raw, nullptr, false)));
      existing = std::move(d);
    }
    auto remove = [&](const IndexedDeadline& d) {
      aux.Delete(QueueKey(d));
      aux.Delete(DueKey(d));
      aux.Delete(EntryKey(d));
    };
    auto put = [&, position = e.position](const IndexedDeadline& d) {
      aux.Put(EntryKey(d), d.ToJson().dump());
      aux.Put(DueKey(d), "");
      if (d.stage == IndexedDeadline::Stage::kDone) return;
      aux.Put(QueueKey(d), "");
      std::lock_guard<std::mutex> l(on_scheduled_mu_);
      if (on_scheduled_) on_scheduled_(d.next_at, position);
    };
    bool current = existing && existing->generation == generation;

    if (e.type == "deadline.started" || e.type == "deadline.extended" ||
        e.type == "deadline.recomputed") {
      // An older generation's event cannot reopen anything.
      if (existing && existing->generation > generation) continue;
      IndexedDeadline d;
      d.case_id = e.stream_id;
      d.name = name;
      d.generation = generation;
      ASSIGN_OR_RETURN(d.due_at, Instant(p, "due_at"));
      ASSIGN_OR_RETURN(d.warn_at, Instant(p, "warn_at"));
      d.due_date = p.value("due_date", std::string());
      d.provisional = p.value("provisional", false);
      d.facts = p;
      if (d.warn_at < d.due_at) {
        d.stage = IndexedDeadline::Stage::kWarning;
        d.next_at = d.warn_at;
      } else {
        d.stage = IndexedDeadline::Stage::kOverdue;
        d.next_at = d.due_at;
      }
      if (existing) remove(*existing);
      put(d);
    } else if (!current) {
      continue;  // stale generation or nothing open: nothing to move
    } else if (e.type == "deadline.cleared") {
      remove(*existing);
    } else if (e.type == "deadline.warning") {
      IndexedDeadline d = *existing;
      remove(d);
      d.stage = IndexedDeadline::Stage::kOverdue;
      d.next_at = d.due_at;
      put(d);
    } else if (e.type == "deadline.escalated" || p.contains("next_escalation_at")) {
      // The overdue event (deadline.overdue or a definition's on_expiry type)
      // and each escalation carry the instant of the next escalation step.
      IndexedDeadline d = *existing;
      remove(d);
      if (p.contains("next_escalation_at") && p["next_escalation_at"].is_string()) {
        ASSIGN_OR_RETURN(d.next_at, Instant(p, "next_escalation_at"));
        d.stage = IndexedDeadline::Stage::kEscalation;
        d.escalation_step = p.value("next_escalation_step", d.escalation_step + 1);
      } else {
        d.stage = IndexedDeadline::Stage::kDone;
      }
      put(d);
    }
    // Other deadline.* facts (deadline.overdue_corrected, ...) move nothing.
  }
  return Status::OK();
}

Result<std::vector<IndexedDeadline>> DeadlineIndex::Due(UnixMicros now, size_t limit) const {
  std::vector<std::string> keys;
  RETURN_IF_ERROR(store()->ScanAuxRange(kQueuePrefix, kQueuePrefix + BE64(KeyTime(now) + 1),
                                        [&](const std::string& k, const std::string&) {
                                          keys.push_back(k);
                                          return keys.size() < limit;
                                        }));
  return Load(keys, kQueuePrefix.size() + 8);
}

Result<std::vector<IndexedDeadline>> DeadlineIndex::Load(const std::vector<std::string>& keys,
                                                         size_t ident_offset) const {
  std::vector<IndexedDeadline> out;
  for (const auto& key : keys) {
    const std::string entry_key = kEntryPrefix + key.substr(ident_offset);
    // The scan that found `key` and this read are not one snapshot: a
    // command committed in between may have cleared or moved the deadline
    // (its keys go in one atomic batch). So a missing entry is corruption
    // only if the key that pointed to it is still there; a deadline removed
    // meanwhile is simply no longer listed. A few rounds cover a remove and
    // re-put racing with us (found by the 32-client load test).
    std::optional<std::string> raw;
    bool dangling = false;
    for (int round = 0; round < 3 && !raw; ++round) {
      ASSIGN_OR_RETURN(raw, store()->GetAux(entry_key));
      if (raw) break;
      ASSIGN_OR_RETURN(auto pointer, store()->GetAux(key));
      dangling = pointer.has_value();
      if (!dangling) break;
    }
    if (!raw) {
      if (dangling) {
        return Status::Corruption("deadline index: key " + key + " has no deadline entry " + entry_key +
                                  " (the index is damaged: keep the data directory and report it)");
      }
      continue;
    }
    ASSIGN_OR_RETURN(IndexedDeadline d, IndexedDeadline::FromJson(json::parse(*raw, nullptr, false)));
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::optional<UnixMicros>> DeadlineIndex::NextFire() const {
  std::optional<UnixMicros> next;
  RETURN_IF_ERROR(store()->ScanAux(kQueuePrefix, [&](const std::string& k, const std::string&) {
    next = static_cast<UnixMicros>(FromBE64(k, kQueuePrefix.size()));
    return false;
  }));
  return next;
}

Result<std::optional<IndexedDeadline>> DeadlineIndex::Find(const std::string& case_id,
                                                           const std::string& name) const {
  ASSIGN_OR_RETURN(auto raw, store()->GetAux(kEntryPrefix + Ident(case_id, name)));
  if (!raw) return std::optional<IndexedDeadline>();
  ASSIGN_OR_RETURN(IndexedDeadline d, IndexedDeadline::FromJson(json::parse(*raw, nullptr, false)));
  return std::optional<IndexedDeadline>(std::move(d));
}

Status DeadlineIndex::ForEach(const std::function<bool(const IndexedDeadline&)>& visitor) const {
  Status inner;
  RETURN_IF_ERROR(store()->ScanAux(kEntryPrefix, [&](const std::string&, const std::string& v) {
    auto d = IndexedDeadline::FromJson(json::parse(v, nullptr, false));
    if (!d.ok()) {
      inner = d.status();
      return false;
    }
    return visitor(*d);
  }));
  return inner;
}

Result<std::vector<IndexedDeadline>> DeadlineIndex::DueBetween(UnixMicros from, UnixMicros to,
                                                               size_t limit) const {
  return DueBetweenAfter(from, to, "", limit);
}

std::string DeadlineIndex::DueOrderKey(const IndexedDeadline& d) { return DueKey(d).substr(kDuePrefix.size()); }

Result<std::vector<IndexedDeadline>> DeadlineIndex::DueBetweenAfter(UnixMicros from, UnixMicros to,
                                                                    const std::string& after, size_t limit) const {
  std::string start = kDuePrefix + BE64(KeyTime(from));
  if (!after.empty()) {
    // The smallest key after `after`: the same bytes with a NUL appended.
    std::string resume = kDuePrefix + after;
    resume.push_back('\0');
    start = std::max(start, resume);
  }
  std::string end = kDuePrefix + BE64(KeyTime(to));
  std::vector<std::string> keys;
  if (limit == 0 || start >= end) return std::vector<IndexedDeadline>();
  RETURN_IF_ERROR(store()->ScanAuxRange(start, end, [&](const std::string& k, const std::string&) {
    keys.push_back(k);
    return keys.size() < limit;
  }));
  return Load(keys, kDuePrefix.size() + 8);
}

Status DeadlineIndex::Remove(const IndexedDeadline& d) {
  AuxBatch b;
  b.Delete(QueueKey(d));
  b.Delete(DueKey(d));
  b.Delete(EntryKey(d));
  return store()->WriteAux(b, true);
}

}  // namespace xiaohao
