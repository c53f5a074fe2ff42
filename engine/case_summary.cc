#include "engine/case_summary.h"

#include <cstring>

#include "engine/json_scan.h"
#include "store/time_format.h"

namespace xiaohao {
namespace {

constexpr uint8_t kEncodingVersion = 1;

const char* const kExtraKeys[] = {"subject_type", "inspection_type", "inspected_on", "unit_type", "report_year",
                                  "received_on",  "submitted_on",    "result",       "found_on"};

bool IsExtraKey(std::string_view k) {
  for (const char* e : kExtraKeys)
    if (k == e) return true;
  return false;
}

// Merges the facts of interest from a "data" (or "fields") object.
void MergeFacts(std::string_view obj, CaseSummary* s) {
  jsonscan::ForEachMember(obj, [&](std::string_view k, std::string_view raw) {
    if (k == "office") s->office = jsonscan::ScalarText(raw);
    else if (k == "enterprise") s->enterprise = jsonscan::ScalarText(raw);
    else if (k == "source") s->source = jsonscan::ScalarText(raw);
    else if (k == "product_category") s->product_category = jsonscan::ScalarText(raw);
    else if (k == "risk_level") s->risk_level = jsonscan::ScalarText(raw);
    else if (IsExtraKey(k)) s->extra[std::string(k)] = jsonscan::ScalarText(raw);
    return true;
  });
}

int64_t CstDayOfText(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  return t.ok() ? CstDayOf(t->instant) : kNoDay;
}

// TransitionForEvent for a view of the type, without building a string.
const Transition* TransitionFor(const WorkflowDefinition& def, std::string_view type) {
  for (const auto& t : def.transitions)
    if (t.event == type) return &t;
  return nullptr;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

void FoldDeadline(const EventView& e, CaseSummary* s) {
  std::string_view p = e.payload_json;
  auto name_raw = jsonscan::Member(p, "deadline");
  if (!name_raw) return;
  std::string name = jsonscan::ScalarText(*name_raw);
  int gen = 0;
  if (auto g = jsonscan::Member(p, "generation")) gen = static_cast<int>(jsonscan::Integer(*g).value_or(0));
  CaseSummary::Deadline* open = nullptr;
  for (auto& d : s->deadlines)
    if (d.name == name) open = &d;
  std::string_view t = e.type;
  if (t == "deadline.started") {
    if (open != nullptr && gen < open->generation) return;
    if (open == nullptr) {
      s->deadlines.push_back({name, gen, false});
    } else {
      open->generation = gen;
      open->overdue = false;
    }
    return;
  }
  if (open == nullptr || gen < open->generation) return;
  if (t == "deadline.cleared") {
    s->deadlines.erase(s->deadlines.begin() + (open - s->deadlines.data()));
  } else if (t == "deadline.extended" || t == "deadline.recomputed") {
    open->overdue = false;
  } else if (t == "deadline.warning" || t == "deadline.escalated") {
    // history only
  } else if (t == "deadline.overdue_corrected") {
    // A late-recorded clearing showed the deadline was met (engine/workflow.cc):
    // the overdue notice is superseded. The item's only deadlines in the
    // workflows that count "in time" have one deadline, so the flag goes too.
    open->overdue = false;
    s->ever_overdue = false;
  } else {
    open->overdue = true;  // deadline.overdue or a definition's on_expiry event
    s->ever_overdue = true;
  }
}

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out->append(b, 8);
}
void PutStr(std::string* out, const std::string& s) {
  PutU64(out, s.size());
  out->append(s);
}
struct Reader {
  const std::string& in;
  size_t pos = 0;
  bool ok = true;
  uint64_t U64() {
    if (pos + 8 > in.size()) {
      ok = false;
      return 0;
    }
    uint64_t v;
    std::memcpy(&v, in.data() + pos, 8);
    pos += 8;
    return v;
  }
  std::string Str() {
    uint64_t n = U64();
    if (!ok || pos + n > in.size()) {
      ok = false;
      return {};
    }
    std::string s = in.substr(pos, n);
    pos += n;
    return s;
  }
};

}  // namespace

bool CaseSummary::overdue() const {
  for (const auto& d : deadlines)
    if (d.overdue) return true;
  return false;
}

std::string CaseSummary::Extra(const std::string& key) const {
  auto it = extra.find(key);
  return it == extra.end() ? std::string() : it->second;
}

bool CaseSummary::operator==(const CaseSummary& o) const { return Encode() == o.Encode(); }

std::string CaseSummary::Encode() const {
  std::string out;
  out.reserve(256);
  out.push_back(static_cast<char>(kEncodingVersion));
  for (const std::string* f : {&case_id, &workflow, &state, &office, &enterprise, &source, &product_category,
                               &risk_level})
    PutStr(&out, *f);
  PutU64(&out, static_cast<uint64_t>(workflow_version));
  PutU64(&out, static_cast<uint64_t>(opened_day));
  PutU64(&out, static_cast<uint64_t>(closed_day));
  PutU64(&out, version);
  PutU64(&out, last_position);
  PutU64(&out, (ever_overdue ? 1 : 0) | (verification_done ? 2 : 0) | (rectification_reported ? 4 : 0));
  PutU64(&out, deadlines.size());
  for (const auto& d : deadlines) {
    PutStr(&out, d.name);
    PutU64(&out, static_cast<uint64_t>(d.generation));
    PutU64(&out, d.overdue ? 1 : 0);
  }
  PutU64(&out, extra.size());
  for (const auto& [k, v] : extra) {
    PutStr(&out, k);
    PutStr(&out, v);
  }
  return out;
}

Result<CaseSummary> CaseSummary::Decode(const std::string& bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kEncodingVersion)
    return Status::Corruption("case summary of an unknown encoding; run `xiaohao projections rebuild`");
  Reader r{bytes, 1};
  CaseSummary s;
  for (std::string* f : {&s.case_id, &s.workflow, &s.state, &s.office, &s.enterprise, &s.source,
                         &s.product_category, &s.risk_level})
    *f = r.Str();
  s.workflow_version = static_cast<int>(r.U64());
  s.opened_day = static_cast<int64_t>(r.U64());
  s.closed_day = static_cast<int64_t>(r.U64());
  s.version = r.U64();
  s.last_position = r.U64();
  uint64_t flags = r.U64();
  s.ever_overdue = flags & 1;
  s.verification_done = flags & 2;
  s.rectification_reported = flags & 4;
  uint64_t n = r.U64();
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    CaseSummary::Deadline d;
    d.name = r.Str();
    d.generation = static_cast<int>(r.U64());
    d.overdue = r.U64() != 0;
    s.deadlines.push_back(std::move(d));
  }
  n = r.U64();
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    std::string k = r.Str();
    s.extra[k] = r.Str();
  }
  if (!r.ok || r.pos != bytes.size()) return Status::Corruption("truncated case summary of " + s.case_id);
  return s;
}

