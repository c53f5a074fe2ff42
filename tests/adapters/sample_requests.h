// Request bodies the HTTP tests and the HTTP fuzz target send, in one place.
// No Catch2 here: tests/fuzz includes it too.
#ifndef XIAOHAO_TESTS_ADAPTERS_SAMPLE_REQUESTS_H_
#define XIAOHAO_TESTS_ADAPTERS_SAMPLE_REQUESTS_H_

#include <nlohmann/json.hpp>
#include <string>

namespace xiaohao::testing {

// POST /v1/cases: a risk item found on 2025-09-26 at `enterprise` by an
// inspection, assigned to `office`.
inline nlohmann::json RiskItemOpenBody(const std::string& office, const std::string& enterprise,
                                       const std::string& risk_level = "high") {
  return nlohmann::json{{"workflow", "risk_item"},
                        {"occurred_at", "2025-09-26T10:00:00+08:00"},
                        {"payload",
                         {{"source", "inspection"},
                          {"office", office},
                          {"enterprise", enterprise},
                          {"product_category", "体外诊断试剂"},
                          {"risk_level", risk_level},
                          {"found_on", "2025-09-26"},
                          {"description", "冷链储存温度记录缺失"}}}};
}

}  // namespace xiaohao::testing

#endif  // XIAOHAO_TESTS_ADAPTERS_SAMPLE_REQUESTS_H_
