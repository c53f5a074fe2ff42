// xiaohao import risk-list: a regulator's existing risk list (风险清单, kept
// in spreadsheets until now) from CSV into risk_item cases (issue 8).
//
// Every row is checked before anything is written (adapters/risk_list_csv.h:
// the file, then the workflow engine's own Decide as the importing actor);
// one bad row imports nothing and every problem is listed. A good file is
// written in one multi-stream append, atomically. Each item's case id comes
// from its 风险编号 alone, so re-running a file (or a later edition of it
// that repeats items) opens nothing twice: rows whose case exists are
// skipped, and refused when their opening facts differ from the stored ones.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "adapters/cli.h"
#include "adapters/risk_list_csv.h"
#include "adapters/users.h"
#include "engine/command_handler.h"
#include "engine/risk_projection.h"
#include "engine/view_reader.h"
#include "engine/workflow_registry.h"
#include "store/sha256.h"
#include "store/event_store.h"
#include "store/time_format.h"

namespace xiaohao {
namespace {

using json = nlohmann::json;

// Exit codes (adapters/cli.h): 1 when the file has problems (nothing
// imported), 2 when the import could not run (file, store, flags).
int Fail(const std::string& what) {
  std::cerr << "xiaohao import risk-list: " << what << "\n";
  return 2;
}

struct ImportArgs {
  std::string data, workflows, file, as;
  bool dry_run = false;
};

// A progress bar on stderr when it is a terminal; nothing otherwise (the
// summary on stdout is what scripts read).
class Progress {
 public:
  Progress(std::string what, size_t total) : what_(std::move(what)), total_(total), tty_(isatty(STDERR_FILENO)) {}
  void Update(size_t done) {
    if (!tty_ || total_ == 0) return;
    int pct = static_cast<int>(100 * done / total_);
    if (pct == last_ && done != total_) return;
    last_ = pct;
    int fill = pct * 30 / 100;
    std::cerr << "\r" << what_ << " [" << std::string(fill, '#') << std::string(30 - fill, '.') << "] " << done
              << "/" << total_ << std::flush;
    if (done == total_) std::cerr << "\n";
  }

