#include "adapters/risk_list_csv.h"


#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "adapters/csv.h"
#include "engine/rejection.h"
#include "store/sha256.h"
#include "store/time_format.h"

namespace xiaohao {

namespace {

using json = nlohmann::json;

// A value a cell may hold for an enum column: Chinese words and the code.
struct Choice {
  const char* code;
  std::vector<std::string> words;
};

const std::vector<Choice>& Sources() {
  static const std::vector<Choice> k = {
      {"inspection", {"监督检查", "日常检查", "飞行检查", "检查"}},
      {"sampling", {"监督抽检", "抽检"}},
      {"adverse_event", {"不良事件监测", "不良事件"}},
      {"online_sales", {"网络销售监测", "网络监测", "网络销售"}},
      {"complaint", {"投诉举报", "投诉", "举报"}},
      {"public_opinion", {"舆情监测", "舆情"}}};
  return k;
}

const std::vector<Choice>& Levels() {
  static const std::vector<Choice> k = {{"low", {"一般", "低"}}, {"medium", {"较高", "中"}}, {"high", {"高"}}};
  return k;
}

// 状态: the stages a row may claim. Later stages are refused (file comment).
const std::vector<Choice>& Stages() {
  static const std::vector<Choice> k = {
      {"registered", {"已列入", "已列入风险清单", "待分派", "未分派"}},
      {"assigned", {"已分派", "已分派责任人", "已落实责任人"}},
      {"rectifying", {"整改中", "已责令整改"}},
      {"rectification_reported", {"整改已报告", "已报告整改", "待跟踪检查", "已整改"}},
      {"verified", {"跟踪检查通过", "待销号", "已复查"}},
      {"closed", {"已销号", "销号"}},
      {"referred", {"已移送", "移送稽查", "移送公安", "已移送稽查或公安"}}};
  return k;
}

std::string Accepted(const std::vector<Choice>& choices) {
  std::string s;
  for (const auto& c : choices) s += (s.empty() ? "" : ", ") + c.words[0] + " (" + c.code + ")";
  return s;
}

// The code for a cell, or "" when it names none.
std::string Pick(const std::vector<Choice>& choices, const std::string& cell) {
  for (const auto& c : choices) {
    if (cell == c.code) return c.code;
    for (const auto& w : c.words)
      if (cell == w) return c.code;
  }
  return "";
}

std::string Trim(const std::string& s) {
  static const char* kSpace = " \t\r\n";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string::npos) return "";
  // Full-width spaces (U+3000) are common around cells typed in Chinese.
  std::string t = s.substr(b, s.find_last_not_of(kSpace) - b + 1);
  while (t.rfind("\xE3\x80\x80", 0) == 0) t.erase(0, 3);
  while (t.size() >= 3 && t.compare(t.size() - 3, 3, "\xE3\x80\x80") == 0) t.erase(t.size() - 3);
  return t;
}

bool IsDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A date as spreadsheets write it: 2025-03-15, 2025/3/15, 2025.3.15,
// 2025年3月15日, optionally followed by a midnight time (" 00:00:00").
bool ParseSheetDate(std::string text, Date* out) {
  for (const char* midnight : {" 00:00:00", " 0:00:00", " 00:00", " 0:00"}) {
    std::string m = midnight;
    if (text.size() > m.size() && text.compare(text.size() - m.size(), m.size(), m) == 0) {
      text.erase(text.size() - m.size());
      break;
    }
  }
  std::vector<std::string> parts;
  std::string cur;
  auto cut = [&]() {
    parts.push_back(cur);
    cur.clear();
  };
  for (size_t i = 0; i < text.size();) {
    if (text[i] >= '0' && text[i] <= '9') {
      cur.push_back(text[i++]);
    } else if (text[i] == '-' || text[i] == '/' || text[i] == '.') {
      cut();
      ++i;
    } else if (text.compare(i, 3, "年") == 0 || text.compare(i, 3, "月") == 0) {
      cut();
      i += 3;
    } else if (text.compare(i, 3, "日") == 0 && i + 3 == text.size()) {
      i += 3;
    } else {
      return false;
    }
  }
  cut();
  if (parts.size() != 3 || parts[0].size() != 4) return false;
  for (const auto& p : parts)
    if (!IsDigits(p) || p.size() > 4) return false;
  if (parts[1].size() > 2 || parts[2].size() > 2) return false;
  int y = std::stoi(parts[0]);
  unsigned m = static_cast<unsigned>(std::stoi(parts[1])), d = static_cast<unsigned>(std::stoi(parts[2]));
  if (!IsValidCivilDate(y, m, d)) return false;
  *out = Date::FromYmd(y, m, d);
  return true;
}

// The unit a cell names: its id, its full name, or the short form offices
// go by in the seeds ("南宾所" for 南宾市场监督管理所).
std::vector<const JurisdictionUnit*> FindUnits(const JurisdictionTree& tree, const std::string& cell) {
  if (const JurisdictionUnit* u = tree.Find(cell)) return {u};
  std::vector<const JurisdictionUnit*> exact, shortened;
  const std::string suo = "所";
  for (const JurisdictionUnit* u : tree.Units()) {
    if (u->name == cell) exact.push_back(u);
    if (cell.size() > suo.size() && cell.compare(cell.size() - suo.size(), suo.size(), suo) == 0 &&
        u->level == UnitLevel::kOffice) {
      std::string stem = cell.substr(0, cell.size() - suo.size());
      if (u->name.rfind(stem, 0) == 0 && u->name.size() >= suo.size() &&
          u->name.compare(u->name.size() - suo.size(), suo.size(), suo) == 0)
        shortened.push_back(u);
    }
  }
  return exact.empty() ? shortened : exact;
}

std::string OfficeList(const JurisdictionTree& tree) {
  std::string s;
  int n = 0;
  for (const JurisdictionUnit* u : tree.Units()) {
    if (u->level != UnitLevel::kOffice) continue;
    if (++n > 12) {
      s += ", ...";
      break;
    }
    s += (s.empty() ? "" : ", ") + u->id + " " + u->name;
  }
  return s;
}

bool ValidCode(const std::string& code) {
  if (code.empty() || code.size() > 64) return false;
  for (char c : code)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

bool HasControl(const std::string& s, bool allow_newlines) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t'))) return true;
    if (u == 0x7F) return true;
  }
  return false;
}

