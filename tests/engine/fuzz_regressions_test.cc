// Inputs the fuzzers (tests/fuzz/) found crashing, kept as regression tests.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "engine/workflow_definition.h"
#include "tests/test_util.h"

TEST_CASE("fuzz regression: a definition with a string where a boolean belongs is a problem, not a crash",
          "[fuzz]") {
  std::ifstream in(xiaohao::testing::SourceDir() + "/tests/fuzz/regressions/definition_wrong_type.json",
                   std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<xiaohao::FileProblem> problems;
  auto def = xiaohao::CheckWorkflowDefinition(ss.str(), "crash.json", &problems);
  CHECK_FALSE(def.has_value());
  REQUIRE_FALSE(problems.empty());
  CHECK(problems.back().file == "crash.json");
}
