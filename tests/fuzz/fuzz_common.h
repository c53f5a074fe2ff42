// What the engine-level fuzz targets (fuzz_command.cc, fuzz_csv_import.cc)
// start from: the shipped workflows/ (definitions, holiday calendars and the
// jurisdiction tree), loaded once. A file that does not load aborts: the
// fuzzer must not run against a half-loaded world.
#ifndef XIAOHAO_TESTS_FUZZ_FUZZ_COMMON_H_
#define XIAOHAO_TESTS_FUZZ_FUZZ_COMMON_H_

#include <cstdlib>
#include <string>
#include <utility>

#include "engine/calendar.h"
#include "engine/jurisdiction.h"
#include "engine/workflow_registry.h"

namespace xiaohao::fuzz {

struct Workflows {
  WorkflowRegistry registry;
  BusinessCalendar calendar;
  JurisdictionTree tree;
};

// Loaded on the first call and kept for the whole run (never freed, like
// any libFuzzer target's global state).
inline const Workflows& ShippedWorkflows() {
  static const Workflows* w = [] {
    auto* out = new Workflows();
    std::string dir = std::string(XIAOHAO_SOURCE_DIR) + "/workflows";
    if (!out->registry.LoadDir(dir + "/definitions").ok()) std::abort();
    out->calendar = std::move(BusinessCalendar::LoadDir(dir + "/calendars")).value();
    out->tree = std::move(JurisdictionTree::LoadDir(dir + "/jurisdictions")).value();
    return out;
  }();
  return *w;
}

}  // namespace xiaohao::fuzz

#endif  // XIAOHAO_TESTS_FUZZ_FUZZ_COMMON_H_
