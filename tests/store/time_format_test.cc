#include "store/time_format.h"

#include <catch2/catch.hpp>

using namespace xiaohao;

TEST_CASE("RFC 3339 timestamps in any offset convert to the same instant and to CST dates") {
  auto a = ParseRfc3339("2025-03-31T20:00:00Z");
  auto b = ParseRfc3339("2025-04-01T04:00:00+08:00");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->instant == b->instant);
  CHECK(b->offset_minutes == 480);
  // 2025-03-31T20:00:00Z is already 1 April in CST (DOMAIN.md).
  int y;
  unsigned m, d;
  CivilFromDays(CstDayOf(a->instant), &y, &m, &d);
  CHECK((y == 2025 && m == 4 && d == 1));
  CHECK(FormatRfc3339Cst(a->instant) == "2025-04-01T04:00:00+08:00");
  CHECK(FormatRfc3339Utc(a->instant) == "2025-03-31T20:00:00Z");
  auto frac = ParseRfc3339("2024-02-29T23:59:59.5-05:00");
  REQUIRE(frac.ok());
  CHECK(FormatRfc3339Utc(frac->instant) == "2024-03-01T04:59:59.500000Z");
}

TEST_CASE("malformed timestamps are refused with a message naming the text") {
  for (const char* bad : {"", "2025-03-31", "2025-03-31T20:00:00", "2025-02-29T00:00:00Z",
                          "2025-13-01T00:00:00Z", "2025-03-31T24:00:00Z", "2025-03-31T20:00:00+8",
                          "2025-03-31T20:00:00Zjunk", "2025-03-31T20:00:00.Z"}) {
    INFO(bad);
    auto r = ParseRfc3339(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("RFC 3339"));
  }
}
