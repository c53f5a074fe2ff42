// xiaohao report | projections | export-log | import enterprises: the
// supervisor and auditor views from the command line (issue 7).
//
// Reports open the store read-only (they work while the service writes) and
// read the projection plus the log's tail (engine/view_reader.h); as-of and
// as-at views fold the log from position 1. Their JSON and tables are built
// in adapters/reports.h, shared with the HTTP service.
#include <CLI/CLI.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "adapters/cli.h"
#include "adapters/csv.h"
#include "adapters/event_json.h"
#include "adapters/reports.h"
#include "adapters/tabular.h"
#include "engine/audit_trail.h"
#include "engine/risk_list.h"
#include "engine/risk_projection.h"
#include "engine/supervision_rates.h"
#include "engine/view_reader.h"
#include "engine/workflow_registry.h"
#include "store/sha256.h"
#include "store/time_format.h"

namespace xiaohao {
namespace {

using json = nlohmann::json;

int Fail(const std::string& what) {
  std::cerr << "xiaohao: " << what << "\n";
  return 2;
}
// A report's error; a bad filter names the flag to fix.
int Fail(const Status& s) {
  if (s.code() == StatusCode::kInvalidArgument && !s.field().empty())
    return Fail(FlagOfField(s.field()) + ": " + s.message());
  return Fail(s.message());
}

std::string Fixed(double v, int digits) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

struct Common {
  std::string data, workflows, as_of, as_at, office, quarter, format = "table", out;
};

void AddCommon(CLI::App* c, Common* a, bool times = true) {
  c->add_option("--data", a->data, "Data directory")->required();
  c->add_option("--workflows", a->workflows, "Workflows directory (default: the repository's)");
  if (times) {
    c->add_option("--as-of", a->as_of, "Record time: what the system knew then (YYYY-MM-DD = end of day CST, or RFC 3339)");
    c->add_option("--as-at", a->as_at, "Business time: what had happened by then");
  }
  c->add_option("--format", a->format, "table | json | csv | xlsx")
      ->check(CLI::IsMember({"table", "json", "csv", "xlsx"}));
  c->add_option("--out", a->out, "Output file (required for xlsx; default stdout)");
}

// What every report needs: the store (read-only), the registry, the tree.
struct Env {
  std::unique_ptr<EventStore> store;
  WorkflowRegistry registry;
  JurisdictionTree tree;
  ViewTime time;
};

Result<std::unique_ptr<Env>> OpenEnv(const Common& a, bool read_only = true) {
  auto env = std::make_unique<Env>();
  std::string wf = a.workflows.empty() ? DefaultWorkflowsDir() : a.workflows;
  RETURN_IF_ERROR(env->registry.LoadDir(wf + "/definitions").WithContext("loading workflows"));
  ASSIGN_OR_RETURN(env->tree, JurisdictionTree::LoadDir(wf + "/jurisdictions"));
  if (!a.as_of.empty()) {
    ASSIGN_OR_RETURN(env->time.as_of, ParseViewInstant(a.as_of, "as_of"));
  }
  if (!a.as_at.empty()) {
    ASSIGN_OR_RETURN(env->time.as_at, ParseViewInstant(a.as_at, "as_at"));
  }
  StoreOptions o;
  o.path = a.data;
  o.read_only = read_only;
  o.create_if_missing = !read_only;
  ASSIGN_OR_RETURN(env->store, EventStore::Open(o));
  RETURN_IF_ERROR(env->registry.LoadFromStore(*env->store).WithContext("loading recorded workflow versions"));
  return env;
}

// Writes a report: JSON as given, the others from its tables.
int Emit(const Common& a, const json& j, const std::vector<Table>& tables) {
  if (a.format == "xlsx") {
    if (a.out.empty()) return Fail("--format xlsx needs --out FILE");
    Status s = WriteXlsx(tables, a.out);
    if (!s.ok()) return Fail(s.message());
    return 0;
  }
  std::ofstream file;
  if (!a.out.empty()) {
    file.open(a.out, std::ios::binary);
    if (!file) return Fail("cannot write " + a.out);
  }
  std::ostream& out = a.out.empty() ? std::cout : file;
  if (a.format == "json") {
    out << j.dump(2) << "\n";
  } else {
    for (size_t i = 0; i < tables.size(); ++i) {
      if (a.format == "csv") WriteCsv(tables[i], out);
      else WriteTextTable(tables[i], out);
      if (i + 1 < tables.size()) out << "\n";
    }
  }
  return 0;
}
int Emit(const Common& a, const ReportDoc& doc) { return Emit(a, doc.json, doc.tables); }

// --- report risk-list ---------------------------------------------------

struct RiskArgs : Common {
  RiskFilter filter;
  bool items = false;
};

int RunRiskList(const RiskArgs& a) {
  auto env = OpenEnv(a);
  if (!env.ok()) return Fail(env.status());
  RiskListQuery q;
  q.unit = a.office;
  q.quarter = a.quarter;
  q.filter = a.filter;
  q.include_items = a.items;
  Status checked = CheckRiskListQuery((*env)->registry, (*env)->tree, &q);
  if (!checked.ok()) return Fail(checked);
  auto view = ViewReader::Open((*env)->store.get(), &(*env)->registry, (*env)->time);
  if (!view.ok()) return Fail(view.status());
  auto doc = RiskListDoc(**view, (*env)->tree, q, (*env)->time);
  if (!doc.ok()) return Fail(doc.status());
  return Emit(a, *doc);
}

// --- report case / audit / dossier --------------------------------------

int RunCase(const Common& a, const std::string& case_id) {
  auto env = OpenEnv(a);
  if (!env.ok()) return Fail(env.status());
  auto s = CaseAsOf(*(*env)->store, (*env)->registry, case_id, (*env)->time);
  if (!s.ok()) return Fail(s.status());
  return Emit(a, CaseDoc(*s, (*env)->time));
}

int RunAudit(const Common& a, const std::string& case_id, double late_days) {
  auto env = OpenEnv(a);
  if (!env.ok()) return Fail(env.status());
  auto trail = BuildAuditTrail(*(*env)->store, case_id, static_cast<int64_t>(late_days * kMicrosPerDay));
  if (!trail.ok()) return Fail(trail.status());
  int rc = Emit(a, AuditDoc(*trail, late_days));
  return rc != 0 ? rc : (trail->chain_ok ? 0 : 1);
}

int RunDossier(const Common& a, const std::string& enterprise) {
  auto env = OpenEnv(a);
  if (!env.ok()) return Fail(env.status());
  auto view = ViewReader::Open((*env)->store.get(), &(*env)->registry, (*env)->time);
  if (!view.ok()) return Fail(view.status());
  auto dossier = LoadDossier(**view, enterprise);
  if (!dossier.ok()) return Fail(dossier.status());
  return Emit(a, DossierDoc(*dossier, (*env)->time));
}

// --- report rates / plan ------------------------------------------------

int RunRates(const Common& a, int year) {
  if (year == 0) {
    // This year in China Standard Time, as GET /v1/rates defaults to.
    unsigned m, d;
    CivilFromDays(CstDayOf(SystemClock::Default()->Now()), &year, &m, &d);
  }
  auto env = OpenEnv(a);
  if (!env.ok()) return Fail(env.status());
  auto view = ViewReader::Open((*env)->store.get(), &(*env)->registry, (*env)->time);
  if (!view.ok()) return Fail(view.status());
  auto doc = RatesDoc(**view, (*env)->tree, a.office, year, (*env)->time);
  if (!doc.ok()) return Fail(doc.status());
  return Emit(a, *doc);
}

int RunPlan(const Common& a, const std::string& plan_path) {
  auto env = OpenEnv(a);
  if (!env.ok()) return Fail(env.status());
  std::string wf = a.workflows.empty() ? DefaultWorkflowsDir() : a.workflows;
  auto plan = LoadInspectionPlan(plan_path.empty() ? wf + "/plans/shizhu-2025.json" : plan_path, (*env)->tree);
  if (!plan.ok()) return Fail(plan.status().message());
  int quarter = 0;
  Status q = ParsePlanQuarter(a.quarter, *plan, &quarter);
  if (!q.ok()) return Fail(q);
  auto view = ViewReader::Open((*env)->store.get(), &(*env)->registry, (*env)->time);
  if (!view.ok()) return Fail(view.status());
  auto doc = PlanDoc(**view, *plan, quarter, (*env)->time);
  if (!doc.ok()) return Fail(doc.status());
  return Emit(a, *doc);
}

// --- projections rebuild / export-log -----------------------------------

int RunRebuild(const Common& a) {
  auto env = OpenEnv(a, /*read_only=*/false);
  if (!env.ok()) return Fail(env.status().message());
  RiskListProjection p((*env)->store.get(), &(*env)->registry);
  auto start = std::chrono::steady_clock::now();
  auto n = p.Rebuild();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!n.ok()) return Fail("rebuild failed (run it again): " + n.status().message());
  std::cout << "rebuilt the risk-list projection from position 1: " << *n << " events in " << Fixed(secs, 2)
            << " s (" << Fixed(secs > 0 ? *n / secs : 0, 0) << " events/s), checkpoint " << p.Checkpoint() << "\n";
  return 0;
}

int RunExportLog(const std::string& data, const std::string& out_path) {
  StoreOptions o;
  o.path = data;
  o.read_only = true;
  o.create_if_missing = false;
  auto store = EventStore::Open(o);
  if (!store.ok()) return Fail(store.status().message());
  std::ofstream file;
  if (!out_path.empty()) {
    file.open(out_path, std::ios::binary);
    if (!file) return Fail("cannot write " + out_path);
  }
  std::ostream& out = out_path.empty() ? std::cout : file;
  Status s = (*store)->ScanLog(1, [&](const RecordedEvent& e) {
    out << EventToJson(e).dump() << "\n";
    return static_cast<bool>(out);
  });
  if (!s.ok()) return Fail(s.message());
  if (!out) return Fail("writing the export failed");
  return 0;
}

// --- import enterprises --------------------------------------------------

int RunImportEnterprises(const Common& a, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail("cannot read " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto records = ReadCsv(text);  // RFC 4180: quoted commas and line breaks, BOM, UTF-8 checked
  if (!records.ok()) return Fail(file + ": " + records.status().message() + "; nothing imported");
  auto env = OpenEnv(a, /*read_only=*/false);
  if (!env.ok()) return Fail(env.status().message());

  // Columns (English or Chinese header names).
  static const std::vector<std::pair<std::string, std::string>> kColumns = {
      {"code", "统一社会信用代码"}, {"name", "名称"}, {"kind", "类型"}, {"office", "监管所"},
      {"supervision_level", "监管级别"}, {"product_categories", "产品类别"}};
  if (records->empty()) return Fail(file + ": empty file");
  const std::vector<std::string>& header = records->front().cells;
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i)
    for (const auto& [en, zh] : kColumns)
      if (header[i] == en || header[i] == zh) col[en] = i;
  std::vector<std::string> errors;
  for (const auto& [en, zh] : kColumns)
    if (!col.count(en)) errors.push_back(file + ": row 1: field " + en + ": missing column (" + en + " or " + zh + ")");
  std::vector<NewEvent> events;
  std::set<std::string> seen;
  std::string now = FormatRfc3339Cst(SystemClock::Default()->Now());
  for (size_t r = 1; errors.empty() && r < records->size(); ++r) {
    int row = (*records)[r].row;
    const auto& cells = (*records)[r].cells;
    auto cell = [&](const std::string& f) { return col[f] < cells.size() ? cells[col[f]] : std::string(); };
    auto bad = [&](const std::string& f, const std::string& what) {
      errors.push_back(file + ": row " + std::to_string(row) + ": field " + f + ": " + what);
    };
    std::string code = cell("code"), kind = cell("kind"), office = cell("office"), level = cell("supervision_level");
    bool code_ok = !code.empty() && code.size() <= 64;
    for (char c : code) code_ok = code_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    if (!code_ok) bad("code", "'" + code + "' must be 1..64 letters, digits, '-' or '_'");
    else if (!seen.insert(code).second) bad("code", "'" + code + "' appears twice in the file");
    if (cell("name").empty()) bad("name", "empty");
    if (kind != "trading_enterprise" && kind != "manufacturer" && kind != "use_unit")
      bad("kind", "'" + kind + "' is not trading_enterprise, manufacturer or use_unit");
    const JurisdictionUnit* u = (*env)->tree.Find(office);
    if (u == nullptr) bad("office", "unknown unit '" + office + "'");
    if (level != "1" && level != "2" && level != "3") bad("supervision_level", "'" + level + "' is not 1, 2 or 3");
    json cats = json::array();
    std::string cat;
    std::istringstream cs(cell("product_categories"));
    while (std::getline(cs, cat, ';'))
      if (!cat.empty()) cats.push_back(cat);
    if (!errors.empty()) continue;
    json rec{{"code", code}, {"name", cell("name")}, {"kind", kind}, {"office", office},
             {"supervision_level", std::stoi(level)}, {"product_categories", cats}};
    events.push_back({kEnterpriseStreamPrefix + code, kEnterpriseRegistered, now, {"cli-import", "admin", ""},
                      rec.dump()});
  }
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << "xiaohao: " << e << "\n";
    return Fail("nothing imported: fix the rows above and run again");
  }
  if (events.empty()) return Fail(file + ": no rows");
  // One append per 10,000 rows (the store's limit), each under a command id
  // derived from the file's contents: re-running the same file writes nothing twice.
  std::string digest = Sha256Hex(text).substr(0, 32);
  size_t chunk = 10000;
  for (size_t i = 0; i < events.size(); i += chunk) {
    AppendRequest req;
    req.command_id = "import-enterprises-" + digest + "-" + std::to_string(i / chunk);
    for (size_t k = i; k < std::min(events.size(), i + chunk); ++k) req.events.push_back(events[k]);
    auto r = (*env)->store->Append(std::move(req));
    if (!r.ok()) return Fail("import stopped at row " + std::to_string(i + 2) + ": " + r.status().message());
  }
  std::cout << "imported " << events.size() << " enterprises into the register\n";
  return 0;
}

}  // namespace

