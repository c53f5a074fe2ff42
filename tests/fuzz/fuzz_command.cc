// libFuzzer target: a command's JSON payload decided against every shipped
// workflow, from an empty case and from an opened one. Must never crash, and
// a decision must never produce an event Apply refuses.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/workflow.h"
#include "store/time_format.h"
#include "tests/fuzz/fuzz_common.h"

using namespace xiaohao;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::Workflows* w = &fuzz::ShippedWorkflows();
  std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return 0;
  auto text_of = [&](const char* key, const char* otherwise) {
    return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : std::string(otherwise);
  };
  Command c;
  c.name = text_of("command", "open");
  if (body.contains("payload")) c.payload = body["payload"];
  c.occurred_at = text_of("occurred_at", "2025-09-26T10:00:00+08:00");
  c.command_id = "fuzz";
  Actor actor{"fuzz", text_of("role", "inspector"), text_of("office", "nanbin")};
  UnixMicros now = ParseRfc3339("2026-01-01T00:00:00+08:00")->instant;
  for (const WorkflowDefinition* def : w->registry.LatestOfEach()) {
    c.case_id = def->id + "-fuzz";
    CaseState state;
    auto drafts = Decide(*def, state, c, actor, now, {&w->calendar, &w->tree});
    if (!drafts.ok()) continue;
    uint64_t v = 0;
    for (const auto& d : *drafts) {
      CaseEvent e{c.case_id, ++v, d.type, c.occurred_at, actor, d.payload};
      auto next = Apply(*def, state, e);
      if (!next.ok()) std::abort();  // Decide drafted an event its own Apply refuses
      state = std::move(next).value();
    }
  }
  return 0;
}
