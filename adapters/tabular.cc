#include "adapters/tabular.h"

#include <xlsxwriter.h>

#include <cstdlib>

namespace xiaohao {
namespace {

bool IsNumber(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0';
}

}  // namespace

size_t DisplayWidth(const std::string& s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    w += len >= 3 ? 2 : 1;  // CJK and full-width forms are 3-byte sequences
    i += len;
  }
  return w;
}

void WriteTextTable(const Table& t, std::ostream& out) {
  std::vector<size_t> width(t.headers.size(), 0);
  for (size_t i = 0; i < t.headers.size(); ++i) width[i] = DisplayWidth(t.headers[i]);
  for (const auto& r : t.rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], DisplayWidth(r[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < width.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      out << c << std::string(width[i] - DisplayWidth(c) + (i + 1 < width.size() ? 2 : 0), ' ');
    }
    out << "\n";
  };
  if (!t.title.empty()) out << t.title << "\n";
  line(t.headers);
  for (const auto& r : t.rows) line(r);
}

void WriteCsv(const Table& t, std::ostream& out) {
  out << "\xEF\xBB\xBF";
  auto cell = [&](const std::string& c) {
    if (c.find_first_of(",\"\r\n") == std::string::npos) {
      out << c;
      return;
    }
    out << '"';
    for (char ch : c) {
      if (ch == '"') out << '"';
      out << ch;
    }
    out << '"';
  };
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) out << ',';
      cell(cells[i]);
    }
    out << "\r\n";
  };
  line(t.headers);
  for (const auto& r : t.rows) line(r);
}

Status WriteXlsx(const std::vector<Table>& sheets, const std::string& path) {
  lxw_workbook* wb = workbook_new(path.c_str());
  if (wb == nullptr) return Status::IOError("cannot create " + path);
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  for (const Table& t : sheets) {
    // Sheet names are at most 31 characters and may not hold []:*?/\ .
    std::string name = t.title.empty() ? "Sheet" : t.title;
    lxw_worksheet* ws = workbook_add_worksheet(wb, name.c_str());
    if (ws == nullptr) ws = workbook_add_worksheet(wb, nullptr);
    for (size_t c = 0; c < t.headers.size(); ++c) {
      worksheet_write_string(ws, 0, static_cast<lxw_col_t>(c), t.headers[c].c_str(), bold);
      worksheet_set_column(ws, static_cast<lxw_col_t>(c), static_cast<lxw_col_t>(c),
                           std::max<double>(10, DisplayWidth(t.headers[c]) + 2), nullptr);
    }
    for (size_t r = 0; r < t.rows.size(); ++r) {
      for (size_t c = 0; c < t.rows[r].size(); ++c) {
        double v;
        auto row = static_cast<lxw_row_t>(r + 1);
        auto col = static_cast<lxw_col_t>(c);
        if (IsNumber(t.rows[r][c], &v)) worksheet_write_number(ws, row, col, v, nullptr);
        else worksheet_write_string(ws, row, col, t.rows[r][c].c_str(), nullptr);
      }
    }
  }
  lxw_error err = workbook_close(wb);
  if (err != LXW_NO_ERROR) return Status::IOError("writing " + path + ": " + lxw_strerror(err));
  return Status::OK();
}

}  // namespace xiaohao
