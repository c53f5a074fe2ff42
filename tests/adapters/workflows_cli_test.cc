// `xiaohao workflows check DIR`: exit 0 on the shipped files; exact problem
// lines and exit 1 on broken ones. `workflows contract` prints CONTRACT.md.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace xiaohao::testing {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("workflows check: the shipped workflows/ directory is valid") {
  auto r = RunXiaohao({"workflows", "check", SourceDir() + "/workflows"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.empty());
}

TEST_CASE("workflows check: broken files give one exact line per problem and exit 1") {
  TempDir dir;
  std::string src = SourceDir() + "/workflows";
  std::string lead = Read(src + "/definitions/online_sales_lead.json");
  // An unknown state, an unknown command and a period that does not parse.
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  std::string broken = replace(lead, R"({"from": "received", "command": "start_investigation")",
                               R"({"from": "recieved", "command": "start_investigation")");
  broken = replace(broken, R"({"from": ["received", "investigating", "extension_requested"], "command": "report_result")",
                   R"({"from": ["received", "investigating", "extension_requested"], "command": "report_results")");
  broken = replace(broken, R"("period": "50d")", R"("period": "50 days")");
  std::string def_file = dir.Sub("definitions/online_sales_lead.json");
  Write(def_file, broken);
  Write(dir.Sub("definitions/risk_item.json"), Read(src + "/definitions/risk_item.json"));
  std::string cal_file = dir.Sub("calendars/cn-2025.json");
  Write(cal_file, "{\"year\": 2025}");
  std::string jur_file = dir.Sub("jurisdictions/test.json");
  Write(jur_file, R"({"kind": "jurisdiction", "units": [
    {"id": "cq", "name": "重庆市", "level": "province"},
    {"id": "Office-1", "name": "某所", "level": "office", "parent": "cq"},
    {"id": "x", "name": "某所", "level": "office", "parent": "nowhere"}]})");
  Write(dir.Sub("other/notes.json"), "{}");

  auto r = RunXiaohao({"workflows", "check", dir.path()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  std::vector<std::string> lines;
  std::stringstream ss(r.out);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  // Calendar lines come from BusinessCalendar::AddYearJson; check the file and that there is one.
  REQUIRE(lines.size() == 8);
  CHECK(lines[0].rfind(cal_file + ": ", 0) == 0);
  CHECK(lines[1] == def_file + ": /transitions/1/from: unknown state \"recieved\"");
  CHECK(lines[2] == def_file + ": /transitions/5/command: unknown command \"report_results\"");
  CHECK(lines[3] == def_file + ": /commands/report_result: command \"report_result\" is used by no transition");
  CHECK(lines[4].rfind(def_file + ": /deadlines/0/start/0/due/period: period \"50 days\" does not parse", 0) == 0);
  CHECK(lines[5] == jur_file + ": /units/1/id: id must be ASCII [a-z0-9_]{1,64}, got \"Office-1\"");
  CHECK(lines[6] == dir.Sub("other/notes.json") +
                        ": /kind: unknown kind of file: put it in definitions/, calendars/ or jurisdictions/, or "
                        "give \"kind\": \"workflow\" or \"jurisdiction\"");
  CHECK(lines[7] == jur_file + ": /units/2/parent: unknown parent unit \"nowhere\"");
}

TEST_CASE("workflows contract prints the committed CONTRACT.md") {
  auto r = RunXiaohao({"workflows", "contract", SourceDir() + "/workflows"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == Read(SourceDir() + "/workflows/CONTRACT.md"));
}

}  // namespace xiaohao::testing
