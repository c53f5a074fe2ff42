// `xiaohao demo load` (scripts/run --demo): sample cases through the real engine, idempotently.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

using xiaohao::testing::RunXiaohao;
using xiaohao::testing::TempDir;

TEST_CASE("demo: sample cases load once, verify, and populate the risk list", "[demo]") {
  TempDir dir;
  std::string data = dir.Sub("var");
  auto first = RunXiaohao({"demo", "load", "--data", data, "--per-office", "7"});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.empty());  // every sample command was accepted by its workflow
  CHECK_THAT(first.out, Catch::Contains("270 commands written, 0 already there"));
  auto again = RunXiaohao({"demo", "load", "--data", data, "--per-office", "7"});
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("0 commands written, 270 already there"));
  auto v = RunXiaohao({"verify", "--data", data});
  CHECK(v.exit_code == 0);
  auto report = RunXiaohao({"report", "risk-list", "--data", data, "--office", "shizhu", "--format", "json"});
  REQUIRE(report.exit_code == 0);
  auto j = nlohmann::json::parse(report.out);
  int64_t opened = 0, closed = 0, referred = 0;
  for (const auto& row : j["rows"])
    if (row["unit"] == "shizhu") {
      opened += row["opened"].get<int64_t>();
      closed += row["closed"].get<int64_t>();
      referred += row["referred"].get<int64_t>();
    }
  CHECK(opened == 70);  // 7 items in each of the ten offices
  CHECK(closed == 10);
  CHECK(referred == 10);
  auto bad = RunXiaohao({"demo", "load"});
  CHECK(bad.exit_code == 2);
}
