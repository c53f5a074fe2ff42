// Tests for engine/calendar.h: the shipped 2024-2026 calendars against
// DOMAIN.md's table, legal period counting (民法典 arts. 200-204, 行政许可法
// art. 82), extensions (seed 001 §九) and malformed calendar files.
//
// Expected dates are written out by hand from DOMAIN.md, never computed by
// the code under test.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "engine/calendar.h"
#include "store/time_format.h"
#include "tests/test_util.h"

namespace xiaohao {
namespace {

using testing::SourceDir;
using testing::TempDir;

Date D(const std::string& text) {
  Result<Date> d = Date::Parse(text);
  REQUIRE(d.ok());
  return *d;
}

Period P(const std::string& text) {
  Result<Period> p = Period::Parse(text);
  REQUIRE(p.ok());
  return *p;
}

UnixMicros At(const std::string& rfc3339) {
  Result<Rfc3339> t = ParseRfc3339(rfc3339);
  REQUIRE(t.ok());
  return t->instant;
}

const BusinessCalendar& Shipped() {
  static const BusinessCalendar* cal = [] {
    Result<BusinessCalendar> r = BusinessCalendar::LoadDir(SourceDir() + "/workflows/calendars");
    if (!r.ok()) FAIL("cannot load the shipped calendars: " << r.status().ToString());
    return new BusinessCalendar(std::move(r).value());
  }();
  return *cal;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// DOMAIN.md "The holiday calendar is data", transcribed independently of the
// JSON files: days off (inclusive ranges) and adjusted working days (调休上班).
struct HolidayBlock {
  const char* name;
  const char* first;
  const char* last;
};
struct YearTable {
  int year;
  std::vector<HolidayBlock> blocks;
  std::vector<const char*> adjusted_workdays;
};
const std::vector<YearTable>& DomainTable() {
  static const std::vector<YearTable> table = {
      {2024,
       {{"元旦", "2024-01-01", "2024-01-01"},
        {"春节", "2024-02-10", "2024-02-17"},
        {"清明节", "2024-04-04", "2024-04-06"},
        {"劳动节", "2024-05-01", "2024-05-05"},
        {"端午节", "2024-06-10", "2024-06-10"},
        {"中秋节", "2024-09-15", "2024-09-17"},
        {"国庆节", "2024-10-01", "2024-10-07"}},
       {"2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11", "2024-09-14",
        "2024-09-29", "2024-10-12"}},
      {2025,
       {{"元旦", "2025-01-01", "2025-01-01"},
        {"春节", "2025-01-28", "2025-02-04"},
        {"清明节", "2025-04-04", "2025-04-06"},
        {"劳动节", "2025-05-01", "2025-05-05"},
        {"端午节", "2025-05-31", "2025-06-02"},
        {"国庆节、中秋节", "2025-10-01", "2025-10-08"}},
       {"2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"}},
      {2026,
       {{"元旦", "2026-01-01", "2026-01-03"},
        {"春节", "2026-02-15", "2026-02-23"},
        {"清明节", "2026-04-04", "2026-04-06"},
        {"劳动节", "2026-05-01", "2026-05-05"},
        {"端午节", "2026-06-19", "2026-06-21"},
        {"中秋节", "2026-09-25", "2026-09-27"},
        {"国庆节", "2026-10-01", "2026-10-07"}},
       {"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"}},
  };
  return table;
}

// ---- Dates and periods -----------------------------------------------------

TEST_CASE("Date parses dates and timestamps as CST dates", "[calendar][date]") {
  struct Row {
    const char* text;
    const char* cst_date;
  };
  const Row rows[] = {
      {"2025-03-31", "2025-03-31"},
      {"2024-02-29", "2024-02-29"},
      // DOMAIN.md: 2025-03-31T20:00:00Z is already 1 April in CST.
      {"2025-03-31T20:00:00Z", "2025-04-01"},
      {"2025-03-31T15:59:59Z", "2025-03-31"},
      {"2025-03-31T16:00:00Z", "2025-04-01"},
      {"2025-03-31T23:59:59+08:00", "2025-03-31"},
      {"2025-03-31T23:00:00-05:00", "2025-04-01"},
      {"2025-01-01T07:59:59+00:00", "2025-01-01"},
      {"2024-12-31T16:00:00Z", "2025-01-01"},
  };
  for (const Row& r : rows) {
    INFO(r.text);
    Result<Date> d = Date::Parse(r.text);
    REQUIRE(d.ok());
    CHECK(d->ToString() == r.cst_date);
  }
}

TEST_CASE("Date rejects malformed text with a message naming it", "[calendar][date]") {
  for (const char* bad : {"", "2025-02-30", "2025-13-01", "2025-2-3", "20250101", "2025/01/01",
                          "2025-01-01T25:00:00Z", "2025-01-01T10:00:00", "tomorrow"}) {
    INFO(bad);
    Result<Date> d = Date::Parse(bad);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(d.status().message(), Catch::Contains(std::string("'") + bad + "'"));
  }
}

TEST_CASE("Date helpers: weekday, year, end instant", "[calendar][date]") {
  CHECK(D("1970-01-01").Weekday() == 4);
  CHECK(D("2025-09-28").Weekday() == 0);  // Sunday
  CHECK(D("2025-10-11").Weekday() == 6);  // Saturday
  CHECK(D("1969-12-31").Weekday() == 3);
  CHECK(D("2024-12-31").Year() == 2024);
  CHECK(Date::FromYmd(2024, 2, 29).ToString() == "2024-02-29");
  // A deadline date ends at 24:00 CST = 16:00 UTC the same day.
  CHECK(FormatRfc3339Utc(D("2025-03-31").EndInstant()) == "2025-03-31T16:00:00Z");
  CHECK(Date::OfInstant(At("2025-03-31T16:00:00Z")) == D("2025-04-01"));
  CHECK(Date::OfInstant(D("2025-03-31").EndInstant() - 1) == D("2025-03-31"));
}

TEST_CASE("Period parses 50d, 7wd, 2m and rejects the rest", "[calendar][period]") {
  struct Row {
    const char* text;
    Period::Unit unit;
    int count;
  };
  const Row ok[] = {{"50d", Period::Unit::kDays, 50},
                    {"7wd", Period::Unit::kWorkingDays, 7},
                    {"2m", Period::Unit::kMonths, 2},
                    {"0d", Period::Unit::kDays, 0},
                    {"10000d", Period::Unit::kDays, 10000}};
  for (const Row& r : ok) {
    INFO(r.text);
    Result<Period> p = Period::Parse(r.text);
    REQUIRE(p.ok());
    CHECK(p->unit == r.unit);
    CHECK(p->count == r.count);
    CHECK(p->ToString() == r.text);
  }
  for (const char* bad : {"", "d", "50", "50x", "-5d", "10001d", "5 d", "5D", "7w", "2mo", "+3d"}) {
    INFO(bad);
    Result<Period> p = Period::Parse(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(p.status().message(), Catch::Contains("not a period"));
  }
}

// ---- The shipped calendars -------------------------------------------------

TEST_CASE("Shipped calendars load with their years and versions", "[calendar][data]") {
  const BusinessCalendar& cal = Shipped();
  CHECK(cal.Years() == std::set<int>{2024, 2025, 2026});
  for (int y : {2024, 2025, 2026}) CHECK(cal.VersionOf(y) == 1);
  CHECK(cal.VersionOf(2027) == 0);
  CHECK_FALSE(cal.HasYear(2023));
}

TEST_CASE("Every holiday block of 2024-2026 is rest, with working days around it",
          "[calendar][data]") {
  const BusinessCalendar& cal = Shipped();
  for (const YearTable& y : DomainTable()) {
    for (const HolidayBlock& b : y.blocks) {
      INFO(y.year << " " << b.name);
      for (Date d = D(b.first); d <= D(b.last); ++d.days) {
        INFO(d.ToString());
        Result<bool> rest = cal.IsRestDay(d);
        REQUIRE(rest.ok());
        CHECK(*rest);
        CHECK_FALSE(*cal.IsAdjustedWorkday(d));
      }
    }
  }
}

TEST_CASE("Every 调休 day of 2024-2026 is an adjusted working day", "[calendar][data]") {
  const BusinessCalendar& cal = Shipped();
  for (const YearTable& y : DomainTable()) {
    for (const char* text : y.adjusted_workdays) {
      INFO(text);
      Date d = D(text);
      CHECK((d.Weekday() == 0 || d.Weekday() == 6));  // a weekend day ...
      CHECK_FALSE(*cal.IsRestDay(d));                   // ... declared a working day
      CHECK(*cal.IsAdjustedWorkday(d));
    }
  }
}

TEST_CASE("Every day of 2024-2026 matches DOMAIN.md's table", "[calendar][data]") {
  // Rest iff in a block, or a weekend day not declared 调休上班.
  const BusinessCalendar& cal = Shipped();
  for (const YearTable& y : DomainTable()) {
    std::set<int64_t> off, work;
    for (const HolidayBlock& b : y.blocks)
      for (Date d = D(b.first); d <= D(b.last); ++d.days) off.insert(d.days);
    for (const char* t : y.adjusted_workdays) work.insert(D(t).days);
    int rest_days = 0;
    for (Date d = Date::FromYmd(y.year, 1, 1); d <= Date::FromYmd(y.year, 12, 31); ++d.days) {
      bool weekend = d.Weekday() == 0 || d.Weekday() == 6;
      bool expected = off.count(d.days) || (weekend && !work.count(d.days));
      INFO(d.ToString());
      Result<bool> rest = cal.IsRestDay(d);
      REQUIRE(rest.ok());
      CHECK(*rest == expected);
      rest_days += *rest;
    }
    // Rest days per year, counted by hand from the table (catches a table
    // row that is wrong in the same way as the file).
    INFO(y.year);
    CHECK(rest_days == (y.year == 2024 ? 115 : 117));
  }
}

TEST_CASE("Spot checks: ordinary days, weekends, 除夕 2024", "[calendar][data]") {
  const BusinessCalendar& cal = Shipped();
  struct Row {
    const char* date;
    bool rest;
  };
  const Row rows[] = {
      {"2025-03-31", false},  // Monday
      {"2025-04-05", true},   // Saturday inside 清明节
      {"2025-03-29", true},   // ordinary Saturday
      {"2025-03-30", true},   // ordinary Sunday
      {"2024-02-09", false},  // 除夕 2024 is not in the notice's days off
      {"2025-10-09", false},  // first working day after National Day 2025
      {"2026-01-04", false},  // Sunday 调休 after 元旦 2026
      {"2024-12-31", false},
  };
  for (const Row& r : rows) {
    INFO(r.date);
    CHECK(*cal.IsRestDay(D(r.date)) == r.rest);
  }
}

// ---- Period counting -------------------------------------------------------

struct PeriodRow {
  const char* start;
  const char* period;
  const char* end;
  const char* why;
};

void CheckPeriods(const std::vector<PeriodRow>& rows, RollOverPolicy policy = {}) {
  for (const PeriodRow& r : rows) {
    INFO(r.period << " from " << r.start << ": " << r.why);
    Result<Date> end = Shipped().PeriodEnd(D(r.start), P(r.period), policy);
    REQUIRE(end.ok());
    CHECK(end->ToString() == r.end);
  }
}

TEST_CASE("DOMAIN.md worked examples", "[calendar][period]") {
  CheckPeriods({
      {"2025-09-26", "7wd", "2025-10-13", "Sun 09-28 and Sat 10-11 are 调休 working days"},
      {"2026-02-11", "7wd", "2026-02-27", "Spring Festival in between"},
      {"2025-10-12", "7wd", "2025-10-21", "a rest start day is not first moved (not 10-22)"},
      {"2025-09-26", "50d", "2025-11-17", "50th day Sat 11-15 rolls to Mon 11-17"},
      // More rest start days, counted from the day itself (not from 10-09 / 03-02).
      {"2025-10-04", "7wd", "2025-10-16", "start inside National Day; Sat 10-11 counts"},
      {"2026-03-01", "5wd", "2026-03-06", "start on an ordinary Sunday"},
  });
}

TEST_CASE("Periods ending inside Spring Festival roll to the next working day",
          "[calendar][period]") {
  CheckPeriods({
      {"2024-02-07", "5d", "2024-02-18", "02-12 in 春节; Sun 02-18 is 调休上班"},
      {"2025-01-20", "10d", "2025-02-05", "01-30 in 春节 01-28..02-04"},
      {"2026-02-10", "10d", "2026-02-24", "02-20 in 春节 02-15..02-23"},
      {"2024-12-28", "1m", "2025-02-05", "same-numbered day 01-28 is 除夕 2025"},
      {"2024-02-09", "5wd", "2024-02-22", "Sun 02-18 counts as a working day"},
      {"2025-01-24", "3wd", "2025-02-05", "Sun 01-26 counts, then the holiday"},
      {"2026-02-13", "2wd", "2026-02-24", "Sat 02-14 counts, then the holiday"},
  });
}

TEST_CASE("Periods ending inside National Day roll to the next working day",
          "[calendar][period]") {
  CheckPeriods({
      {"2024-09-25", "10d", "2024-10-08", "10-05 in 国庆 10-01..10-07"},
      {"2025-09-28", "5d", "2025-10-09", "10-03 in 国庆中秋 10-01..10-08"},
      {"2026-09-30", "3d", "2026-10-08", "10-03 in 国庆 10-01..10-07"},
      {"2025-10-01", "0d", "2025-10-09", "a 0-day period on a holiday still rolls"},
      {"2024-09-01", "1m", "2024-10-08", "same-numbered day 10-01 is National Day"},
      {"2025-09-26", "15d", "2025-10-11", "Sat 10-11 is 调休上班: no roll-over"},
  });
}

TEST_CASE("7 working days across National Day", "[calendar][period]") {
  CheckPeriods({
      {"2024-09-27", "7wd", "2024-10-12", "Sun 09-29 and Sat 10-12 are 调休上班"},
      {"2025-09-26", "7wd", "2025-10-13", "Sun 09-28 and Sat 10-11 are 调休上班"},
      {"2026-09-30", "7wd", "2026-10-15", "Sat 10-10 is 调休上班"},
      {"2025-09-30", "1wd", "2025-10-09", "the whole holiday is skipped"},
  });
}

TEST_CASE("Year boundaries", "[calendar][period]") {
  CheckPeriods({
      {"2024-12-28", "4d", "2025-01-02", "01-01 is 元旦"},
      {"2025-12-29", "3d", "2026-01-04", "元旦 01-01..01-03, Sun 01-04 is 调休上班"},
      {"2025-12-30", "3wd", "2026-01-05", "12-31, Sun 01-04, Mon 01-05"},
      {"2024-12-31", "1wd", "2025-01-02", "01-01 is 元旦"},
      {"2024-12-31", "2m", "2025-02-28", "no 31 February: the month's last day"},
      {"2023-12-25", "10d", "2024-01-04", "only the days looked at need a calendar"},
  });
}

TEST_CASE("Months: same-numbered day or the month's last day, 29 Feb 2024",
          "[calendar][period]") {
  // DOMAIN.md "How periods are counted": 民法典 art. 202.
  CheckPeriods({
      {"2024-01-31", "1m", "2024-02-29", "leap year: 29 Feb, a Thursday"},
      {"2024-01-29", "1m", "2024-02-29", "same-numbered day"},
      {"2024-02-29", "1m", "2024-03-29", ""},
      {"2024-02-29", "12m", "2025-02-28", "no 29 Feb 2025"},
      {"2025-01-31", "1m", "2025-02-28", "not a leap year"},
      {"2024-03-31", "1m", "2024-04-30", "no 31 April"},
      {"2024-02-28", "1d", "2024-02-29", ""},
      {"2026-01-31", "1m", "2026-02-28", "Sat 02-28 is 调休上班: no roll-over"},
      {"2025-04-01", "1m", "2025-05-06", "05-01..05-05 劳动节"},
  });
}

TEST_CASE("A province may make 调休 days not end a period", "[calendar][period]") {
  RollOverPolicy policy;
  policy.adjusted_workday_is_workday = false;
  CheckPeriods(
      {
          {"2024-02-07", "5d", "2024-02-19", "Sun 02-18 no longer ends the period"},
          {"2025-09-26", "15d", "2025-10-13", "Sat 10-11, Sun 10-12, then Monday"},
          {"2026-01-31", "1m", "2026-03-02", "Sat 02-28, Sun 03-01, then Monday"},
          {"2025-12-29", "3d", "2026-01-05", "Sun 01-04 skipped"},
          // Working days are counted the same: 调休 days always count.
          {"2025-09-26", "7wd", "2025-10-13", "unchanged"},
      },
      policy);
}

TEST_CASE("Without roll-over the arithmetic last day stands", "[calendar][period]") {
  RollOverPolicy policy;
  policy.roll_rest_day = false;
  CheckPeriods(
      {
          {"2025-09-26", "50d", "2025-11-15", "Saturday kept"},
          {"2024-09-01", "1m", "2024-10-01", "National Day kept"},
          {"2025-09-26", "7wd", "2025-10-13", "working days unaffected"},
      },
      policy);
}

TEST_CASE("Fixed dates on rest days roll to the next working day", "[calendar][fixed]") {
  struct Row {
    const char* date;
    const char* rolled;
    const char* why;
  };
  const Row rows[] = {
      {"2024-03-31", "2024-04-01", "self-inspection report due 31 March, a Sunday"},
      {"2026-04-25", "2026-04-27", "annual plan due 25 April, a Saturday"},
      {"2026-11-15", "2026-11-16", "annual summary due 15 November, a Sunday"},
      {"2025-10-01", "2025-10-09", "Q4 statistics due 1 October, National Day"},
      {"2025-03-31", "2025-03-31", "a Monday stays"},
      {"2025-12-10", "2025-12-10", "a Wednesday stays"},
      {"2026-02-28", "2026-02-28", "a 调休 Saturday stays"},
  };
  for (const Row& r : rows) {
    INFO(r.date << ": " << r.why);
    Result<Date> end = Shipped().FixedDateEnd(D(r.date));
    REQUIRE(end.ok());
    CHECK(end->ToString() == r.rolled);
    RollOverPolicy keep;
    keep.roll_rest_day = false;
    CHECK(Shipped().FixedDateEnd(D(r.date), keep)->ToString() == r.date);
  }
  RollOverPolicy strict;
  strict.adjusted_workday_is_workday = false;
  CHECK(Shipped().FixedDateEnd(D("2026-02-28"), strict)->ToString() == "2026-03-02");
}

TEST_CASE("The first day of the next quarter, then rolled", "[calendar][fixed]") {
  struct Row {
    const char* in;
    const char* quarter_start;
    const char* rolled;
  };
  const Row rows[] = {
      {"2025-02-15", "2025-04-01", "2025-04-01"},
      {"2025-06-30", "2025-07-01", "2025-07-01"},
      {"2025-09-15", "2025-10-01", "2025-10-09"},
      {"2025-12-31", "2026-01-01", "2026-01-04"},  // 元旦 2026, Sun 01-04 调休上班
      {"2024-01-01", "2024-04-01", "2024-04-01"},
  };
  for (const Row& r : rows) {
    INFO(r.in);
    Date q = FirstDayOfNextQuarter(D(r.in));
    CHECK(q.ToString() == r.quarter_start);
    CHECK(Shipped().FixedDateEnd(q)->ToString() == r.rolled);
  }
}

TEST_CASE("Provisional periods count weekends only", "[calendar][provisional]") {
  CHECK(BusinessCalendar::ProvisionalPeriodEnd(D("2025-09-26"), P("50d")).ToString() ==
        "2025-11-17");
  // National Day is not known to the provisional count.
  CHECK(BusinessCalendar::ProvisionalPeriodEnd(D("2025-09-26"), P("7wd")).ToString() ==
        "2025-10-07");
  CHECK(BusinessCalendar::ProvisionalPeriodEnd(D("2027-01-31"), P("1m")).ToString() ==
        "2027-03-01");  // 2027-02-28 is a Sunday
}

// ---- Missing years ---------------------------------------------------------

TEST_CASE("A missing year fails loudly, naming the year", "[calendar][missing]") {
  const BusinessCalendar& cal = Shipped();
  auto check = [](const Status& s, const char* year) {
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK_THAT(s.message(), Catch::Contains(std::string("no holiday calendar for ") + year));
  };
  check(cal.IsRestDay(D("2023-12-31")).status(), "2023");
  check(cal.IsAdjustedWorkday(D("2027-01-04")).status(), "2027");
  check(cal.IsRestDay(D("2027-01-01")).status(), "2027");
  check(cal.PeriodEnd(D("2026-12-01"), P("50d")).status(), "2027");
  check(cal.PeriodEnd(D("2026-12-28"), P("7wd")).status(), "2027");
  check(cal.PeriodEnd(D("2026-11-30"), P("2m")).status(), "2027");
  check(cal.FixedDateEnd(D("2027-03-31")).status(), "2027");
  check(DecideExtension(cal, D("2026-12-01"), P("50d"), 20, 20, At("2026-12-10T10:00:00+08:00"),
                        false)
            .status(),
        "2027");
}

TEST_CASE("Roll-over that walks into a missing year fails", "[calendar][missing]") {
  // Only 2024 loaded: 2d from 2024-12-30 ends on 2025-01-01.
  TempDir dir;
  WriteFile(dir.Sub("cn-2024.json"),
            ReadFile(SourceDir() + "/workflows/calendars/cn-2024.json"));
  Result<BusinessCalendar> only2024 = BusinessCalendar::LoadDir(dir.path());
  REQUIRE(only2024.ok());
  CHECK(only2024->PeriodEnd(D("2024-12-30"), P("1d"))->ToString() == "2024-12-31");
  Result<Date> end = only2024->PeriodEnd(D("2024-12-30"), P("2d"));
  REQUIRE_FALSE(end.ok());
  CHECK(end.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(end.status().message(), Catch::Contains("2025"));

  // A rest 31 December rolls into the next year: it must not guess it.
  BusinessCalendar cal;
  REQUIRE(cal.AddYearJson(R"({"year": 2030, "version": 1, "notice": "test",
      "blocks": [{"name": "test", "notice": "test",
                  "days_off": {"first": "2030-12-31", "last": "2030-12-31"},
                  "adjusted_workdays": []}]})",
                          "cn-2030.json")
              .ok());
  Result<Date> rolled = cal.FixedDateEnd(D("2030-12-31"));
  REQUIRE_FALSE(rolled.ok());
  CHECK(rolled.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(rolled.status().message(), Catch::Contains("2031"));
}

// ---- Extensions (seed 001 §九: 50 days, request before expiry, cap 20) -----

TEST_CASE("Extensions: in time, on the last day, late, over the cap", "[calendar][extension]") {
  const BusinessCalendar& cal = Shipped();
  const Date start = D("2025-09-26");  // original 50d ends Mon 2025-11-17 after roll-over
  struct Row {
    const char* requested_at;
    int days;
    int cap;
    bool reason;
    const char* extended_end;  // nullptr: rejected
    bool exceptional;
    const char* why;
  };
  const Row rows[] = {
      {"2025-11-10T10:00:00+08:00", 20, 20, false, "2025-12-05", false,
       "70 days from the same start, not 20 days after 11-17 (which gives 12-08)"},
      {"2025-11-15T09:00:00+08:00", 20, 20, false, "2025-12-05", false,
       "the unrolled 50th day, Saturday: in time"},
      {"2025-11-17T23:59:59+08:00", 20, 20, false, "2025-12-05", false,
       "on the last day after roll-over"},
      {"2025-11-17T15:59:59Z", 20, 20, false, "2025-12-05", false,
       "23:59:59 CST on the last day"},
      {"2025-11-18T00:00:00+08:00", 20, 20, false, nullptr, false, "a day late"},
      {"2025-11-17T16:00:00Z", 20, 20, false, nullptr, false, "00:00 CST on 11-18: late"},
      {"2025-11-17T23:00:00-05:00", 20, 20, false, nullptr, false,
       "still 11-17 in New York, 11-18 in CST: late"},
      {"2025-11-10T10:00:00+08:00", 21, 30, false, "2025-12-08", false,
       "71st day Sat 12-06 rolls to Mon 12-08"},
      {"2025-11-10T10:00:00+08:00", 10, 20, false, "2025-11-25", false, "under the cap: 60d"},
      {"2025-11-10T10:00:00+08:00", 25, 20, false, nullptr, false, "over the cap, no reason"},
      {"2025-11-10T10:00:00+08:00", 25, 20, true, "2025-12-10", true,
       "over the cap with a reason: exceptional"},
      {"2025-11-18T09:00:00+08:00", 25, 20, true, nullptr, false,
       "late and over the cap: late wins"},
  };
  for (const Row& r : rows) {
    INFO(r.why << " (" << r.requested_at << ", " << r.days << " days, cap " << r.cap << ")");
    Result<ExtensionDecision> d =
        DecideExtension(cal, start, P("50d"), r.days, r.cap, At(r.requested_at), r.reason);
    if (r.extended_end == nullptr) {
      REQUIRE_FALSE(d.ok());
      CHECK(d.status().code() == StatusCode::kRejected);
      CHECK_FALSE(d.status().message().empty());
      continue;
    }
    REQUIRE(d.ok());
    CHECK(d->in_time);
    CHECK(d->exceptional == r.exceptional);
    CHECK(d->original_end.ToString() == "2025-11-17");
    CHECK(d->extended_end.ToString() == r.extended_end);
  }
}

TEST_CASE("Extension rejections say why", "[calendar][extension]") {
  const BusinessCalendar& cal = Shipped();
  Result<ExtensionDecision> late = DecideExtension(
      cal, D("2025-09-26"), P("50d"), 20, 20, At("2025-11-18T09:00:00+08:00"), false);
  REQUIRE_FALSE(late.ok());
  CHECK_THAT(late.status().message(), Catch::Contains("2025-11-18") &&
                                          Catch::Contains("2025-11-17") &&
                                          Catch::Contains("before the period expires"));
  Result<ExtensionDecision> over = DecideExtension(
      cal, D("2025-09-26"), P("50d"), 25, 20, At("2025-11-10T09:00:00+08:00"), false);
  REQUIRE_FALSE(over.ok());
  CHECK_THAT(over.status().message(),
             Catch::Contains("cap of 20 days") && Catch::Contains("reason"));
}

TEST_CASE("Extensions of working-day and month periods", "[calendar][extension]") {
  const BusinessCalendar& cal = Shipped();
  // 7wd + 3wd from 2025-09-26: 10 working days.
  Result<ExtensionDecision> wd = DecideExtension(cal, D("2025-09-26"), P("7wd"), 3, 5,
                                                 At("2025-10-13T17:00:00+08:00"), false);
  REQUIRE(wd.ok());
  CHECK(wd->original_end.ToString() == "2025-10-13");
  CHECK(wd->extended_end.ToString() == "2025-10-16");
  // 1m from 2025-03-31 is 04-30; + 5 days is 05-05 (劳动节) -> 05-06.
  Result<ExtensionDecision> m = DecideExtension(cal, D("2025-03-31"), P("1m"), 5, 20,
                                                At("2025-04-30T12:00:00+08:00"), false);
  REQUIRE(m.ok());
  CHECK(m->original_end.ToString() == "2025-04-30");
  CHECK(m->extended_end.ToString() == "2025-05-06");
}

TEST_CASE("Extension arguments are checked", "[calendar][extension]") {
  const BusinessCalendar& cal = Shipped();
  UnixMicros t = At("2025-10-01T10:00:00+08:00");
  CHECK(DecideExtension(cal, D("2025-09-26"), P("50d"), 0, 20, t, false).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(DecideExtension(cal, D("2025-09-26"), P("50d"), -3, 20, t, true).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(DecideExtension(cal, D("2025-09-26"), P("50d"), 5, -1, t, true).status().code() ==
        StatusCode::kInvalidArgument);
  // A cap of 0: any extension is exceptional.
  Result<ExtensionDecision> d = DecideExtension(cal, D("2025-09-26"), P("50d"), 1, 0, t, true);
  REQUIRE(d.ok());
  CHECK(d->exceptional);
  CHECK(d->extended_end.ToString() == "2025-11-17");  // 51st day is Sun 11-16
}

// ---- Calendar files --------------------------------------------------------

// A valid file for 2030 whose pieces a test replaces to break it.
std::string Year2030(const std::string& blocks, const std::string& head = "") {
  std::string h = head.empty() ? R"("year": 2030, "version": 1, "notice": "测试通知",)" : head;
  return "{" + h + R"( "blocks": )" + blocks + "}";
}
const char* const kGoodBlock =
    R"({"name": "春节", "notice": "测试通知",
        "days_off": {"first": "2030-02-02", "last": "2030-02-08", "total_days": 7},
        "adjusted_workdays": ["2030-01-26", "2030-02-09"]})";

TEST_CASE("A valid synthetic file loads", "[calendar][file]") {
  BusinessCalendar cal;
  Status s = cal.AddYearJson(Year2030(std::string("[") + kGoodBlock + "]"), "cn-2030.json");
  REQUIRE(s.ok());
  CHECK(*cal.IsRestDay(D("2030-02-04")));          // Monday in the block
  CHECK_FALSE(*cal.IsRestDay(D("2030-01-26")));    // Saturday 调休
  CHECK(*cal.IsAdjustedWorkday(D("2030-02-09")));  // Saturday 调休
  CHECK_FALSE(*cal.IsRestDay(D("2030-02-11")));    // Monday after
}

TEST_CASE("Malformed calendar files name the file and the entry", "[calendar][file]") {
  struct Row {
    const char* what;
    std::string json;
    std::vector<std::string> message_has;
    const char* field;  // the JSON pointer in Status::field(), "" when none
  };
  const std::string weekday_workday =
      R"([{"name": "春节", "notice": "n", "days_off": {"first": "2030-02-02", "last": "2030-02-08"},
           "adjusted_workdays": ["2030-01-28"]}])";
  const std::vector<Row> rows = {
      {"not JSON", "{\"year\": 2030,", {"cn-2030.json", "not valid JSON"}, ""},
      {"not an object", "[1, 2]", {"cn-2030.json", "JSON object"}, ""},
      {"missing year", Year2030("[]", R"("version": 1, "notice": "n",)"), {"/year", "missing"},
       "/year"},
      {"year is text", Year2030("[]", R"("year": "2030", "version": 1, "notice": "n",)"),
       {"/year", "integer"}, "/year"},
      {"year does not match the file name",
       Year2030(std::string("[") + kGoodBlock + "]",
                R"("year": 2031, "version": 1, "notice": "n",)"),
       {"cn-2030.json", "2031", "does not match"}, "/year"},
      {"version 0", Year2030("[]", R"("year": 2030, "version": 0, "notice": "n",)"),
       {"/version"}, "/version"},
      {"missing notice", Year2030("[]", R"("year": 2030, "version": 1,)"), {"/notice"},
       "/notice"},
      {"empty blocks", Year2030("[]"), {"/blocks", "non-empty"}, "/blocks"},
      {"unknown top-level key", Year2030("[]", R"("year": 2030, "version": 1, "notice": "n",
           "verison": 2,)"),
       {"/verison", "unknown key"}, "/verison"},
      {"block not an object", Year2030("[42]"), {"/blocks/0"}, "/blocks/0"},
      {"block without a name",
       Year2030(R"([{"notice": "n", "days_off": {"first": "2030-02-02", "last": "2030-02-02"},
                     "adjusted_workdays": []}])"),
       {"/blocks/0/name"}, "/blocks/0/name"},
      {"block without a notice",
       Year2030(R"([{"name": "春节", "days_off": {"first": "2030-02-02", "last": "2030-02-02"},
                     "adjusted_workdays": []}])"),
       {"/blocks/0/notice", "春节"}, "/blocks/0/notice"},
      {"misspelt key in a block",
       Year2030(R"([{"name": "春节", "notice": "n", "days_off": {"first": "2030-02-02",
                     "last": "2030-02-02"}, "adjusted_workday": []}])"),
       {"/blocks/0/adjusted_workday", "春节", "unknown key"}, "/blocks/0/adjusted_workday"},
      {"impossible date",
       Year2030(R"([{"name": "春节", "notice": "n", "days_off": {"first": "2030-02-30",
                     "last": "2030-03-02"}, "adjusted_workdays": []}])"),
       {"/blocks/0/days_off/first", "春节", "2030-02-30"}, "/blocks/0/days_off/first"},
      {"date not YYYY-MM-DD",
       Year2030(R"([{"name": "清明节", "notice": "n", "days_off": {"first": "2030-04-05",
                     "last": "2030-4-7"}, "adjusted_workdays": []}])"),
       {"/blocks/0/days_off/last", "清明节", "2030-4-7"}, "/blocks/0/days_off/last"},
      {"last before first",
       Year2030(R"([{"name": "春节", "notice": "n", "days_off": {"first": "2030-02-08",
                     "last": "2030-02-02"}, "adjusted_workdays": []}])"),
       {"/blocks/0/days_off/last", "before"}, "/blocks/0/days_off/last"},
      {"total_days mismatch",
       Year2030(R"([{"name": "春节", "notice": "n", "days_off": {"first": "2030-02-02",
                     "last": "2030-02-08", "total_days": 8}, "adjusted_workdays": []}])"),
       {"/blocks/0/days_off/total_days", "7 days"}, "/blocks/0/days_off/total_days"},
      {"last year's date copied",
       Year2030(R"([{"name": "劳动节", "notice": "n", "days_off": {"first": "2029-05-01",
                     "last": "2029-05-05"}, "adjusted_workdays": []}])"),
       {"/blocks/0/days_off/first", "劳动节", "2029-05-01", "outside 2030"},
       "/blocks/0/days_off/first"},
      {"adjusted working day on a Monday", Year2030(weekday_workday),
       {"/blocks/0/adjusted_workdays/0", "春节", "2030-01-28", "Monday"},
       "/blocks/0/adjusted_workdays/0"},
      {"missing adjusted_workdays",
       Year2030(R"([{"name": "春节", "notice": "n", "days_off": {"first": "2030-02-02",
                     "last": "2030-02-08"}}])"),
       {"/blocks/0/adjusted_workdays", "春节"}, "/blocks/0/adjusted_workdays"},
      {"missing days_off",
       Year2030(R"([{"name": "春节", "notice": "n", "adjusted_workdays": []}])"),
       {"/blocks/0/days_off", "春节"}, "/blocks/0/days_off"},
      {"overlapping blocks",
       Year2030(std::string("[") + kGoodBlock + R"(, {"name": "元宵", "notice": "n",
           "days_off": {"first": "2030-02-08", "last": "2030-02-08"}, "adjusted_workdays": []}])"),
       {"/blocks/1/days_off", "元宵", "2030-02-08", "春节"}, "/blocks/1/days_off"},
      {"a day both off and worked",
       Year2030(std::string("[") + kGoodBlock + R"(, {"name": "其他", "notice": "n",
           "days_off": {"first": "2030-02-09", "last": "2030-02-09"}, "adjusted_workdays": []}])"),
       {"2030-02-09", "春节", "其他"}, "/blocks"},
      {"the same 调休 day twice",
       Year2030(std::string("[") + kGoodBlock + R"(, {"name": "其他", "notice": "n",
           "days_off": {"first": "2030-03-01", "last": "2030-03-01"},
           "adjusted_workdays": ["2030-01-26"]}])"),
       {"/blocks/1/adjusted_workdays/0", "2030-01-26", "春节"}, "/blocks/1/adjusted_workdays/0"},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    BusinessCalendar cal;
    Status s = cal.AddYearJson(r.json, "cn-2030.json");
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::StartsWith("cn-2030.json: "));
    for (const std::string& part : r.message_has) CHECK_THAT(s.message(), Catch::Contains(part));
    CHECK(s.field() == r.field);
    CHECK(s.message().find('\n') == std::string::npos);
    CHECK_FALSE(cal.HasYear(2030));  // nothing half-loaded
  }
}

