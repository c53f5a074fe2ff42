#include "engine/calendar.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <utility>

#include "store/time_format.h"

namespace xiaohao {

namespace {

constexpr const char* kDateHint =
    "write YYYY-MM-DD or an RFC 3339 timestamp like 2025-03-31T20:00:00+08:00";

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[m - 1] + (m == 2 && IsLeapYear(y) ? 1 : 0);
}

// Strict "YYYY-MM-DD" (exactly ten characters, a real day of years 1..9999).
bool ParseIsoDate(const std::string& s, Date* out) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  int v[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8}, lens[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (size_t i = starts[f]; i < starts[f] + lens[f]; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v[f] = v[f] * 10 + (s[i] - '0');
    }
  }
  if (!IsValidCivilDate(v[0], static_cast<unsigned>(v[1]), static_cast<unsigned>(v[2])))
    return false;
  *out = Date::FromYmd(v[0], static_cast<unsigned>(v[1]), static_cast<unsigned>(v[2]));
  return true;
}

// The same-numbered day n months after d, or that month's last day when it
// has none. DOMAIN.md "How periods are counted": 民法典 art. 202.
Date AddMonths(Date d, int n) {
  int y;
  unsigned m, day;
  CivilFromDays(d.days, &y, &m, &day);
  int64_t total = static_cast<int64_t>(y) * 12 + (m - 1) + n;
  int ny = static_cast<int>(total / 12);
  unsigned nm = static_cast<unsigned>(total % 12) + 1;
  return Date::FromYmd(ny, nm, std::min(day, DaysInMonth(ny, nm)));
}

bool IsWeekend(Date d) {
  int w = d.Weekday();
  return w == 0 || w == 6;
}

Status MissingYear(int year) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d", year);
  return Status::FailedPrecondition(
      std::string("no holiday calendar for ") + buf + ": add cn-" + buf +
      ".json from the State Council's holiday notice for " + buf +
      " (a year's holidays are never guessed)");
}

// The counting rules shared by the real calendar and the provisional
// (weekends-only) one. `rest(d)` answers "is d a rest day" for counting
// working days; `rest_for_end(d)` answers "does a period ending on d roll
// over" (they differ only when a 调休 working day does not end a period).
template <typename RestFn, typename RestForEndFn>
Result<Date> CountPeriod(Date start, Period period, const RollOverPolicy& policy, RestFn rest,
                         RestForEndFn rest_for_end) {
  Date last = start;
  switch (period.unit) {
    case Period::Unit::kWorkingDays: {
      // DOMAIN.md "How periods are counted": 行政许可法 art. 82, 行政处罚法
      // art. 85, 行政强制法 art. 69. Working days strictly after the start
      // day; a rest start day is not first moved to a working day (7wd from
      // Sun 2025-10-12 is 2025-10-21, not 10-22). 调休 days count.
      for (int counted = 0; counted < period.count;) {
        ++last.days;
        ASSIGN_OR_RETURN(bool is_rest, rest(last));
        if (!is_rest) ++counted;
      }
      return last;  // always a working day: no roll-over
    }
    case Period::Unit::kDays:
      // 民法典 art. 201: the start day is not counted.
      last.days = start.days + period.count;
      break;
    case Period::Unit::kMonths:
      // 民法典 art. 202: same-numbered day, else the month's last day.
      last = AddMonths(start, period.count);
      break;
  }
  if (!policy.roll_rest_day) return last;
  // 民法典 art. 203: a rest last day moves to the day after the rest ends.
  // Rest days inside the period are not deducted.
  for (;;) {
    ASSIGN_OR_RETURN(bool is_rest, rest_for_end(last));
    if (!is_rest) return last;
    ++last.days;
  }
}

// A JSON pointer token (RFC 6901 escaping).
std::string PointerToken(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// Builds "file: /pointer: block 春节: what" errors (engine/workflow_check.cc
// strips the leading "file: /pointer: " when it lists problems by file).
class FileErrors {
 public:
  explicit FileErrors(std::string file) : file_(std::move(file)) {}
  Status At(const std::string& pointer, const std::string& what,
            const std::string& block = {}) const {
    std::string msg = file_ + ": " + (pointer.empty() ? "/" : pointer);
    if (!block.empty()) msg += ": block " + block;
    msg += ": " + what;
    return Status::InvalidArgument(std::move(msg), pointer);
  }

 private:
  std::string file_;
};

Status CheckKeys(const nlohmann::json& obj, std::initializer_list<const char*> allowed,
                 const std::string& pointer, const FileErrors& err, const std::string& block) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = false;
    for (const char* k : allowed) known = known || it.key() == k;
    if (!known) {
      std::string list;
      for (const char* k : allowed) list += std::string(list.empty() ? "" : ", ") + k;
      return err.At(pointer + "/" + PointerToken(it.key()),
                    "unknown key '" + it.key() + "' (allowed: " + list + ")", block);
    }
  }
  return Status::OK();
}