 private:
  std::string what_;
  size_t total_;
  bool tty_;
  int last_ = -1;
};

Result<Actor> ImportingActor(const ImportArgs& a, const JurisdictionTree& tree) {
  if (a.as.empty()) {
    // Default: a supervisor of the root of the tree, recorded as cli-import.
    std::vector<const JurisdictionUnit*> roots;
    for (const auto* u : tree.Units())
      if (u->parent.empty()) roots.push_back(u);
    if (roots.size() != 1)
      return Status::InvalidArgument("the jurisdiction tree has " + std::to_string(roots.size()) +
                                     " roots: name the importing user with --as USER", "--as");
    return Actor{"cli-import", "supervisor", roots[0]->id};
  }
  auto users = LoadUsers(UsersFilePath(a.data));
  if (!users.ok()) return users.status();
  for (const User& u : *users) {
    if (u.id != a.as) continue;
    if (u.revoked()) return Status::InvalidArgument("--as " + a.as + ": the user is revoked; name an active user", "--as");
    return u.ToActor();
  }
  return Status::InvalidArgument("--as " + a.as + ": no such user in " + UsersFilePath(a.data) +
                                     " (see `xiaohao users list`)", "--as");
}

int Run(const ImportArgs& a) {
  std::ifstream in(a.file, std::ios::binary);
  if (!in) return Fail("cannot read " + a.file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();

  std::string wf = a.workflows.empty() ? DefaultWorkflowsDir() : a.workflows;
  WorkflowRegistry registry;
  Status s = registry.LoadDir(wf + "/definitions");
  if (!s.ok()) return Fail("loading workflows: " + s.message());
  auto calendar = BusinessCalendar::LoadDir(wf + "/calendars");
  if (!calendar.ok()) return Fail(calendar.status().message());
  auto tree = JurisdictionTree::LoadDir(wf + "/jurisdictions");
  if (!tree.ok()) return Fail(tree.status().message());

  // An existing store is opened (and locked) before checking, so a running
  // service is reported at once; a new one is created only to write, so a
  // file with problems leaves no empty store behind.
  StoreOptions o;
  o.path = a.data;
  std::unique_ptr<EventStore> store;
  auto open_store = [&]() -> int {
    auto opened = EventStore::Open(o);
    if (!opened.ok()) {
      if (opened.status().code() == StatusCode::kFailedPrecondition)
        return Fail(opened.status().message() +
                    ".\nThe import needs the data directory to itself: stop the service (`xiaohao serve --data " +
                    a.data + "`) or the other command using it, run the import, then start the service again.");
      return Fail(opened.status().message());
    }
    store = std::move(opened).value();
    return 0;
  };
  std::error_code ec;
  if (std::filesystem::exists(a.data, ec)) {
    if (int rc = open_store()) return rc;
    s = registry.LoadFromStore(*store);
    if (!s.ok()) return Fail("loading recorded workflow versions: " + s.message());
  }
  const WorkflowDefinition* def = registry.Latest("risk_item");
  if (def == nullptr) return Fail("no risk_item workflow in " + wf + "/definitions");

  auto actor = ImportingActor(a, *tree);
  if (!actor.ok()) return Fail(actor.status().message());
  const CommandSpec* open_spec = def->FindCommand("open");
  if (open_spec == nullptr) return Fail("the risk_item workflow has no open command");
  if (std::find(open_spec->roles.begin(), open_spec->roles.end(), actor->role) == open_spec->roles.end()) {
    std::string roles;
    for (const auto& r : open_spec->roles) roles += (roles.empty() ? "" : " or ") + r;
    return Fail("--as " + a.as + " acts as " + actor->role + ", but risk items are opened by " + roles +
                "; name such a user, or leave --as out to import as a supervisor of the whole tree");
  }

  UnixMicros now = SystemClock::Default()->Now();
  RiskListFile file = ParseRiskList(text, *tree, Date::OfInstant(now));
  std::vector<RowProblem> problems = file.problems;

  // The register, when one was imported: every enterprise must be in it.
  std::map<std::string, std::string> reg;
  if (store) {
    auto view = ViewReader::Open(store.get(), &registry, ViewTime{});
    if (!view.ok()) return Fail(view.status().message());
    auto r = (*view)->Register();
    if (!r.ok()) return Fail(r.status().message());
    reg = std::move(r).value();
  }

  // Items already imported (their case exists) are skipped; facts that
  // differ from the stored opening are a problem, not a silent overwrite.
  RiskListFile fresh = file;
  fresh.rows.clear();
  size_t already = 0;
  for (const RiskListFileRow& row : file.rows) {
    auto col = [&](const std::string& f) {
      auto it = file.column_names.find(f);
      return it == file.column_names.end() ? f : it->second;
    };
    if (!reg.empty() && !reg.count(row.enterprise)) {
      problems.push_back({row.row, col("enterprise"),
                          "'" + row.enterprise + "' is not in the enterprise register (" +
                              std::to_string(reg.size()) +
                              " enterprises); fix the code, or add the enterprise first with "
                              "`xiaohao import enterprises`"});
      continue;
    }
    Result<std::vector<RecordedEvent>> events = std::vector<RecordedEvent>();
    if (store) events = store->ReadStream(row.case_id, 1, 1);
    if (!events.ok()) return Fail(events.status().message());
    if (events->empty()) {
      fresh.rows.push_back(row);
      continue;
    }
    json stored = json::parse(events->front().payload_json, nullptr, false);
    json data = stored.is_object() && stored.contains("data") ? stored["data"] : json();
    if (data != row.commands.front().payload) {
      std::string diff;
      for (auto it = row.commands.front().payload.begin(); it != row.commands.front().payload.end(); ++it)
        if (!data.is_object() || !data.contains(it.key()) || data[it.key()] != *it)
          diff += (diff.empty() ? "" : ", ") + col(it.key() == "enterprise" ? "enterprise" : it.key());
      problems.push_back({row.row, col("external_id"),
                          "'" + row.external_id + "' was imported before as " + row.case_id +
                              " with different facts (" + (diff.empty() ? "enterprise_name" : diff) +
                              "); an import never changes a case: record a correction through the service, "
                              "or give a new item its own 风险编号"});
      continue;
    }
    ++already;
  }

  // The engine judges every row the file checks passed, so one run lists
  // every problem there is.
  std::vector<std::vector<NewEvent>> events(fresh.rows.size());
  Progress bar("checking rows", fresh.rows.size());
  DecideRiskListRows(*def, fresh, *actor, now, {&*calendar, &*tree}, &events, &problems,
                     [&](size_t done) { bar.Update(done); });
  if (!problems.empty()) {
    std::stable_sort(problems.begin(), problems.end(),
                     [](const RowProblem& x, const RowProblem& y) { return x.row < y.row; });
    std::set<int> rows;
    for (const auto& p : problems) {
      std::cerr << a.file << ": " << p.ToString() << "\n";
      rows.insert(p.row);
    }
    std::cerr << "xiaohao import risk-list: nothing imported: " << problems.size() << " problem"
              << (problems.size() == 1 ? "" : "s") << " in " << rows.size() << " row"
              << (rows.size() == 1 ? "" : "s") << "; fix them and run the import again\n";
    return 1;
  }
  if (!file.ignored_headers.empty()) {
    std::string names;
    for (const auto& h : file.ignored_headers) names += (names.empty() ? "" : ", ") + h;
    std::cerr << "xiaohao import risk-list: note: columns not imported: " << names << "\n";
  }
  if (fresh.rows.empty()) {
    std::cout << "nothing new: all " << already << " items of " << a.file
              << " were imported before; the store is unchanged\n";
    return 0;
  }

  size_t total = 0;
  std::map<std::string, int> per_office;
  for (size_t i = 0; i < fresh.rows.size(); ++i) {
    total += events[i].size();
    per_office[fresh.rows[i].office]++;
  }
  auto print_offices = [&]() {
    for (const auto& [office, n] : per_office) {
      const JurisdictionUnit* u = tree->Find(office);
      std::cout << "  " << office << " " << (u ? u->name : "") << ": " << n << "\n";
    }
  };
  if (a.dry_run) {
    std::cout << "checked " << a.file << ": would open " << fresh.rows.size() << " risk items (" << total
              << " events)" << (already ? ", " + std::to_string(already) + " imported before" : "")
              << "; nothing written (--dry-run). Per office:\n";
    print_offices();
    return 0;
  }

  if (!store) {
    if (int rc = open_store()) return rc;
  }
  // The workflow versions the cases name must be in $workflows (idempotent).
  s = registry.RecordInStore(*store, now);
  if (!s.ok()) return Fail("recording the workflow versions: " + s.message());

  // One append for the whole file when the store's limit allows (10,000
  // events, e.g. 2,500 items ordered to rectify); beyond it, appends of whole
  // rows, each atomic. Each append's command id names the file's digest and
  // its rows; an interrupted chunked import is resumed by running it again
  // (the rows written are then skipped).
  const size_t limit = o.max_events_per_append;
  std::string digest = Sha256Hex(text).substr(0, 32);
  std::vector<std::pair<size_t, size_t>> chunks;  // [begin, end) of fresh.rows
  for (size_t i = 0, n = 0, begin = 0; i <= fresh.rows.size(); ++i) {
    if (i == fresh.rows.size() || (n + events[i].size() > limit && i > begin)) {
      chunks.push_back({begin, i});
      begin = i;
      n = 0;
    }
    if (i < fresh.rows.size()) n += events[i].size();
  }
  Progress write_bar("writing", total);
  size_t written = 0;
  uint64_t first_position = 0, last_position = 0;
  for (const auto& [begin, end] : chunks) {
    AppendRequest req;
    req.command_id = "import-risk-list/" + digest + "/rows-" + std::to_string(fresh.rows[begin].row) + "-" +
                     std::to_string(fresh.rows[end - 1].row) + "/" + std::to_string(end - begin);
    for (size_t i = begin; i < end; ++i) {
      req.expectations.push_back({fresh.rows[i].case_id, ExpectedVersion::NoStream()});
      for (const NewEvent& e : events[i]) req.events.push_back(e);
    }
    auto r = store->Append(std::move(req));
    if (!r.ok())
      return Fail("writing rows " + std::to_string(fresh.rows[begin].row) + ".." +
                  std::to_string(fresh.rows[end - 1].row) + " failed" +
                  (begin > 0 ? " (earlier rows were written; run the same import again to finish)" : ", nothing written") +
                  ": " + r.status().message());
    if (first_position == 0) first_position = r->first_position;
    last_position = r->last_position;
    for (size_t i = begin; i < end; ++i) written += events[i].size();
    write_bar.Update(written);
  }
  std::cout << "imported " << a.file << ": opened " << fresh.rows.size() << " risk items (" << total
            << " events, positions " << first_position << ".." << last_position << ") "
            << (chunks.size() == 1 ? "in one atomic write" : "in " + std::to_string(chunks.size()) + " atomic writes")
            << " as " << actor->user_id << " (" << actor->role << ", " << actor->office << ")";
  if (already) std::cout << "; " << already << " items were imported before and skipped";
  std::cout << ". Per office:\n";
  print_offices();
  return 0;
}

}  // namespace

void RegisterImportCommands(CLI::App& app, int* exit_code) {
  CLI::App* imp = app.get_subcommand("import");
  auto a = std::make_shared<ImportArgs>();
  std::string columns;
  for (const auto& c : RiskListColumns())
    columns += "  " + c.header + " / " + c.field + (c.required ? " (required)" : "") + ": " + c.help + "\n";
  CLI::App* rl = imp->add_subcommand(
      "risk-list",
      "风险清单 from CSV (UTF-8, as Excel's \"CSV UTF-8\" saves it): each row opens one risk_item case through\n"
      "the workflow engine, as the importing user (--as; default: a supervisor of the whole tree, cli-import),\n"
      "at the row's 发现日期 (00:00 CST). The first row names the columns, in Chinese or English, in any\n"
      "order; other columns (序号, 备注, ...) are ignored:\n" +
          columns +
          "A filled 责任人 also assigns the item; filled notice columns also order rectification (the deadline\n"
          "starts). Items past that (整改已报告, 跟踪检查通过, 已销号, 已移送) are refused: closure needs a passed\n"
          "follow-up verification the list does not record; import such items open, or leave them in the archive.\n"
          "Every row is checked first (file, register when one was imported, workflow rules, jurisdiction); any\n"
          "problem is listed with its row and column and NOTHING is imported (exit 1). A good file is written in\n"
          "one atomic append. The case id comes from 风险编号, so running a file again imports nothing new.\n"
          "The service must be stopped: the import needs the data directory to itself.\n"
          "Example (workflows/samples/risk-list.csv):\n"
          "  风险编号,发现日期,风险来源,责任单位,统一社会信用代码,企业名称,产品类别,风险等级,风险描述,责任人,"
          "整改通知书文号,整改期限,整改内容\n"
          "  SZ-2025-001,2025-09-10,监督检查,南宾所,91500240MA5U000001,石柱康宁药房,体外诊断试剂,高,"
          "冷链储存温度记录缺失,张三,石市监整〔2025〕101号,2025-09-30,补齐温度记录并整改冷链设备\n"
          "  SZ-2025-002,2025/9/12,投诉举报,wanan,91500240MA5U000002,,医用口罩,一般,\"标签不符合规定，\"\"无中文说明\"\"\",,,,\n"
          "  xiaohao import risk-list --data ./var workflows/samples/risk-list.csv\n"
          "  xiaohao import risk-list --data ./var --as sup.shizhu --dry-run list.csv");
  rl->add_option("file", a->file, "CSV file")->required();
  rl->add_option("--data", a->data, "Data directory")->required();
  rl->add_option("--workflows", a->workflows, "Workflows directory (default: the repository's)");
  rl->add_option("--as", a->as, "Import as this user of <data>/users.json (inspector or supervisor)");
  rl->add_flag("--dry-run", a->dry_run, "Check every row and report, write nothing");
  rl->callback([a, exit_code] { *exit_code = Run(*a); });
}

}  // namespace xiaohao
