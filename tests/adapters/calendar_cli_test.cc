// Tests for `xiaohao calendar is-workday` and `xiaohao calendar deadline`
// (adapters/cli_calendar.cc), run against the built binary.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace xiaohao {
namespace {

using testing::CommandOutput;
using testing::RunXiaohao;
using testing::SourceDir;
using testing::TempDir;

std::string ShippedDir() { return SourceDir() + "/workflows/calendars"; }

// Sets (or unsets, with nullopt) an environment variable for one scope; the
// child inherits it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value->c_str(), 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class ScopedCwd {
 public:
  explicit ScopedCwd(const std::string& dir) : old_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~ScopedCwd() { std::filesystem::current_path(old_); }

 private:
  std::filesystem::path old_;
};

void CopyCalendar(int year, const std::string& to_dir) {
  std::string name = "cn-" + std::to_string(year) + ".json";
  std::filesystem::copy_file(ShippedDir() + "/" + name, to_dir + "/" + name);
}

// An error: exit 2, nothing on stdout, exactly one line on stderr containing
// every part.
void CheckError(const CommandOutput& r, const std::vector<std::string>& parts) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  REQUIRE_FALSE(r.err.empty());
  CHECK(r.err.back() == '\n');
  CHECK(r.err.find('\n') == r.err.size() - 1);
  for (const std::string& p : parts) CHECK_THAT(r.err, Catch::Contains(p));
}

TEST_CASE("calendar is-workday prints workday or rest", "[calendar][cli]") {
  struct Row {
    const char* date;
    const char* out;
  };
  const Row rows[] = {
      {"2025-09-28", "workday\n"},  // Sunday, 调休上班
      {"2025-10-01", "rest\n"},     // 国庆节
      {"2025-10-08", "rest\n"},     // Wednesday, last day of 国庆中秋 2025
      {"2025-10-09", "workday\n"},
      {"2024-02-17", "rest\n"},     // Saturday inside 春节
      {"2026-02-28", "workday\n"},  // Saturday, 调休上班
      {"2026-03-01", "rest\n"},     // ordinary Sunday
      // A timestamp is judged by its CST date: 2025-04-01 (Tue) vs 2025-04-04 (清明).
      {"2025-03-31T20:00:00Z", "workday\n"},
      {"2025-04-03T16:00:00Z", "rest\n"},
  };
  for (const Row& r : rows) {
    INFO(r.date);
    CommandOutput out = RunXiaohao({"calendar", "is-workday", r.date, "--calendars", ShippedDir()});
    CHECK(out.exit_code == 0);
    CHECK(out.out == r.out);
    CHECK(out.err.empty());
  }
}

TEST_CASE("calendar deadline prints the last day", "[calendar][cli]") {
  struct Row {
    const char* start;
    const char* period;
    const char* out;
  };
  const Row rows[] = {
      // DOMAIN.md worked examples.
      {"2025-09-26", "7wd", "2025-10-13\n"},
      {"2026-02-11", "7wd", "2026-02-27\n"},
      {"2025-10-12", "7wd", "2025-10-21\n"},
      {"2025-09-26", "50d", "2025-11-17\n"},
      {"2024-01-31", "1m", "2024-02-29\n"},
      {"2024-09-01", "1m", "2024-10-08\n"},
      // 2025-03-31T20:00:00Z is 2025-04-01 CST; 1m -> 05-01 (劳动节) -> 05-06.
      {"2025-03-31T20:00:00Z", "1m", "2025-05-06\n"},
      {"2025-03-31T20:00:00+08:00", "1m", "2025-04-30\n"},
  };
  for (const Row& r : rows) {
    INFO(r.period << " from " << r.start);
    CommandOutput out = RunXiaohao(
        {"calendar", "deadline", "--start", r.start, "--period", r.period, "--calendars",
         ShippedDir()});
    CHECK(out.exit_code == 0);
    CHECK(out.out == r.out);
    CHECK(out.err.empty());
  }
}

