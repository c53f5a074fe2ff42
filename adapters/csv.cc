#include "adapters/csv.h"

#include <cstdio>

#include "store/utf8.h"

namespace xiaohao {

namespace {

std::string Where(int row, size_t column) {
  return "row " + std::to_string(row) + ", column " + CsvColumnName(column);
}

Status Problem(int row, size_t column, const std::string& what) {
  return Status::InvalidArgument(Where(row, column) + ": " + what, Where(row, column));
}

}  // namespace

std::string CsvColumnName(size_t index) {
  std::string name;
  size_t n = index + 1;
  while (n > 0) {
    size_t r = (n - 1) % 26;
    name.insert(name.begin(), static_cast<char>('A' + r));
    n = (n - 1) / 26;
  }
  return name;
}

Result<std::vector<CsvRecord>> ReadCsv(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<CsvRecord> records;
  CsvRecord rec;
  rec.row = 1;
  std::string cell;
  bool quoted = false;        // inside a quoted field
  bool was_quoted = false;    // the current field was quoted (and has closed)
  int quote_row = 0;          // where the open quoted field began
  size_t quote_col = 0;

  auto end_cell = [&]() -> Status {
    size_t bad = FirstInvalidUtf8(cell);
    if (bad != std::string::npos) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(cell[bad]));
      return Problem(rec.row, rec.cells.size(),
                     std::string("not UTF-8 (byte ") + hex + " at byte " + std::to_string(bad + 1) +
                         " of the cell); the file is probably GBK, as Excel's plain \"CSV\" saves it: save it as "
                         "\"CSV UTF-8 (逗号分隔)\" instead");
    }
    rec.cells.push_back(std::move(cell));
    cell.clear();
    was_quoted = false;
    return Status::OK();
  };
  auto end_record = [&]() -> Status {
    RETURN_IF_ERROR(end_cell());
    bool blank = true;
    for (const auto& c : rec.cells) blank = blank && c.empty();
    int next = rec.row + 1;
    if (!blank) records.push_back(std::move(rec));
    rec = CsvRecord();
    rec.row = next;
    return Status::OK();
  };

  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell.push_back('"');
          ++i;
        } else {
          quoted = false;
          was_quoted = true;
        }
      } else {
        cell.push_back(c);
      }
      continue;
    }
    if (c == ',') {
      RETURN_IF_ERROR(end_cell());
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      RETURN_IF_ERROR(end_record());
    } else if (was_quoted) {
      return Problem(rec.row, rec.cells.size(),
                     std::string("text after the closing quote of a quoted field; put the whole cell in quotes "
                                 "and double any quote inside it (\"\")"));
    } else if (c == '"') {
      if (!cell.empty())
        return Problem(rec.row, rec.cells.size(),
                       "a quote (\") inside an unquoted cell; put the whole cell in quotes and double the quote "
                       "(\"say \"\"hi\"\"\")");
      quoted = true;
      quote_row = rec.row;
      quote_col = rec.cells.size();
    } else {
      cell.push_back(c);
    }
  }
  if (quoted)
    return Problem(quote_row, quote_col,
                   "a quoted cell is never closed (the file ends inside it); add the closing quote (\")");
  // The last record, unless the file ended with a line break.
  if (!cell.empty() || !rec.cells.empty() || was_quoted) RETURN_IF_ERROR(end_record());
  return records;
}

}  // namespace xiaohao