Status RequireString(const nlohmann::json& obj, const char* key, const std::string& pointer,
                     const FileErrors& err, const std::string& block, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return err.At(pointer + "/" + key, "missing (a non-empty string)", block);
  if (!it->is_string() || it->get_ref<const std::string&>().empty())
    return err.At(pointer + "/" + key, "must be a non-empty string", block);
  *out = it->get<std::string>();
  return Status::OK();
}

Status RequireInt(const nlohmann::json& obj, const char* key, int lo, int hi,
                  const std::string& pointer, const FileErrors& err, int* out) {
  auto it = obj.find(key);
  if (it == obj.end())
    return err.At(pointer + "/" + key, "missing (an integer " + std::to_string(lo) + ".." +
                                            std::to_string(hi) + ")");
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi)
    return err.At(pointer + "/" + key, "must be an integer " + std::to_string(lo) + ".." +
                                           std::to_string(hi) + ", not " + it->dump());
  *out = static_cast<int>(it->get<int64_t>());
  return Status::OK();
}

// A date inside a file for `year`: a real day of that year, or of December
// of the year before (an 元旦 holiday can start on 30 December, as the 2019
// arrangement did). Anything else is most likely last year's file copied.
Status RequireDate(const nlohmann::json& v, int year, const std::string& pointer,
                   const FileErrors& err, const std::string& block, Date* out) {
  if (!v.is_string()) return err.At(pointer, "must be a date string YYYY-MM-DD", block);
  const std::string& s = v.get_ref<const std::string&>();
  if (!ParseIsoDate(s, out))
    return err.At(pointer, "'" + s + "' is not a date (write YYYY-MM-DD)", block);
  const Date first_allowed = Date::FromYmd(year - 1, 12, 1);
  const Date last_allowed = Date::FromYmd(year, 12, 31);
  if (*out < first_allowed || *out > last_allowed)
    return err.At(pointer,
                  s + " is outside " + std::to_string(year) + " (only " + std::to_string(year) +
                      " and December " + std::to_string(year - 1) + " may appear in this file)",
                  block);
  return Status::OK();
}

const char* const kWeekdayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};

}  // namespace

// ---- Date ------------------------------------------------------------------

int Date::Year() const {
  int y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  return y;
}

int Date::Weekday() const {
  // 1970-01-01 was a Thursday (4).
  int64_t w = (days + 4) % 7;
  return static_cast<int>(w < 0 ? w + 7 : w);
}

std::string Date::ToString() const {
  int y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return std::string(buf, static_cast<size_t>(n));
}

Date Date::FromYmd(int y, unsigned m, unsigned d) { return Date{DaysFromCivil(y, m, d)}; }

Result<Date> Date::Parse(const std::string& text) {
  Date out;
  if (ParseIsoDate(text, &out)) return out;
  if (text.size() > 10) {
    Result<Rfc3339> ts = ParseRfc3339(text);
    if (!ts.ok()) return ts.status();
    // DOMAIN.md: deadlines are CST dates; convert other offsets first.
    return OfInstant(ts->instant);
  }
  return Status::InvalidArgument("'" + text.substr(0, 64) + "' is not a date: " + kDateHint);
}

Date Date::OfInstant(UnixMicros t) { return Date{CstDayOf(t)}; }

UnixMicros Date::EndInstant() const { return CstMidnight(days + 1); }

// ---- Period ----------------------------------------------------------------

Result<Period> Period::Parse(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("'" + text.substr(0, 64) + "' is not a period (" + why +
                                   "): write 50d (days), 7wd (working days) or 2m (months)");
  };
  size_t i = 0;
  int64_t count = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    count = count * 10 + (text[i] - '0');
    if (count > 10000) return bad("the count must be 0..10000");
    ++i;
  }
  if (i == 0) return bad("it must start with a count");
  std::string unit = text.substr(i);
  Period p;
  p.count = static_cast<int>(count);
  if (unit == "d") {
    p.unit = Unit::kDays;
  } else if (unit == "wd") {
    p.unit = Unit::kWorkingDays;
  } else if (unit == "m") {
    p.unit = Unit::kMonths;
  } else {
    return bad(unit.empty() ? "missing unit" : "unknown unit '" + unit.substr(0, 16) + "'");
  }
  return p;
}

