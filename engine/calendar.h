// Business calendar and legal period counting (DOMAIN.md "How periods are
// counted"; 民法典 arts. 200-204, 行政许可法 art. 82).
//
// Every deadline in the engine goes through this library. Holidays and 调休
// working days are data (workflows/calendars/cn-YYYY.json, one file a year,
// each with a version); a year with no file is never guessed: the functions
// return kFailedPrecondition naming the missing year.
//
// Dates are CST civil dates (China Standard Time, UTC+8, no daylight saving)
// held as days since 1970-01-01. A deadline date ends at 24:00 CST.
//
// The file format is described in workflows/calendars/README.md.
#ifndef XIAOHAO_ENGINE_CALENDAR_H_
#define XIAOHAO_ENGINE_CALENDAR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/clock.h"
#include "store/status.h"

namespace xiaohao {

// A CST civil date: days since 1970-01-01.
struct Date {
  int64_t days = 0;
  bool operator==(const Date& o) const { return days == o.days; }
  bool operator!=(const Date& o) const { return days != o.days; }
  bool operator<(const Date& o) const { return days < o.days; }
  bool operator<=(const Date& o) const { return days <= o.days; }
  bool operator>(const Date& o) const { return days > o.days; }
  bool operator>=(const Date& o) const { return days >= o.days; }
  int Year() const;
  // 0 = Sunday, 1 = Monday, ..., 6 = Saturday.
  int Weekday() const;
  std::string ToString() const;  // "YYYY-MM-DD"
  static Date FromYmd(int y, unsigned m, unsigned d);
  // "YYYY-MM-DD", or an RFC 3339 timestamp converted to its CST date.
  static Result<Date> Parse(const std::string& text);
  // The CST date of an instant: 2025-03-31T20:00:00Z is 2025-04-01.
  static Date OfInstant(UnixMicros t);
  // 24:00 CST at the end of this date, as an instant (the moment a deadline
  // on this date has passed).
  UnixMicros EndInstant() const;
};

// A legal period: "50d" (日, calendar days), "7wd" (工作日, working days),
// "2m" (月, months).
struct Period {
  enum class Unit { kDays, kWorkingDays, kMonths };
  Unit unit = Unit::kDays;
  int count = 0;
  static Result<Period> Parse(const std::string& text);  // count 0..10000
  std::string ToString() const;
};

// How a period's last day is treated when it falls on a rest day.
struct RollOverPolicy {
  bool roll_rest_day = true;              // move a rest last day to the next working day
  bool adjusted_workday_is_workday = true;  // a 调休 working day ends a period (DOMAIN.md default)
};

// The holiday calendar: statutory holidays and 调休 working days, per year.
//
// Thread safety: const methods may be called concurrently; AddYearJson
// needs external synchronization.
class BusinessCalendar {
 public:
  // Loads every cn-YYYY.json in dir. Errors name the file and the entry.
  // A missing directory, or one without any cn-YYYY.json, is kNotFound (so a
  // wrong path is not reported later as "no calendar for 2025").
  static Result<BusinessCalendar> LoadDir(const std::string& dir);
  // Loads one file's JSON text (for `workflows check` and tests). file_name
  // is used in messages; when its base name is cn-YYYY.json, YYYY must match
  // the file's "year". A year already loaded is replaced only by a strictly
  // higher version (an amended arrangement): same or lower is kAlreadyExists.
  // On error nothing is changed.
  Status AddYearJson(const std::string& json_text, const std::string& file_name);

  bool HasYear(int year) const;
  std::set<int> Years() const;
  // The version of a loaded year's file (0 when not loaded).
  int VersionOf(int year) const;

  // kFailedPrecondition "no holiday calendar for 2027 ..." when the year is missing.
  Result<bool> IsRestDay(Date d) const;
  Result<bool> IsAdjustedWorkday(Date d) const;  // a weekend day declared a working day (调休)

  // The last day of `period` counted from `start` (start day not counted),
  // after the rest-day rule. Working-day periods always count 调休 working
  // days and always end on a working day; the policy affects only day and
  // month periods. A period of 0 days/months ends on `start` (then the
  // rest-day rule); 0 working days is `start` itself.
  Result<Date> PeriodEnd(Date start, Period period, RollOverPolicy policy = {}) const;
  // A fixed date as a period's last day: rolled to the next working day when
  // it is a rest day (if policy.roll_rest_day).
  Result<Date> FixedDateEnd(Date last_day, RollOverPolicy policy = {}) const;

  // Weekends-only counting for a provisional deadline when a year is missing
  // (DOMAIN.md: never guessed; the engine flags it provisional).
  static Date ProvisionalPeriodEnd(Date start, Period period);

 private:
  Result<bool> IsRestForPeriodEnd(Date d, const RollOverPolicy& policy) const;
  Result<Date> RollForward(Date d, const RollOverPolicy& policy) const;

  struct Year {
    int version = 0;
    std::string source;  // the notice, e.g. 国办发明电〔2023〕7号
    std::set<int64_t> holidays;
    std::set<int64_t> adjusted_workdays;
  };
  // A file for year Y may also name days of Y-1 (an 元旦 block starting in
  // late December, as the 2019 arrangement did); they are looked up in both.
  Status AddYearJsonUnguarded(const std::string& json_text, const std::string& file_name);
  std::map<int, Year> years_;
};

// The 1st day of the first month of the quarter after the one containing d
// (seed 002: quarterly statistics are due then). Not rolled: pass the result
// to FixedDateEnd.
Date FirstDayOfNextQuarter(Date d);

// The result of an extension request (DOMAIN.md seed 001 §九: 50 days,
// extension requested before expiry, "generally" at most 20 days).
struct ExtensionDecision {
  bool in_time = false;        // requested on or before the original last day
  bool exceptional = false;    // more than the cap, allowed with a stated reason
  Date original_end;
  Date extended_end;
};
// The extended period is `original` plus the extension counted from the same
// start, with the rest-day rule applied to the new last day: for a day period
// start + (N + extension_days) days; for a working-day period N +
// extension_days working days (行政许可法 periods are all working days); for a
// month period the extension's days are added to the unrolled month end.
// The request is in time iff the CST date of requested_at is on or before the
// original last day after roll-over. cap_days comes from the workflow
// definition.
// Errors: kRejected with a reason when late, or over the cap without a reason;
// kInvalidArgument for extension_days < 1 or cap_days < 0; kFailedPrecondition
// for a missing calendar year.
Result<ExtensionDecision> DecideExtension(const BusinessCalendar& cal, Date start,
                                          Period original, int extension_days,
                                          int cap_days, UnixMicros requested_at,
                                          bool has_reason, RollOverPolicy policy = {});

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_CALENDAR_H_
