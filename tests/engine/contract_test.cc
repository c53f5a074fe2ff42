// workflows/CONTRACT.md cannot drift from the definitions: regenerate and compare.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "engine/workflow_check.h"
#include "tests/test_util.h"

namespace xiaohao::testing {

TEST_CASE("workflows/CONTRACT.md matches the definitions") {
  WorkflowRegistry registry;
  Status s = registry.LoadDir(SourceDir() + "/workflows/definitions");
  INFO(s.ToString());
  REQUIRE(s.ok());
  std::ifstream in(SourceDir() + "/workflows/CONTRACT.md");
  std::stringstream committed;
  committed << in.rdbuf();
  INFO("regenerate with: build/xiaohao workflows contract workflows > workflows/CONTRACT.md");
  CHECK(RenderContract(registry) == committed.str());
  // Every shipped workflow is in it.
  for (const char* id : {"risk_item", "online_sales_lead", "online_sales_filing", "self_inspection",
                         "office_escalation", "reporting_duty", "inspection"})
    CHECK(committed.str().find(std::string("## `") + id + "` v") != std::string::npos);
}

}  // namespace xiaohao::testing