std::string Quote(const std::string& s) { return "'" + (s.size() > 80 ? s.substr(0, 80) + "..." : s) + "'"; }

}  // namespace

const std::vector<RiskListColumn>& RiskListColumns() {
  static const std::vector<RiskListColumn> k = {
      {"external_id", "风险编号", {"清单编号", "编号"}, true,
       "the list's own id of the item, unique (e.g. SZ-2025-001); re-importing it never opens a second case"},
      {"found_on", "发现日期", {}, true, "date the risk was found, CST: 2025-03-15, 2025/3/15 or 2025年3月15日"},
      {"source", "风险来源", {"来源"}, true, "one of " + Accepted(Sources())},
      {"office", "责任单位", {"监管所", "责任监管所"}, true,
       "responsible unit: its id (nanbin), name (南宾市场监督管理所) or short name (南宾所)"},
      {"enterprise", "统一社会信用代码", {"社会信用代码", "企业编号"}, true,
       "the enterprise's or use unit's code: 1..64 letters, digits, '-' or '_'"},
      {"enterprise_name", "企业名称", {"企业或使用单位名称", "单位名称"}, false, "name of the enterprise or use unit"},
      {"product_category", "产品类别", {}, true, "product category (e.g. 体外诊断试剂)"},
      {"risk_level", "风险等级", {}, true, "one of " + Accepted(Levels())},
      {"description", "风险描述", {"问题描述", "风险或问题描述"}, true, "the risk or problem found"},
      {"assignee", "责任人", {}, false, "responsible person (责任到人); filled = the item is assigned"},
      {"notice_no", "整改通知书文号", {"整改通知书编号"}, false,
       "rectification notice number; with 整改期限 and 整改内容 = rectification was ordered"},
      {"notice_date", "责令整改日期", {"整改通知日期"}, false, "date of the notice (default: 发现日期)"},
      {"rectify_by", "整改期限", {}, false, "rectification deadline date (ends 24:00 CST), after the notice date"},
      {"rectification_content", "整改内容", {"整改要求"}, false, "what must be rectified"},
      {"status", "状态", {"整改状态", "办理状态"}, false,
       "optional check of the stage: 已列入 (registered), 已分派 (assigned), 整改中 (rectifying); later stages "
       "(整改已报告, 跟踪检查通过, 已销号, 已移送) are refused"}};
  return k;
}

std::string RowProblem::ToString() const {
  return "row " + std::to_string(row) + (column.empty() ? "" : ", column " + column) + ": " + problem;
}

std::string CaseIdForExternalId(const std::string& external_id) {
  bool plain = !external_id.empty() && external_id.size() <= 64;
  for (char c : external_id)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (plain) return "risk_item-rl-" + external_id;
  return "risk_item-rlh-" + Sha256Hex(external_id).substr(0, 32);
}