std::string Period::ToString() const {
  switch (unit) {
    case Unit::kDays: return std::to_string(count) + "d";
    case Unit::kWorkingDays: return std::to_string(count) + "wd";
    case Unit::kMonths: return std::to_string(count) + "m";
  }
  return std::to_string(count) + "?";
}

// ---- BusinessCalendar: loading ---------------------------------------------

Result<BusinessCalendar> BusinessCalendar::LoadDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status::NotFound("calendar directory " + dir + " does not exist");
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind("cn-", 0) != 0 || name.size() < 8 ||
        name.compare(name.size() - 5, 5, ".json") != 0)
      continue;  // README.md and other files are not calendars
    bool well_named = name.size() == 12 && std::all_of(name.begin() + 3, name.begin() + 7,
                                                       [](char c) { return c >= '0' && c <= '9'; });
    if (!well_named)
      return Status::InvalidArgument(it->path().string() +
                                     ": a calendar file must be named cn-YYYY.json");
    files.push_back(it->path());
  }
  if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
  if (files.empty())
    return Status::NotFound("no calendar files (cn-YYYY.json) in " + dir);
  std::sort(files.begin(), files.end());
  BusinessCalendar cal;
  for (const fs::path& p : files) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return Status::IOError("cannot open " + p.string());
    std::stringstream text;
    text << in.rdbuf();  // an empty file leaves text empty: the parser reports it
    RETURN_IF_ERROR(cal.AddYearJson(text.str(), p.string()));
  }
  return cal;
}

Status BusinessCalendar::AddYearJson(const std::string& json_text, const std::string& file_name) {
  // A value of an unexpected type that a check missed is an error naming the
  // file, never an exception out of here.
  try {
    return AddYearJsonUnguarded(json_text, file_name);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(file_name + ": a value has the wrong type: " + e.what());
  }
}