bool FoldCaseEvent(const WorkflowRegistry& registry, const RecordedEvent& e, CaseSummary* s) {
  return FoldCaseEvent(registry, EventView::Of(e), s);
}

bool FoldCaseEvent(const WorkflowRegistry& registry, const EventView& e, CaseSummary* s) {
  if (e.stream_id.empty() || e.stream_id[0] == '$') return false;
  std::string_view p = e.payload_json;
  if (!s->exists()) {
    // The opening event names the workflow; else the case id's prefix does.
    std::string wf;
    int version = 0;
    if (auto w = jsonscan::Member(p, "workflow")) {
      if (auto id = jsonscan::Member(*w, "id")) wf = jsonscan::ScalarText(*id);
      if (auto v = jsonscan::Member(*w, "version")) version = static_cast<int>(jsonscan::Integer(*v).value_or(0));
    }
    if (wf.empty()) {
      size_t dash = e.stream_id.find('-');
      if (dash == std::string_view::npos) return false;
      wf = std::string(e.stream_id.substr(0, dash));
    }
    const WorkflowDefinition* def = version > 0 ? registry.Find(wf, version) : registry.Latest(wf);
    if (def == nullptr) return false;
    const Transition* t = TransitionFor(*def, e.type);
    if (t == nullptr || !t->opens) return false;  // a case's first event must open it
    s->case_id = std::string(e.stream_id);
    s->workflow = def->id;
    s->workflow_version = def->version;
    s->state = def->InitialState();
    s->opened_day = CstDayOfText(e.occurred_at);
  }
  const WorkflowDefinition* def = registry.Find(s->workflow, s->workflow_version);
  if (def == nullptr) return false;
  s->version = e.version;
  s->last_position = e.position;
  if (StartsWith(e.type, "deadline.")) {
    FoldDeadline(e, s);
    return true;
  }
  const Transition* t = TransitionFor(*def, e.type);
  if (t == nullptr) return true;
  std::string_view name(e.type);
  name.remove_prefix(std::min(name.size(), s->workflow.size() + 1));
  if (t->external) {
    if (s->office.empty())
      if (auto o = jsonscan::Member(p, "office")) s->office = jsonscan::ScalarText(*o);
  } else if (auto data = jsonscan::Member(p, "data")) {
    if (name == "corrected") {
      if (auto f = jsonscan::Member(*data, "fields")) MergeFacts(*f, s);
    } else if (name == "reassigned") {
      if (auto o = jsonscan::Member(*data, "office")) s->office = jsonscan::ScalarText(*o);
    } else if (name != "voided") {
      MergeFacts(*data, s);
    }
  }
  if (name == "rectification_reported") s->rectification_reported = true;
  if (name == "verification_passed" || name == "verification_failed") s->verification_done = true;
  if (!t->to.empty() && s->state != kVoidedState) {
    s->state = t->to;
    if (s->state == "closed") s->closed_day = CstDayOfText(e.occurred_at);
    else s->closed_day = kNoDay;
  }
  return true;
}

std::string QuarterOfDay(int64_t day) {
  if (day == kNoDay) return "";
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  return std::to_string(y) + "Q" + std::to_string((m - 1) / 3 + 1);
}

bool ParseQuarter(const std::string& text, int* year, int* quarter) {
  if (text.size() != 6 || (text[4] != 'Q' && text[4] != 'q')) return false;
  for (int i = 0; i < 4; ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  if (text[5] < '1' || text[5] > '4') return false;
  *year = std::stoi(text.substr(0, 4));
  *quarter = text[5] - '0';
  return true;
}

std::string DayText(int64_t day) {
  if (day == kNoDay) return "";
  int y;
  unsigned m, d;
  CivilFromDays(day, &y, &m, &d);
  char b[16];
  std::snprintf(b, sizeof b, "%04d-%02u-%02u", y, m, d);
  return b;
}

int64_t DayFromText(const std::string& text) {
  int y = 0;
  unsigned m = 0, d = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2u-%2u", &y, &m, &d) != 3) return kNoDay;
  if (!IsValidCivilDate(y, m, d)) return kNoDay;
  return DaysFromCivil(y, m, d);
}

}  // namespace xiaohao