TEST_CASE("LoadDir names the file that is wrong", "[calendar][file]") {
  TempDir dir;
  WriteFile(dir.Sub("cn-2025.json"),
            ReadFile(SourceDir() + "/workflows/calendars/cn-2025.json"));
  WriteFile(dir.Sub("README.md"), "not a calendar");
  SECTION("a broken file") {
    WriteFile(dir.Sub("cn-2030.json"), Year2030(R"([{"name": "春节"}])"));
    Result<BusinessCalendar> cal = BusinessCalendar::LoadDir(dir.path());
    REQUIRE_FALSE(cal.ok());
    CHECK_THAT(cal.status().message(), Catch::StartsWith(dir.Sub("cn-2030.json") + ": "));
    CHECK_THAT(cal.status().message(), Catch::Contains("/blocks/0/notice"));
  }
  SECTION("an empty file") {
    WriteFile(dir.Sub("cn-2030.json"), "");
    Result<BusinessCalendar> cal = BusinessCalendar::LoadDir(dir.path());
    REQUIRE_FALSE(cal.ok());
    CHECK_THAT(cal.status().message(),
               Catch::Contains("cn-2030.json") && Catch::Contains("not valid JSON"));
  }
  SECTION("a badly named file") {
    WriteFile(dir.Sub("cn-30.json"), "{}");
    Result<BusinessCalendar> cal = BusinessCalendar::LoadDir(dir.path());
    REQUIRE_FALSE(cal.ok());
    CHECK_THAT(cal.status().message(), Catch::Contains("cn-30.json") && Catch::Contains("cn-YYYY"));
  }
  SECTION("other files are ignored") {
    Result<BusinessCalendar> cal = BusinessCalendar::LoadDir(dir.path());
    REQUIRE(cal.ok());
    CHECK(cal->Years() == std::set<int>{2025});
  }
}