Status BusinessCalendar::AddYearJsonUnguarded(const std::string& json_text, const std::string& file_name) {
  const FileErrors err(file_name);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers too big
    return Status::InvalidArgument(file_name + ": not valid JSON: " + e.what());
  }
  if (!j.is_object())
    return err.At("", "must be a JSON object with year, version, notice and blocks");
  RETURN_IF_ERROR(CheckKeys(j, {"year", "version", "notice", "blocks", "note"}, "", err, ""));

  Year year;
  int y = 0;
  RETURN_IF_ERROR(RequireInt(j, "year", 1, 9999, "", err, &y));
  std::string base = std::filesystem::path(file_name).filename().string();
  if (base.size() == 12 && base.rfind("cn-", 0) == 0 && base.compare(7, 5, ".json") == 0 &&
      base.substr(3, 4) != std::to_string(y))
    return err.At("/year", std::to_string(y) + " does not match the file name " + base);
  RETURN_IF_ERROR(RequireInt(j, "version", 1, 1000000, "", err, &year.version));
  RETURN_IF_ERROR(RequireString(j, "notice", "", err, "", &year.source));

  auto blocks = j.find("blocks");
  if (blocks == j.end() || !blocks->is_array() || blocks->empty())
    return err.At("/blocks", "must be a non-empty array of holiday blocks");

  // Which block declared each day, to name both sides of a conflict.
  std::map<int64_t, std::string> off_by, work_by;
  for (size_t bi = 0; bi < blocks->size(); ++bi) {
    const nlohmann::json& b = (*blocks)[bi];
    const std::string bp = "/blocks/" + std::to_string(bi);
    if (!b.is_object()) return err.At(bp, "a block must be a JSON object");
    std::string name, notice;
    RETURN_IF_ERROR(RequireString(b, "name", bp, err, "", &name));
    RETURN_IF_ERROR(
        CheckKeys(b, {"name", "notice", "days_off", "adjusted_workdays", "note"}, bp, err, name));
    RETURN_IF_ERROR(RequireString(b, "notice", bp, err, name, &notice));

    auto off = b.find("days_off");
    const std::string op = bp + "/days_off";
    if (off == b.end() || !off->is_object())
      return err.At(op, "missing: write {\"first\": \"YYYY-MM-DD\", \"last\": \"YYYY-MM-DD\"}",
                    name);
    RETURN_IF_ERROR(CheckKeys(*off, {"first", "last", "total_days"}, op, err, name));
    if (!off->contains("first")) return err.At(op + "/first", "missing", name);
    if (!off->contains("last")) return err.At(op + "/last", "missing", name);
    Date first, last;
    RETURN_IF_ERROR(RequireDate(off->at("first"), y, op + "/first", err, name, &first));
    RETURN_IF_ERROR(RequireDate(off->at("last"), y, op + "/last", err, name, &last));
    if (last < first)
      return err.At(op + "/last", last.ToString() + " is before first " + first.ToString(), name);
    if (off->contains("total_days")) {
      // The notice states "共N天"; a mismatch is a typo in first or last.
      const nlohmann::json& t = off->at("total_days");
      int64_t span = last.days - first.days + 1;
      if (!t.is_number_integer() || t.get<int64_t>() != span)
        return err.At(op + "/total_days",
                      t.dump() + " does not match " + first.ToString() + ".." + last.ToString() +
                          " (" + std::to_string(span) + " days)",
                      name);
    }
    for (Date d = first; d <= last; ++d.days) {
      auto [it, inserted] = off_by.emplace(d.days, name);
      if (!inserted)
        return err.At(op, d.ToString() + " is already a day off in block " + it->second, name);
      year.holidays.insert(d.days);
    }

    auto adj = b.find("adjusted_workdays");
    const std::string ap = bp + "/adjusted_workdays";
    if (adj == b.end() || !adj->is_array())
      return err.At(ap, "missing: an array of dates, [] when there are none", name);
    for (size_t ai = 0; ai < adj->size(); ++ai) {
      const std::string dp = ap + "/" + std::to_string(ai);
      Date d;
      RETURN_IF_ERROR(RequireDate((*adj)[ai], y, dp, err, name, &d));
      // DOMAIN.md: a 调休上班 day is a weekend day declared a working day.
      if (!IsWeekend(d))
        return err.At(dp,
                      d.ToString() + " is a " + kWeekdayNames[d.Weekday()] +
                          ": an adjusted working day (调休上班) must be a Saturday or Sunday",
                      name);
      auto [it, inserted] = work_by.emplace(d.days, name);
      if (!inserted)
        return err.At(dp, d.ToString() + " is already an adjusted working day in block " +
                              it->second, name);
      year.adjusted_workdays.insert(d.days);
    }
  }
  for (const auto& [day, block] : work_by) {
    auto it = off_by.find(day);
    if (it != off_by.end())
      return err.At("/blocks", Date{day}.ToString() + " is both an adjusted working day (block " +
                                   block + ") and a day off (block " + it->second + ")");
  }

  auto existing = years_.find(y);
  if (existing != years_.end() && existing->second.version >= year.version)
    return Status(StatusCode::kAlreadyExists,
                  file_name + ": version " + std::to_string(year.version) + " of " +
                      std::to_string(y) + " cannot replace the loaded version " +
                      std::to_string(existing->second.version) +
                      " (an amended arrangement needs a higher version)",
                  "/version");
  years_[y] = std::move(year);
  return Status::OK();
}

// ---- BusinessCalendar: queries ---------------------------------------------

bool BusinessCalendar::HasYear(int year) const { return years_.count(year) > 0; }

std::set<int> BusinessCalendar::Years() const {
  std::set<int> out;
  for (const auto& [y, unused] : years_) out.insert(y);
  return out;
}

int BusinessCalendar::VersionOf(int year) const {
  auto it = years_.find(year);
  return it == years_.end() ? 0 : it->second.version;
}

Result<bool> BusinessCalendar::IsAdjustedWorkday(Date d) const {
  int y = d.Year();
  auto it = years_.find(y);
  if (it == years_.end()) return MissingYear(y);
  if (it->second.adjusted_workdays.count(d.days)) return true;
  auto next = years_.find(y + 1);  // December days named by next year's notice
  return next != years_.end() && next->second.adjusted_workdays.count(d.days) > 0;
}

Result<bool> BusinessCalendar::IsRestDay(Date d) const {
  int y = d.Year();
  auto it = years_.find(y);
  if (it == years_.end()) return MissingYear(y);
  auto next = years_.find(y + 1);
  auto in = [&](const std::set<int64_t> Year::*field) {
    return (it->second.*field).count(d.days) > 0 ||
           (next != years_.end() && (next->second.*field).count(d.days) > 0);
  };
  // DOMAIN.md "How periods are counted": a rest day is a statutory holiday
  // (法定休假日), or a Saturday or Sunday not declared a 调休 working day.
  if (in(&Year::adjusted_workdays)) return false;
  if (in(&Year::holidays)) return true;
  return IsWeekend(d);
}

