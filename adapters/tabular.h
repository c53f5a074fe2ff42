// Tabular reports for people and spreadsheets: one Table, written as an
// aligned text table, CSV (RFC 4180, UTF-8 with a byte-order mark so that
// Excel shows the Chinese headers) or XLSX (libxlsxwriter; numeric cells
// as numbers).
#ifndef XIAOHAO_ADAPTERS_TABULAR_H_
#define XIAOHAO_ADAPTERS_TABULAR_H_

#include <ostream>
#include <string>
#include <vector>

#include "store/status.h"

namespace xiaohao {

struct Table {
  std::string title;                       // the sheet name / caption
  std::vector<std::string> headers;        // Chinese column headers
  std::vector<std::vector<std::string>> rows;
};

void WriteTextTable(const Table& t, std::ostream& out);
void WriteCsv(const Table& t, std::ostream& out);
// kIOError when the file cannot be written.
Status WriteXlsx(const std::vector<Table>& sheets, const std::string& path);

// Display width of UTF-8 text in a terminal (CJK counts two columns).
size_t DisplayWidth(const std::string& s);

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_TABULAR_H_