TEST_CASE("LoadDir refuses a missing or empty directory", "[calendar][file]") {
  TempDir dir;
  Result<BusinessCalendar> empty = BusinessCalendar::LoadDir(dir.path());
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == StatusCode::kNotFound);
  CHECK_THAT(empty.status().message(), Catch::Contains(dir.path()));
  Result<BusinessCalendar> missing = BusinessCalendar::LoadDir(dir.Sub("nope"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains(dir.Sub("nope")));
}

TEST_CASE("An amended year replaces the loaded one only with a higher version",
          "[calendar][file]") {
  BusinessCalendar cal;
  const std::string v1 = Year2030(std::string("[") + kGoodBlock + "]");
  // The amendment extends 春节 by a day (as 国办发明电〔2020〕1号 extended 2020's).
  const std::string v2 = Year2030(
      R"([{"name": "春节", "notice": "延长春节假期的通知",
           "days_off": {"first": "2030-02-02", "last": "2030-02-11"},
           "adjusted_workdays": ["2030-01-26"]}])",
      R"("year": 2030, "version": 2, "notice": "测试通知",)");
  REQUIRE(cal.AddYearJson(v1, "cn-2030.json").ok());
  CHECK(cal.VersionOf(2030) == 1);
  CHECK_FALSE(*cal.IsRestDay(D("2030-02-11")));
  Status same = cal.AddYearJson(v1, "cn-2030.json");
  CHECK(same.code() == StatusCode::kAlreadyExists);
  REQUIRE(cal.AddYearJson(v2, "cn-2030.json").ok());
  CHECK(cal.VersionOf(2030) == 2);
  CHECK(*cal.IsRestDay(D("2030-02-11")));
  CHECK(*cal.IsRestDay(D("2030-02-09")));  // no longer 调休 in v2
  CHECK(cal.AddYearJson(v1, "cn-2030.json").code() == StatusCode::kAlreadyExists);
  CHECK(cal.VersionOf(2030) == 2);
}

