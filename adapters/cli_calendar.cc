// `xiaohao calendar is-workday` and `xiaohao calendar deadline`: the business
// calendar (engine/calendar.h) for people and scripts.
//
// Errors print one line on stderr and exit 2 with nothing on stdout, so a
// script can trust that any stdout is the answer.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "adapters/cli.h"
#include "engine/calendar.h"

namespace xiaohao {

namespace {

// --calendars DIR, else $XIAOHAO_CALENDARS, else the repository's
// workflows/calendars found from the binary's location.
std::string CalendarsDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("XIAOHAO_CALENDARS");
  if (env != nullptr && *env != '\0') return env;
  return DefaultWorkflowsDir() + "/calendars";
}

// Prints "xiaohao calendar <cmd>: <message>" on one line and sets exit 2.
void Fail(const char* cmd, const Status& s, int* exit_code) {
  std::string msg = s.message();
  for (char& c : msg) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::cerr << "xiaohao calendar " << cmd << ": " << msg << "\n";
  *exit_code = 2;
}

struct IsWorkdayArgs {
  std::string date;
  std::string calendars;
};

struct DeadlineArgs {
  std::string start;
  std::string period;
  std::string calendars;
};

void RunIsWorkday(const IsWorkdayArgs& a, int* exit_code) {
  const char* cmd = "is-workday";
  if (a.date.empty())
    return Fail(cmd, Status::InvalidArgument("missing DATE, e.g. 2025-10-01"), exit_code);
  Result<Date> date = Date::Parse(a.date);
  if (!date.ok()) return Fail(cmd, date.status(), exit_code);
  const std::string dir = CalendarsDir(a.calendars);
  Result<BusinessCalendar> cal = BusinessCalendar::LoadDir(dir);
  if (!cal.ok()) return Fail(cmd, cal.status(), exit_code);
  Result<bool> rest = cal->IsRestDay(*date);
  if (!rest.ok()) return Fail(cmd, rest.status().WithContext(date->ToString()), exit_code);
  std::cout << (*rest ? "rest" : "workday") << "\n";
  *exit_code = 0;
}

void RunDeadline(const DeadlineArgs& a, int* exit_code) {
  const char* cmd = "deadline";
  if (a.start.empty())
    return Fail(cmd, Status::InvalidArgument("missing --start DATE, e.g. --start 2025-09-26"),
                exit_code);
  if (a.period.empty())
    return Fail(cmd, Status::InvalidArgument("missing --period P, e.g. --period 50d"),
                exit_code);
  Result<Date> start = Date::Parse(a.start);
  if (!start.ok()) return Fail(cmd, start.status().WithContext("--start"), exit_code);
  Result<Period> period = Period::Parse(a.period);
  if (!period.ok()) return Fail(cmd, period.status().WithContext("--period"), exit_code);
  const std::string dir = CalendarsDir(a.calendars);
  Result<BusinessCalendar> cal = BusinessCalendar::LoadDir(dir);
  if (!cal.ok()) return Fail(cmd, cal.status(), exit_code);
  Result<Date> end = cal->PeriodEnd(*start, *period);
  if (!end.ok()) {
    return Fail(cmd,
                end.status().WithContext(period->ToString() + " from " + start->ToString()),
                exit_code);
  }
  std::cout << end->ToString() << "\n";
  *exit_code = 0;
}

}  // namespace

void RegisterCalendarCommands(CLI::App& app, int* exit_code) {
  CLI::App* calendar = app.add_subcommand(
      "calendar",
      "Working days, statutory holidays and legal period counting (CST dates).\n"
      "Holidays are data: workflows/calendars/cn-YYYY.json; a year without a file is an "
      "error, never a guess.");
  calendar->require_subcommand(1);

  auto add_calendars = [](CLI::App* sub, std::string* dir) {
    sub->add_option("--calendars", *dir,
                    "Directory of cn-YYYY.json files (default: $XIAOHAO_CALENDARS, else the "
                    "repository's workflows/calendars next to the binary)");
  };

  // The argument structs live as long as the app (callbacks run after parse).
  auto workday = std::make_shared<IsWorkdayArgs>();
  CLI::App* is_workday = calendar->add_subcommand(
      "is-workday", "Print `workday` or `rest` for a date (a 调休 weekend day is a workday).");
  is_workday->add_option("DATE", workday->date,
                         "YYYY-MM-DD, or an RFC 3339 timestamp (its CST date is used)");
  add_calendars(is_workday, &workday->calendars);
  is_workday->footer(
      "Example:\n  xiaohao calendar is-workday 2025-09-28     # workday (调休上班)\n"
      "  xiaohao calendar is-workday 2025-10-01     # rest (国庆节)\n");
  is_workday->callback([workday, exit_code] { RunIsWorkday(*workday, exit_code); });

  auto deadline_args = std::make_shared<DeadlineArgs>();
  CLI::App* deadline = calendar->add_subcommand(
      "deadline",
      "Print the last day (YYYY-MM-DD) of a period counted from a start date: the start day\n"
      "is not counted, and a rest last day rolls to the next working day (民法典 arts. "
      "200-204).");
  deadline->add_option("--start", deadline_args->start,
                       "Start date: YYYY-MM-DD, or an RFC 3339 timestamp (its CST date)");
  deadline->add_option("--period", deadline_args->period,
                       "50d (calendar days), 7wd (working days, 工作日) or 2m (months)");
  add_calendars(deadline, &deadline_args->calendars);
  deadline->footer(
      "Examples:\n  xiaohao calendar deadline --start 2025-09-26 --period 50d   # 2025-11-17\n"
      "  xiaohao calendar deadline --start 2025-09-26 --period 7wd   # 2025-10-13\n"
      "  xiaohao calendar deadline --start 2025-03-31T20:00:00Z --period 1m   # 2025-05-06\n");
  deadline->callback([deadline_args, exit_code] { RunDeadline(*deadline_args, exit_code); });
}

}  // namespace xiaohao
