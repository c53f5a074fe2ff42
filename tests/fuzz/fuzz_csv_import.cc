// libFuzzer target: `xiaohao import risk-list`'s CSV reader (adapters/csv.h)
// and row checks (adapters/risk_list_csv.h), without a store. Must never
// crash, and:
// - what ReadCsv reads, written back with every cell quoted, reads the same;
// - a file without problems gives each row events for its own case only, a
//   well-formed case id, the opening event first, and no case twice;
// - a problem always names a row.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "adapters/csv.h"
#include "adapters/risk_list_csv.h"
#include "engine/command_handler.h"
#include "store/time_format.h"
#include "tests/fuzz/fuzz_common.h"

using namespace xiaohao;

namespace {
std::string Requote(const std::vector<CsvRecord>& records) {
  std::string out;
  for (const auto& r : records) {
    for (size_t i = 0; i < r.cells.size(); ++i) {
      if (i) out += ',';
      out += '"';
      for (char c : r.cells[i]) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    }
    out += "\r\n";
  }
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::Workflows* w = &fuzz::ShippedWorkflows();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto records = ReadCsv(text);
  if (records.ok()) {
    auto again = ReadCsv(Requote(*records));
    if (!again.ok() || again->size() != records->size()) std::abort();
    for (size_t i = 0; i < records->size(); ++i)
      if ((*again)[i].cells != (*records)[i].cells) std::abort();
  }

  UnixMicros now = ParseRfc3339("2026-01-01T00:00:00+08:00")->instant;
  RiskListFile file = ParseRiskList(text, w->tree, Date::OfInstant(now));
  for (const auto& p : file.problems)
    if (p.row < 0) std::abort();
  if (!file.problems.empty()) return 0;
  const WorkflowDefinition* def = w->registry.Latest("risk_item");
  std::vector<std::vector<NewEvent>> events(file.rows.size());
  std::vector<RowProblem> problems;
  Actor actor{"fuzz", "supervisor", "chongqing"};
  DecideRiskListRows(*def, file, actor, now, {&w->calendar, &w->tree}, &events, &problems);
  std::set<std::string> cases;
  for (size_t i = 0; i < file.rows.size(); ++i) {
    const RiskListFileRow& row = file.rows[i];
    if (!WorkflowOfCaseId(row.case_id).ok()) std::abort();
    if (!cases.insert(row.case_id).second) std::abort();  // duplicate ids must be problems
    if (events[i].empty()) continue;  // refused by the engine: a problem was listed
    if (events[i].front().type != "risk_item.opened") std::abort();
    for (const auto& e : events[i])
      if (e.stream_id != row.case_id) std::abort();
  }
  if (problems.empty())
    for (const auto& e : events)
      if (e.empty()) std::abort();
  return 0;
}