void RegisterReportCommands(CLI::App& app, int* exit_code) {
  CLI::App* report = app.add_subcommand(
      "report",
      "Supervisor and auditor reports from the event log (read-only).\n"
      "Examples:\n  xiaohao report risk-list --data ./var --office shizhu --quarter 2025Q3\n"
      "  xiaohao report risk-list --data ./var --format xlsx --out q3.xlsx\n"
      "  xiaohao report case --data ./var --case risk_item-x --as-of 2025-10-01\n"
      "  xiaohao report audit --data ./var --case risk_item-x");
  report->require_subcommand(1);

  auto risk = std::make_shared<RiskArgs>();
  CLI::App* rl = report->add_subcommand(
      "risk-list", "风险清单: opened, closed (销号), referred, open, overdue, closure rate and median days to close,\n"
                   "per unit and quarter, rolled up the jurisdiction tree");
  AddCommon(rl, risk.get());
  rl->add_option("--office", risk->office, "Report this unit's subtree (default: the whole tree)");
  rl->add_option("--quarter", risk->quarter, "Quarter of the opening date, like 2025Q3 (default: all)");
  rl->add_option("--source", risk->filter.source, "inspection|sampling|adverse_event|online_sales|complaint|public_opinion");
  rl->add_option("--category", risk->filter.product_category, "Product category");
  rl->add_option("--enterprise", risk->filter.enterprise, "Enterprise code");
  rl->add_option("--risk-level", risk->filter.risk_level, "low|medium|high");
  rl->add_option("--state", risk->filter.state, "A risk_item state, or open / overdue");
  rl->add_flag("--items", risk->items, "Also list the matching items");
  rl->callback([risk, exit_code] { *exit_code = RunRiskList(*risk); });

  auto cs = std::make_shared<Common>();
  auto case_id = std::make_shared<std::string>();
  CLI::App* c = report->add_subcommand("case", "One case's state, now or as of / as at a past instant");
  AddCommon(c, cs.get());
  c->add_option("--case", *case_id, "Case id")->required();
  c->callback([cs, case_id, exit_code] { *exit_code = RunCase(*cs, *case_id); });

  auto au = std::make_shared<Common>();
  auto au_case = std::make_shared<std::string>();
  auto late_days = std::make_shared<double>(3.0);
  CLI::App* audit = report->add_subcommand(
      "audit", "A case's whole history: actor, office, both times, command id and hash, each checked against\n"
               "the chain; flags events recorded long after they occurred. Exit 1 when the chain is broken.");
  AddCommon(audit, au.get(), /*times=*/false);
  audit->add_option("--case", *au_case, "Case id")->required();
  audit->add_option("--late-days", *late_days, "Flag records made more than this many days after the fact (default 3)");
  audit->callback([au, au_case, late_days, exit_code] { *exit_code = RunAudit(*au, *au_case, *late_days); });

  auto ds = std::make_shared<Common>();
  auto ent = std::make_shared<std::string>();
  CLI::App* dossier = report->add_subcommand("dossier", "监管档案: an enterprise's register record and every case naming it");
  AddCommon(dossier, ds.get());
  dossier->add_option("--enterprise", *ent, "Enterprise code")->required();
  dossier->callback([ds, ent, exit_code] { *exit_code = RunDossier(*ds, *ent); });

  auto ra = std::make_shared<Common>();
  auto year = std::make_shared<int>(0);
  CLI::App* rates = report->add_subcommand(
      "rates", "Online-sales leads answered in time, self-inspection reports received, follow-up coverage,\n"
               "inspections against supervision-level frequencies");
  AddCommon(rates, ra.get());
  rates->add_option("--office", ra->office, "Unit (default: the root of the tree)");
  rates->add_option("--year", *year, "Year, like 2025 (default: this year, China Standard Time)");
  rates->callback([ra, year, exit_code] { *exit_code = RunRates(*ra, *year); });

  auto pl = std::make_shared<Common>();
  auto plan = std::make_shared<std::string>();
  CLI::App* pc = report->add_subcommand("plan", "Inspection plan progress: planned against done per office and quarter");
  AddCommon(pc, pl.get());
  pc->add_option("--plan", *plan, "Plan file (default workflows/plans/shizhu-2025.json)");
  pc->add_option("--quarter", pl->quarter, "Only this quarter, like 2025Q1");
  pc->callback([pl, plan, exit_code] { *exit_code = RunPlan(*pl, *plan); });

  CLI::App* proj = app.add_subcommand("projections", "The supervisor views' projection in the store");
  proj->require_subcommand(1);
  auto rb = std::make_shared<Common>();
  CLI::App* rebuild = proj->add_subcommand(
      "rebuild", "Rebuild the risk-list projection from position 1 (needs the store to itself).\n"
                 "Example:\n  xiaohao projections rebuild --data ./var");
  rebuild->add_option("--data", rb->data, "Data directory")->required();
  rebuild->add_option("--workflows", rb->workflows, "Workflows directory (default: the repository's)");
  rebuild->callback([rb, exit_code] { *exit_code = RunRebuild(*rb); });

  auto ex_data = std::make_shared<std::string>();
  auto ex_out = std::make_shared<std::string>();
  CLI::App* ex = app.add_subcommand(
      "export-log", "The whole event log as JSON lines with positions and hashes (as `read`);\n"
                    "check it with doc/verify_export.py. Read-only.\n"
                    "Example:\n  xiaohao export-log --data ./var > log.jsonl && python3 doc/verify_export.py log.jsonl");
  ex->add_option("--data", *ex_data, "Data directory")->required();
  ex->add_option("--out", *ex_out, "Output file (default stdout)");
  ex->callback([ex_data, ex_out, exit_code] { *exit_code = RunExportLog(*ex_data, *ex_out); });

  CLI::App* imp = app.add_subcommand("import", "Import reference data as events");
  imp->require_subcommand(1);
  auto ie = std::make_shared<Common>();
  auto ie_file = std::make_shared<std::string>();
  CLI::App* ents = imp->add_subcommand(
      "enterprises",
      "The enterprise register from CSV: code,name,kind,office,supervision_level,product_categories\n"
      "(or 统一社会信用代码,名称,类型,监管所,监管级别,产品类别; categories separated by ';').\n"
      "Every row is checked first; one bad row imports nothing.\n"
      "Example:\n  xiaohao import enterprises --data ./var enterprises.csv");
  ents->add_option("file", *ie_file, "CSV file")->required();
  ents->add_option("--data", ie->data, "Data directory")->required();
  ents->add_option("--workflows", ie->workflows, "Workflows directory (default: the repository's)");
  ents->callback([ie, ie_file, exit_code] { *exit_code = RunImportEnterprises(*ie, *ie_file); });
}

}  // namespace xiaohao
