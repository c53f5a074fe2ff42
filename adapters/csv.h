// An RFC 4180 CSV reader for the spreadsheets regulators keep (Excel's
// "CSV UTF-8" export, WPS, LibreOffice).
//
// Accepts: fields separated by ',', records by CRLF or LF (a lone CR too);
// quoted fields ("...") holding commas, line breaks and doubled quotes ("");
// a UTF-8 byte order mark at the start (Excel writes one); a last record
// with or without a line break. Records whose cells are all empty (blank
// lines, ",,,," rows Excel leaves below a table) are skipped but still
// counted, so row numbers stay those the spreadsheet shows.
//
// Refuses, with the row and column (as a spreadsheet numbers them: row 1 is
// the first record, column A the first field) and how to fix it:
// - bytes that are not UTF-8 (most often a GBK file from Excel's plain "CSV"),
// - a quote inside an unquoted field, text after a closing quote, and a
//   quoted field still open at the end of the file.
// Records may have different numbers of fields; the caller judges that.
#ifndef XIAOHAO_ADAPTERS_CSV_H_
#define XIAOHAO_ADAPTERS_CSV_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace xiaohao {

struct CsvRecord {
  int row = 0;  // 1-based record number, counting skipped blank records
  std::vector<std::string> cells;
};

// The file's records, blank ones left out. kInvalidArgument with a message
// "row R, column C: <problem>; <how to fix>" and field "row R, column C".
Result<std::vector<CsvRecord>> ReadCsv(std::string_view text);

// "A", "B", ..., "Z", "AA", ...: a spreadsheet's name for the column at a
// 0-based index.
std::string CsvColumnName(size_t index);

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_CSV_H_