TEST_CASE("A notice may name late-December days of the year before", "[calendar][file]") {
  // The 2019 arrangement: 2018-12-30..2019-01-01 off, Sat 2018-12-29 worked.
  const std::string y2019 =
      R"({"year": 2019, "version": 1, "notice": "国办发明电〔2018〕15号",
          "blocks": [{"name": "元旦", "notice": "国办发明电〔2018〕15号",
                      "days_off": {"first": "2018-12-30", "last": "2019-01-01",
                                   "total_days": 3},
                      "adjusted_workdays": ["2018-12-29"]}]})";
  const std::string y2018 =
      R"({"year": 2018, "version": 1, "notice": "n",
          "blocks": [{"name": "国庆节", "notice": "n",
                      "days_off": {"first": "2018-10-01", "last": "2018-10-07"},
                      "adjusted_workdays": []}]})";
  BusinessCalendar cal;
  REQUIRE(cal.AddYearJson(y2019, "cn-2019.json").ok());
  // 2018 itself is still unknown.
  CHECK(cal.IsRestDay(D("2018-12-31")).status().code() == StatusCode::kFailedPrecondition);
  REQUIRE(cal.AddYearJson(y2018, "cn-2018.json").ok());
  CHECK(*cal.IsRestDay(D("2018-12-31")));        // Monday, 元旦 2019
  CHECK_FALSE(*cal.IsRestDay(D("2018-12-29")));  // Saturday, 调休上班
  CHECK(*cal.IsAdjustedWorkday(D("2018-12-29")));
  CHECK(cal.PeriodEnd(D("2018-12-20"), P("10d"))->ToString() == "2019-01-02");
  // November of the year before is not allowed: most likely a copied file.
  BusinessCalendar strict;
  Status s = strict.AddYearJson(
      R"({"year": 2019, "version": 1, "notice": "n", "blocks": [{"name": "x", "notice": "n",
          "days_off": {"first": "2018-11-30", "last": "2018-11-30"}, "adjusted_workdays": []}]})",
      "cn-2019.json");
  CHECK(s.code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace xiaohao

// Found by tests/fuzz/fuzz_calendar.cc: a number too big for a double threw
// out_of_range out of AddYearJson instead of a clear error.
TEST_CASE("A calendar file with a number too large is an error, not a crash", "[calendar][file][fuzz]") {
  xiaohao::BusinessCalendar cal;
  xiaohao::Status s = cal.AddYearJson(R"({"year": 26666666666E66666, "version": 1})", "cn-huge.json");
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(), Catch::Contains("cn-huge.json"));
  CHECK_THAT(s.message(), Catch::Contains("not valid JSON"));
}