TEST_CASE("calendar finds the calendars: flag, then environment, then next to the binary",
          "[calendar][cli]") {
  TempDir only2024;
  CopyCalendar(2024, only2024.path());
  TempDir elsewhere;
  ScopedCwd cwd(elsewhere.path());  // works from any directory

  SECTION("default: the repository's workflows/calendars") {
    ScopedEnv env("XIAOHAO_CALENDARS", std::nullopt);
    CommandOutput r = RunXiaohao({"calendar", "deadline", "--start", "2025-09-26", "--period",
                                  "50d"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "2025-11-17\n");
    CHECK(r.err.empty());
  }
  SECTION("empty environment variable means unset") {
    ScopedEnv env("XIAOHAO_CALENDARS", std::string());
    CommandOutput r = RunXiaohao({"calendar", "is-workday", "2025-09-28"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "workday\n");
  }
  SECTION("XIAOHAO_CALENDARS") {
    ScopedEnv env("XIAOHAO_CALENDARS", only2024.path());
    CommandOutput ok = RunXiaohao({"calendar", "is-workday", "2024-02-18"});
    CHECK(ok.exit_code == 0);
    CHECK(ok.out == "workday\n");
    CheckError(RunXiaohao({"calendar", "is-workday", "2025-09-28"}),
               {"no holiday calendar for 2025"});
  }
  SECTION("--calendars wins over the environment") {
    ScopedEnv env("XIAOHAO_CALENDARS", only2024.path());
    CommandOutput r =
        RunXiaohao({"calendar", "is-workday", "2025-09-28", "--calendars", ShippedDir()});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "workday\n");
  }
}

TEST_CASE("The default calendars are found from the binary's location, not the cwd",
          "[calendar][cli]") {
  // A copy of the binary at <tmp>/build/xiaohao with only 2024 in
  // <tmp>/workflows/calendars: 2024 answers, 2025 is missing, so the copy used
  // its own ../workflows and not the repository's or the working directory's.
  namespace fs = std::filesystem;
  TempDir root;
  fs::create_directories(root.Sub("build"));
  fs::create_directories(root.Sub("workflows/calendars"));
  fs::copy_file(XIAOHAO_BINARY, root.Sub("build/xiaohao"));
  CopyCalendar(2024, root.Sub("workflows/calendars"));
  ScopedEnv env("XIAOHAO_CALENDARS", std::nullopt);
  ScopedCwd cwd(SourceDir());  // the repository's own calendars must not be used
  auto run = [&](const std::string& date) {
    std::string cmd = "'" + root.Sub("build/xiaohao") + "' calendar is-workday " + date + " >'" +
                      root.Sub("out") + "' 2>'" + root.Sub("err") + "'";
    int status = std::system(cmd.c_str());
    std::ifstream out(root.Sub("out")), err(root.Sub("err"));
    CommandOutput r;
    r.exit_code = WEXITSTATUS(status);
    r.out.assign(std::istreambuf_iterator<char>(out), {});
    r.err.assign(std::istreambuf_iterator<char>(err), {});
    return r;
  };
  CommandOutput ok = run("2024-02-18");
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == "workday\n");
  CheckError(run("2025-09-28"), {"no holiday calendar for 2025"});
}