RiskListFile ParseRiskList(std::string_view text, const JurisdictionTree& tree, Date today) {
  RiskListFile out;
  auto records = ReadCsv(text);
  if (!records.ok()) {
    // A broken file structure: no row can be trusted past it.
    // ReadCsv's message is "<field>: <problem>", field "row R, column C".
    const Status& s = records.status();
    const std::string& f = s.field();
    int row = f.rfind("row ", 0) == 0 ? std::atoi(f.c_str() + 4) : 0;
    size_t c = f.find("column ");
    std::string problem = s.message().rfind(f + ": ", 0) == 0 ? s.message().substr(f.size() + 2) : s.message();
    out.problems.push_back({row, c == std::string::npos ? "" : f.substr(c + 7), problem});
    return out;
  }
  if (records->empty()) {
    out.problems.push_back({1, "", "the file is empty: the first row must name the columns, e.g. 风险编号,发现日期,"
                                   "风险来源,责任单位,统一社会信用代码,产品类别,风险等级,风险描述 "
                                   "(see `xiaohao import risk-list --help`)"});
    return out;
  }
  // The header row.
  const CsvRecord& head = records->front();
  std::map<std::string, size_t> col;  // field -> index
  for (size_t i = 0; i < head.cells.size(); ++i) {
    std::string h = Trim(head.cells[i]);
    const RiskListColumn* match = nullptr;
    for (const auto& c : RiskListColumns()) {
      if (h == c.field || h == c.header || std::find(c.aliases.begin(), c.aliases.end(), h) != c.aliases.end())
        match = &c;
    }
    if (match == nullptr) {
      out.ignored_headers.push_back(h.empty() ? "(unnamed column " + CsvColumnName(i) + ")" : h);
      continue;
    }
    std::string name = CsvColumnName(i) + " " + h + (h == match->field ? "" : " (" + match->field + ")");
    if (col.count(match->field)) {
      out.problems.push_back({head.row, name,
                              "a second column for " + match->field + " (the first is " +
                                  out.column_names[match->field] + "); delete one of them"});
      continue;
    }
    col[match->field] = i;
    out.column_names[match->field] = name;
  }
  for (const auto& c : RiskListColumns()) {
    if (!c.required || col.count(c.field)) continue;
    std::string also;
    for (const auto& a : c.aliases) also += " or " + a;
    out.problems.push_back({head.row, "", "no column " + c.header + " (" + c.field + "): add a column headed " +
                                              c.header + also + " or " + c.field + ": " + c.help});
  }
  if (!out.problems.empty()) return out;
  if (records->size() == 1) {
    out.problems.push_back({head.row + 1, "", "no risk items below the header row: nothing to import"});
    return out;
  }

  std::map<std::string, int> seen;  // external id -> row
  for (size_t r = 1; r < records->size(); ++r) {
    const CsvRecord& rec = (*records)[r];
    size_t before = out.problems.size();
    auto cell = [&](const std::string& f) {
      auto it = col.find(f);
      return it == col.end() || it->second >= rec.cells.size() ? std::string() : Trim(rec.cells[it->second]);
    };
    auto bad = [&](const std::string& f, const std::string& what) {
      out.problems.push_back({rec.row, out.column_names.count(f) ? out.column_names[f] : f, what});
    };
    if (rec.cells.size() > head.cells.size())
      out.problems.push_back({rec.row, "", std::to_string(rec.cells.size()) + " cells but the header has " +
                                               std::to_string(head.cells.size()) +
                                               " columns; quote cells that contain a comma"});
    for (const auto& c : RiskListColumns()) {
      if (!col.count(c.field)) continue;
      std::string v = cell(c.field);
      if (c.required && v.empty()) bad(c.field, "empty; fill in " + c.help);
      else if (HasControl(v, c.field == "description" || c.field == "rectification_content"))
        bad(c.field, "contains a control character; retype the cell");
    }
    std::string ext = cell("external_id");
    if (ext.size() > 100) bad("external_id", Quote(ext) + " is longer than 100 bytes; use a shorter id");
    if (!ext.empty()) {
      auto [it, fresh] = seen.emplace(ext, rec.row);
      if (!fresh)
        bad("external_id", Quote(ext) + " is also the id of row " + std::to_string(it->second) +
                               "; each item needs its own id (merge or renumber the rows)");
    }
    auto date = [&](const std::string& f, Date* d) {
      std::string v = cell(f);
      if (v.empty()) return false;
      if (!ParseSheetDate(v, d)) {
        bad(f, Quote(v) + " is not a date; write YYYY-MM-DD, e.g. 2025-03-15" +
                   (IsDigits(v) ? " (the cell holds a number: format the column as a date before saving)" : ""));
        return false;
      }
      if (*d > today) {
        bad(f, Quote(v) + " is in the future (today is " + today.ToString() + " CST); correct the date");
        return false;
      }
      return true;
    };
    Date found;
    bool found_ok = date("found_on", &found);
    std::string source = Pick(Sources(), cell("source"));
    if (source.empty() && !cell("source").empty())
      bad("source", Quote(cell("source")) + " is not a known source; write one of " + Accepted(Sources()));
    std::string level = Pick(Levels(), cell("risk_level"));
    if (level.empty() && !cell("risk_level").empty())
      bad("risk_level", Quote(cell("risk_level")) + " is not a risk level; write one of " + Accepted(Levels()));
    std::string office;
    if (!cell("office").empty()) {
      auto units = FindUnits(tree, cell("office"));
      if (units.size() == 1) {
        office = units[0]->id;
      } else if (units.empty()) {
        bad("office", Quote(cell("office")) + " is not a unit of the jurisdiction tree; write an id or name of: " +
                          OfficeList(tree));
      } else {
        std::string names;
        for (const auto* u : units) names += (names.empty() ? "" : ", ") + u->id + " " + u->name;
        bad("office", Quote(cell("office")) + " could be any of " + names + "; write the unit id");
      }
    }
    std::string enterprise = cell("enterprise");
    if (!enterprise.empty() && !ValidCode(enterprise))
      bad("enterprise", Quote(enterprise) + " must be 1..64 letters, digits, '-' or '_' (the unified social "
                                             "credit code, e.g. 91500240MA5U000001)");

    // How far the row says the item went.
    std::string assignee = cell("assignee");
    std::string notice_no = cell("notice_no"), rectify_by_text = cell("rectify_by"),
                content = cell("rectification_content");
    int notice_cells = !notice_no.empty() + !rectify_by_text.empty() + !content.empty();
    if (notice_cells > 0 && notice_cells < 3) {
      std::string missing;
      for (const char* f : {"notice_no", "rectify_by", "rectification_content"})
        if (cell(f).empty()) missing += (missing.empty() ? "" : ", ") + (col.count(f) ? out.column_names[f] : std::string(f));
      bad(notice_no.empty() ? "notice_no" : (rectify_by_text.empty() ? "rectify_by" : "rectification_content"),
          "an ordered rectification needs 整改通知书文号, 整改期限 and 整改内容 together; fill in " + missing +
              " or clear the others");
    }
    bool ordered = notice_cells == 3;
    if (ordered && assignee.empty())
      bad("assignee", "empty, but the row orders rectification: the workflow assigns a responsible person "
                      "before it orders rectification; fill in 责任人");
    Date rectify_by, notice_day = found;
    if (ordered) {
      if (!ParseSheetDate(rectify_by_text, &rectify_by))
        bad("rectify_by", Quote(rectify_by_text) + " is not a date; write YYYY-MM-DD, e.g. 2025-04-15");
      if (!cell("notice_date").empty() && date("notice_date", &notice_day) && found_ok && notice_day < found)
        bad("notice_date", Quote(cell("notice_date")) + " is before 发现日期 " + found.ToString() +
                               "; a notice follows the finding");
    } else if (!cell("notice_date").empty()) {
      bad("notice_date", "filled, but no rectification is ordered (整改通知书文号, 整改期限, 整改内容 are empty); "
                         "clear it or fill those in");
    }
    std::string stage_text = cell("status");
    if (!stage_text.empty()) {
      std::string stage = Pick(Stages(), stage_text);
      std::string reached = ordered ? "rectifying" : (!assignee.empty() ? "assigned" : "registered");
      if (stage.empty()) {
        bad("status", Quote(stage_text) + " is not a stage; write 已列入, 已分派 or 整改中, or leave it empty");
      } else if (stage == "closed" || stage == "verified") {
        bad("status", Quote(stage_text) + ": items past a follow-up verification are not imported: closure (销号) "
                      "needs a passed verification (method, date, findings) this list does not record. Import "
                      "open items only (leave closed ones in the archive), or record the verification and "
                      "closure through the service after importing the item as 整改中");
      } else if (stage == "rectification_reported") {
        bad("status", Quote(stage_text) + ": a reported rectification is not imported (the report's text is not "
                      "in the list); import the item as 整改中 and record the report through the service");
      } else if (stage == "referred") {
        bad("status", Quote(stage_text) + ": referred items have left administrative handling and are not "
                      "imported; delete the row, or import it open and record the referral through the service");
      } else if (stage != reached) {
        static const std::map<std::string, std::string> kNeeds = {
            {"registered", "责任人 and the notice columns empty"},
            {"assigned", "责任人 filled and the notice columns empty"},
            {"rectifying", "责任人, 整改通知书文号, 整改期限 and 整改内容 filled"}};
        bad("status", Quote(stage_text) + " (" + stage + ") does not match the row: " + stage + " needs " +
                          kNeeds.at(stage) + ", but the filled cells say " + reached);
      }
    }
    if (out.problems.size() != before) continue;

    RiskListFileRow row;
    row.row = rec.row;
    row.external_id = ext;
    row.case_id = CaseIdForExternalId(ext);
    row.office = office;
    row.enterprise = enterprise;
    // Business time: the day of the fact, 00:00 CST (the list records dates only).
    auto at = [](Date d) { return FormatRfc3339Cst(CstMidnight(d.days)); };
    Command open;
    open.case_id = row.case_id;
    open.name = "open";
    open.payload = {{"source", source},
                    {"office", office},
                    {"enterprise", enterprise},
                    {"product_category", cell("product_category")},
                    {"risk_level", level},
                    {"found_on", found.ToString()},
                    {"description", cell("description")}};
    if (!cell("enterprise_name").empty()) open.payload["enterprise_name"] = cell("enterprise_name");
    open.occurred_at = at(found);
    row.commands.push_back(std::move(open));
    if (!assignee.empty()) {
      Command c;
      c.case_id = row.case_id;
      c.name = "assign";
      c.payload = {{"assignee", assignee}};
      c.occurred_at = at(found);
      row.commands.push_back(std::move(c));
    }
    if (ordered) {
      Command c;
      c.case_id = row.case_id;
      c.name = "issue_rectification_notice";
      c.payload = {{"notice_no", notice_no}, {"rectify_by", rectify_by.ToString()}, {"content", content}};
      c.occurred_at = at(notice_day);
      row.commands.push_back(std::move(c));
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

void DecideRiskListRows(const WorkflowDefinition& def, const RiskListFile& file, const Actor& actor,
                        UnixMicros now, const DecideContext& ctx, std::vector<std::vector<NewEvent>>* events,
                        std::vector<RowProblem>* problems, const std::function<void(size_t)>& progress) {
  auto column = [&](const std::string& field) {
    auto it = file.column_names.find(field);
    return it == file.column_names.end() ? field : it->second;
  };
  for (size_t i = 0; i < file.rows.size(); ++i) {
    const RiskListFileRow& row = file.rows[i];
    CaseState state;  // a new case, as CommandHandler loads one
    for (const Command& c : row.commands) {
      auto drafts = Decide(def, state, c, actor, now, ctx);
      if (!drafts.ok()) {
        const Status& s = drafts.status();
        std::string f = s.field();
        std::string name;
        if (f.rfind("/payload/", 0) == 0) {
          std::string p = f.substr(9);
          name = column(p == "content" ? "rectification_content" : p);
        } else if (f == "/occurred_at") {
          name = column(c.name == "issue_rectification_notice" && file.column_names.count("notice_date")
                            ? "notice_date" : "found_on");
        } else if (RejectionCode(s) == "outside_jurisdiction") {
          name = column("office");
        }
        std::string hint = RejectionCode(s) == "outside_jurisdiction"
                               ? "; import as a user whose unit covers it (--as), or fix 责任单位"
                               : "";
        problems->push_back({row.row, name, "the workflow refuses " + c.name + ": " + s.message() + hint});
        (*events)[i].clear();
        break;
      }
      for (auto& d : *drafts) {
        NewEvent e;
        e.stream_id = row.case_id;
        e.type = d.type;
        e.occurred_at = c.occurred_at;
        e.actor = actor;
        e.payload_json = d.payload.dump();
        CaseEvent ce{row.case_id, state.version + 1, d.type, c.occurred_at, actor, d.payload};
        auto next = Apply(def, std::move(state), ce);
        if (!next.ok()) {
          problems->push_back({row.row, "", "internal: the workflow drafted an event it cannot apply: " +
                                                next.status().message()});
          (*events)[i].clear();
          return;
        }
        state = std::move(next).value();
        (*events)[i].push_back(std::move(e));
      }
    }
    if (progress) progress(i + 1);
  }
}

}  // namespace xiaohao
