// adapters/csv.h: the RFC 4180 reader behind `xiaohao import`.
#include <catch2/catch.hpp>

#include "adapters/csv.h"

namespace xiaohao::testing {
namespace {

std::vector<std::vector<std::string>> Cells(const std::string& text) {
  auto r = ReadCsv(text);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  std::vector<std::vector<std::string>> out;
  for (const auto& rec : *r) out.push_back(rec.cells);
  return out;
}

std::string Error(const std::string& text) {
  auto r = ReadCsv(text);
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("csv: quoted cells hold commas, quotes and line breaks, CRLF, LF, CR and a BOM", "[import]") {
  using V = std::vector<std::vector<std::string>>;
  CHECK(Cells("a,b\r\n1,2\r\n") == V{{"a", "b"}, {"1", "2"}});
  CHECK(Cells("a,b\n1,2") == V{{"a", "b"}, {"1", "2"}});  // no final line break
  CHECK(Cells("a,b\r1,2\r") == V{{"a", "b"}, {"1", "2"}});  // old Mac line ends
  CHECK(Cells("\xEF\xBB\xBF" "a\n") == V{{"a"}});
  CHECK(Cells("\"x, \"\"y\"\"\r\nz\",\"\"\n") == V{{"x, \"y\"\r\nz", ""}});
  CHECK(Cells(",\n") == V{});         // an all-empty record is skipped
  CHECK(Cells("a,\n\"\",b\n") == V{{"a", ""}, {"", "b"}});
  CHECK(Cells("") == V{});
  CHECK(Cells("中文,数据\n") == V{{"中文", "数据"}});
}

TEST_CASE("csv: row numbers are the spreadsheet's, counting blank rows and not line breaks in cells", "[import]") {
  auto r = ReadCsv("h\n\n\"two\nlines\"\n,\nlast\n");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].row == 1);
  CHECK((*r)[1].row == 3);
  CHECK((*r)[2].row == 5);
}

TEST_CASE("csv: malformed quoting and bytes that are not UTF-8 name the row and column", "[import]") {
  CHECK_THAT(Error("a,b\n1,x\"y\n"), Catch::StartsWith("row 2, column B: a quote (\") inside an unquoted cell"));
  CHECK_THAT(Error("a,\"b\"c\n"), Catch::StartsWith("row 1, column B: text after the closing quote"));
  CHECK_THAT(Error("a\n\"open\nstill open"), Catch::StartsWith("row 2, column A: a quoted cell is never closed"));
  CHECK_THAT(Error("a,b,\xC4\xCF\n"), Catch::StartsWith("row 1, column C: not UTF-8 (byte 0xC4 at byte 1 of the cell)"));
  CHECK_THAT(Error("ok,x\xC0\xAF\n"), Catch::StartsWith("row 1, column B: not UTF-8 (byte 0xC0 at byte 2"));  // overlong '/'
  CHECK_THAT(Error("\xED\xA0\x80\n"), Catch::StartsWith("row 1, column A: not UTF-8"));                        // a surrogate
  CHECK_THAT(Error("\xF4\x90\x80\x80\n"), Catch::StartsWith("row 1, column A: not UTF-8"));                    // above U+10FFFF
  CHECK_THAT(Error("\xE4\xB8\n"), Catch::StartsWith("row 1, column A: not UTF-8"));                            // cut short
  CHECK(Cells("\xF0\x9F\x98\x80\n").front().front() == "\xF0\x9F\x98\x80");                                    // U+1F600 is fine
}

TEST_CASE("csv: column names as a spreadsheet shows them", "[import]") {
  CHECK(CsvColumnName(0) == "A");
  CHECK(CsvColumnName(25) == "Z");
  CHECK(CsvColumnName(26) == "AA");
  CHECK(CsvColumnName(27) == "AB");
  CHECK(CsvColumnName(701) == "ZZ");
  CHECK(CsvColumnName(702) == "AAA");
}

}  // namespace
}  // namespace xiaohao::testing