Result<bool> BusinessCalendar::IsRestForPeriodEnd(Date d, const RollOverPolicy& policy) const {
  ASSIGN_OR_RETURN(bool rest, IsRestDay(d));
  if (rest || policy.adjusted_workday_is_workday) return rest;
  // Province setting: a 调休 Saturday does not end a period, so it rolls on.
  return IsWeekend(d);
}

Result<Date> BusinessCalendar::RollForward(Date d, const RollOverPolicy& policy) const {
  if (!policy.roll_rest_day) return d;
  for (;;) {
    ASSIGN_OR_RETURN(bool rest, IsRestForPeriodEnd(d, policy));
    if (!rest) return d;
    ++d.days;
  }
}

Result<Date> BusinessCalendar::PeriodEnd(Date start, Period period, RollOverPolicy policy) const {
  if (period.count < 0)
    return Status::InvalidArgument("a period cannot be negative: " + period.ToString());
  return CountPeriod(
      start, period, policy, [this](Date d) { return IsRestDay(d); },
      [this, &policy](Date d) { return IsRestForPeriodEnd(d, policy); });
}

Result<Date> BusinessCalendar::FixedDateEnd(Date last_day, RollOverPolicy policy) const {
  // A fixed date (31 March, 25 April, ...) is a period's last day like any
  // other: 民法典 art. 203 applies to it.
  return RollForward(last_day, policy);
}

Date BusinessCalendar::ProvisionalPeriodEnd(Date start, Period period) {
  auto weekend = [](Date d) -> Result<bool> { return IsWeekend(d); };
  if (period.count < 0) period.count = 0;
  // Cannot fail: the weekends-only predicate needs no calendar.
  return CountPeriod(start, period, RollOverPolicy{}, weekend, weekend).value();
}

Date FirstDayOfNextQuarter(Date d) {
  int y;
  unsigned m, day;
  CivilFromDays(d.days, &y, &m, &day);
  unsigned next = (m - 1) / 3 * 3 + 4;  // 4, 7, 10 or 13
  return next > 12 ? Date::FromYmd(y + 1, 1, 1) : Date::FromYmd(y, next, 1);
}

// ---- Extensions ------------------------------------------------------------

Result<ExtensionDecision> DecideExtension(const BusinessCalendar& cal, Date start,
                                          Period original, int extension_days, int cap_days,
                                          UnixMicros requested_at, bool has_reason,
                                          RollOverPolicy policy) {
  if (extension_days < 1)
    return Status::InvalidArgument("an extension must be at least 1 day, not " +
                                   std::to_string(extension_days));
  if (cap_days < 0)
    return Status::InvalidArgument("the extension cap cannot be negative: " +
                                   std::to_string(cap_days));
  ExtensionDecision out;
  ASSIGN_OR_RETURN(out.original_end, cal.PeriodEnd(start, original, policy));

  // Seed 001 §九: the extension is requested before the period expires. The
  // business date is the CST date of occurred_at (DOMAIN.md: a deadline date
  // ends at 24:00 CST), so a request on the last day itself is in time.
  const Date requested = Date::OfInstant(requested_at);
  if (requested > out.original_end)
    return Status(StatusCode::kRejected,
                  "extension requested on " + requested.ToString() +
                      " (CST), after the period ended on " + out.original_end.ToString() +
                      ": an extension must be requested before the period expires");
  out.in_time = true;

  // Seed 001 §九: "一般不超过20日"; more needs a stated reason.
  if (extension_days > cap_days) {
    if (!has_reason)
      return Status(StatusCode::kRejected,
                    "an extension of " + std::to_string(extension_days) +
                        " days exceeds the cap of " + std::to_string(cap_days) +
                        " days: state a reason to request it as an exception");
    out.exceptional = true;
  }

  // The extended period counts from the same start as the original, not from
  // the original's (possibly rolled) last day; the rest-day rule applies to
  // the new last day.
  switch (original.unit) {
    case Period::Unit::kDays:
    case Period::Unit::kWorkingDays: {
      Period extended = original;
      extended.count += extension_days;
      ASSIGN_OR_RETURN(out.extended_end, cal.PeriodEnd(start, extended, policy));
      break;
    }
    case Period::Unit::kMonths: {
      Date unrolled = AddMonths(start, original.count);
      unrolled.days += extension_days;
      ASSIGN_OR_RETURN(out.extended_end, cal.FixedDateEnd(unrolled, policy));
      break;
    }
  }
  return out;
}

}  // namespace xiaohao