TEST_CASE("calendar errors: one line on stderr, exit 2, nothing on stdout", "[calendar][cli]") {
  const std::string cal = ShippedDir();
  TempDir empty;
  TempDir broken;
  CopyCalendar(2025, broken.path());
  std::ofstream(broken.Sub("cn-2026.json"))
      << R"({"year": 2026, "version": 1, "notice": "n", "blocks": [{"name": "春节",
            "notice": "n", "days_off": {"first": "2026-02-15", "last": "2026-02-31"},
            "adjusted_workdays": []}]})";
  struct Row {
    const char* what;
    std::vector<std::string> args;
    std::vector<std::string> err_has;
  };
  const std::vector<Row> rows = {
      {"is-workday without a date", {"calendar", "is-workday", "--calendars", cal},
       {"missing DATE"}},
      {"is-workday with a bad date", {"calendar", "is-workday", "2025-02-30", "--calendars", cal},
       {"'2025-02-30'", "not a date"}},
      {"is-workday with a bad timestamp",
       {"calendar", "is-workday", "2025-01-01T10:00:00", "--calendars", cal},
       {"2025-01-01T10:00:00", "offset"}},
      {"is-workday in a missing year", {"calendar", "is-workday", "2023-12-31", "--calendars", cal},
       {"no holiday calendar for 2023"}},
      {"deadline without --start", {"calendar", "deadline", "--period", "5d", "--calendars", cal},
       {"missing --start"}},
      {"deadline without --period",
       {"calendar", "deadline", "--start", "2025-01-01", "--calendars", cal},
       {"missing --period"}},
      {"deadline with a bad start",
       {"calendar", "deadline", "--start", "2025-13-01", "--period", "5d", "--calendars", cal},
       {"--start", "'2025-13-01'"}},
      {"deadline with a bad period",
       {"calendar", "deadline", "--start", "2025-01-01", "--period", "5x", "--calendars", cal},
       {"--period", "'5x'", "not a period"}},
      {"deadline with a too long period",
       {"calendar", "deadline", "--start", "2025-01-01", "--period", "10001d", "--calendars",
        cal},
       {"--period", "0..10000"}},
      {"deadline ending in a missing year",
       {"calendar", "deadline", "--start", "2026-12-01", "--period", "50d", "--calendars", cal},
       {"no holiday calendar for 2027", "50d from 2026-12-01"}},
      {"working days walking into a missing year",
       {"calendar", "deadline", "--start", "2026-12-28", "--period", "7wd", "--calendars", cal},
       {"2027"}},
      {"calendars directory does not exist",
       {"calendar", "is-workday", "2025-10-01", "--calendars", empty.Sub("nope")},
       {empty.Sub("nope"), "does not exist"}},
      {"calendars directory is empty",
       {"calendar", "deadline", "--start", "2025-01-01", "--period", "5d", "--calendars",
        empty.path()},
       {"no calendar files", empty.path()}},
      {"a malformed calendar file",
       {"calendar", "is-workday", "2025-10-01", "--calendars", broken.path()},
       {broken.Sub("cn-2026.json"), "/blocks/0/days_off/last", "春节", "2026-02-31"}},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    CheckError(RunXiaohao(r.args), r.err_has);
  }
}

TEST_CASE("calendar usage errors from the parser exit 2 with nothing on stdout",
          "[calendar][cli]") {
  // These are reported by CLI11 through main.cc (which may print a second
  // "Run with --help" line), so only the exit code and stdout are checked.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"calendar"},
                                             {"calendar", "holidays"},
                                             {"calendar", "is-workday", "2025-10-01", "extra"},
                                             {"calendar", "deadline", "--start"},
                                             {"calendar", "deadline", "--frobnicate", "1"}}) {
    INFO(args.back());
    CommandOutput r = RunXiaohao(args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_FALSE(r.err.empty());
  }
}

TEST_CASE("calendar help shows an example", "[calendar][cli]") {
  CommandOutput deadline = RunXiaohao({"calendar", "deadline", "--help"});
  CHECK(deadline.exit_code == 0);
  CHECK_THAT(deadline.out, Catch::Contains("--period") &&
                               Catch::Contains("xiaohao calendar deadline --start 2025-09-26"));
  CommandOutput workday = RunXiaohao({"calendar", "is-workday", "--help"});
  CHECK(workday.exit_code == 0);
  CHECK_THAT(workday.out, Catch::Contains("xiaohao calendar is-workday 2025-09-28"));
}

}  // namespace
}  // namespace xiaohao
