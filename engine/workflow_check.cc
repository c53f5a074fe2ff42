#include "engine/workflow_check.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/calendar.h"
#include "engine/rejection.h"

namespace xiaohao {

namespace {

enum class Kind { kWorkflow, kCalendar, kJurisdiction, kOther, kUnknown };

Kind KindOf(const std::filesystem::path& p, const std::string& text) {
  std::string folder = p.parent_path().filename().string();
  if (folder == "definitions") return Kind::kWorkflow;
  if (folder == "calendars") return Kind::kCalendar;
  if (folder == "jurisdictions") return Kind::kJurisdiction;
  try {
    auto j = nlohmann::json::parse(text);
    std::string kind = j.is_object() ? j.value("kind", "") : "";
    if (kind == "workflow") return Kind::kWorkflow;
    if (kind == "jurisdiction") return Kind::kJurisdiction;
    if (!kind.empty()) return Kind::kOther;  // e.g. inspection_plan: checked by its owner
  } catch (const nlohmann::json::exception&) {
  }
  return Kind::kUnknown;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string Code(const std::string& s) { return "`" + s + "`"; }

}  // namespace

std::vector<FileProblem> CheckWorkflowsDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<FileProblem> problems;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    problems.push_back({dir, "", "not a directory"});
    return problems;
  }
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  WorkflowRegistry registry;
  BusinessCalendar calendar;
  JurisdictionTree tree;
  bool any_jurisdiction = false;
  for (const auto& f : files) {
    std::string name = f.string();
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      problems.push_back({name, "", "cannot read file"});
      continue;
    }
    std::string text = ss.str();
    switch (KindOf(f, text)) {
      case Kind::kWorkflow: {
        auto d = CheckWorkflowDefinition(text, name, &problems);
        if (d) {
          Status s = registry.Add(std::move(*d));
          if (!s.ok()) problems.push_back({name, "/version", s.message()});
        }
        break;
      }
      case Kind::kCalendar: {
        Status s = calendar.AddYearJson(text, name);
        if (!s.ok()) {
          // The calendar's messages already read "<file>: <pointer>: <problem>".
          std::string msg = s.message();
          std::string prefix = name + ": ";
          if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
          std::string ptr = s.field();
          std::string head = (ptr.empty() ? "/" : ptr) + ": ";
          if (msg.rfind(head, 0) == 0) msg = msg.substr(head.size());
          problems.push_back({name, ptr, msg});
        }
        break;
      }
      case Kind::kJurisdiction:
        any_jurisdiction = true;
        tree.AddFileJson(text, name, &problems);
        break;
      case Kind::kOther:
        break;
      case Kind::kUnknown:
        problems.push_back({name, "/kind",
                            "unknown kind of file: put it in definitions/, calendars/ or jurisdictions/, or give "
                            "\"kind\": \"workflow\" or \"jurisdiction\""});
        break;
    }
  }
  if (any_jurisdiction) tree.Finish(&problems);
  for (auto& p : problems)
    for (char& c : p.problem)
      if (c == '\n' || c == '\r') c = ' ';
  return problems;
}

std::string RenderContract(const WorkflowRegistry& registry) {
  std::ostringstream o;
  o << "# Workflow contract\n\n"
    << "Generated from `workflows/definitions/*.json` by `xiaohao workflows contract workflows`; do not edit by hand.\n"
    << "`tests/engine/contract_test.cc` regenerates it and fails when this file differs.\n\n"
    << "Conventions (engine/workflow.h, engine/rejection.h, engine/command_handler.h):\n\n"
    << "- A case is one stream, id `<workflow id>-<unique>`; its first event records the workflow id and version,\n"
    << "  and the case replays under that version for ever.\n"
    << "- Workflow event payload: `{\"command\": <name>, \"data\": {<validated payload>}}`, plus\n"
    << "  `\"workflow\": {\"id\", \"version\"}` on the first event.\n"
    << "- Deadline events, in the same append as their cause: `deadline.started`, `deadline.extended`,\n"
    << "  `deadline.cleared` `{deadline, generation, start, period, last_day (date deadlines), due_date,\n"
    << "  due_at, warn_at, basis, calendar_versions, provisional}`; `deadline.overdue_corrected`\n"
    << "  `{deadline, generation, due_date, office, cause, reason}` supersedes an overdue notice when a\n"
    << "  clearing event that happened before the deadline is recorded after it (cause `late_record`), or\n"
    << "  an extension asked before expiry is granted after it (`extension_granted`, before the\n"
    << "  `deadline.extended`); from the scheduler: `deadline.warning`, the on-expiry event,\n"
    << "  `deadline.escalated`, `deadline.recomputed` (followed by `deadline.overdue_corrected`, cause\n"
    << "  `calendar_changed`, when an amended calendar moves a passed last day into the future).\n"
    << "- Every workflow accepts `reassign`, `correct` and `void`, each with a required written `reason`.\n"
    << "- Rejections: `kRejected` (workflow rules) or `kPermissionDenied` (`role_not_allowed`,\n"
    << "  `outside_jurisdiction`), message `<code>: <中文> | <English>`, field = JSON pointer.\n"
    << "- Field types: string, text (non-empty), date (YYYY-MM-DD, CST), datetime (RFC 3339), integer,\n"
    << "  number, boolean, enum, object, unit (a jurisdiction unit id).\n";
  for (const WorkflowDefinition* d : registry.LatestOfEach()) {
    o << "\n## " << Code(d->id) << " v" << d->version << ": " << d->title << "\n\n";
    if (!d->title_en.empty()) o << d->title_en << ".\n\n";
    o << "Source: " << d->source << "\n\n";
    if (!d->settings.empty()) o << "Settings: `" << d->settings.dump() << "`\n\n";
    o << "### States\n\n| state | 名称 | |\n|---|---|---|\n";
    for (const auto& s : d->states)
      o << "| " << Code(s.name) << " | " << s.title << " | "
        << (s.initial ? "initial" : s.terminal ? "terminal" : "") << " |\n";
    o << "\n### Commands\n";
    for (const auto& c : d->commands) {
      o << "\n#### " << Code(c.name) << ": " << c.title << "\n\n";
      o << "Roles: " << Join(c.roles) << (c.opens_case ? ". Opens the case." : ".") << "\n\n";
      std::vector<std::string> moves;
      for (const auto& t : d->transitions) {
        if (t.external || t.command != c.name) continue;
        std::string m = (t.opens ? std::string("(new)") : Join(t.from, "|")) + " -> " + Code(t.event) + " -> " +
                        (t.to.empty() ? std::string("(same state)") : t.to);
        if (!t.when.empty()) {
          std::vector<std::string> w;
          for (const auto& [k, v] : t.when) w.push_back(k + "=" + v);
          m += " when " + Join(w);
        }
        moves.push_back(m);
      }
      for (const auto& m : moves) o << "- " << m << "\n";
      if (c.wrong_state) o << "- otherwise rejected: " << Code(c.wrong_state->code) << "\n";
      if (!c.payload.empty()) {
        o << "\n| field | type | required | 说明 |\n|---|---|---|---|\n";
        for (const auto& f : c.payload) {
          std::string type = FieldTypeName(f.type);
          if (f.type == FieldType::kEnum) type += " (" + Join(f.values, " \\| ") + ")";
          o << "| " << Code(f.name) << " | " << type << " | " << (f.required ? "yes" : "no") << " | "
            << f.description << " |\n";
        }
      }
    }
    bool external = false;
    for (const auto& t : d->transitions) external = external || t.external;
    if (external) {
      o << "\n### External facts (appended by other components)\n\n";
      for (const auto& t : d->transitions)
        if (t.external)
          o << "- " << Code(t.event) << (t.opens ? " (may open the case)" : "")
            << (t.to.empty() ? "" : " -> " + t.to) << "\n";
    }
    o << "\n### Events\n\n";
    for (const auto& e : d->EventTypes()) o << "- " << Code(e) << "\n";
    if (!d->deadlines.empty()) {
      o << "\n### Deadlines\n";
      for (const auto& ds : d->deadlines) {
        o << "\n#### " << Code(ds.name) << ": " << ds.title << "\n\n";
        for (const auto& r : ds.start) {
          o << "- starts on " << Code(r.event);
          if (!r.when.empty()) {
            std::vector<std::string> w;
            for (const auto& [k, v] : r.when) w.push_back(k + "=" + v);
            o << " when " << Join(w);
          }
          o << ": due " << r.Describe() << "\n";
        }
        o << "- last day " << (ds.roll_rest_day ? "rolls over rest days" : "as given")
          << "; warning " << ds.warn_days << " days before; on expiry " << Code(ds.on_expiry) << "\n";
        if (!ds.clear_on.empty()) {
          std::vector<std::string> c;
          for (const auto& e : ds.clear_on) c.push_back(Code(e));
          o << "- cleared by " << Join(c) << "\n";
        }
        if (ds.extension) {
          const auto& x = *ds.extension;
          o << "- extension: requested by " << Code(x.request_command)
            << (x.request_before_expiry ? " before expiry" : "") << ", at most " << x.cap_days
            << " days unless `" << x.reason_field << "` is given, " << x.max_extensions << " time(s); granted by "
            << Code(x.grant_command);
          if (!x.deny_command.empty()) o << ", denied by " << Code(x.deny_command);
          o << "\n";
        }
        for (size_t i = 0; i < ds.escalation.size(); ++i) {
          const auto& s = ds.escalation[i];
          o << "- escalation " << i + 1 << ": " << s.after.ToString() << " after expiry, " << Code(s.action)
            << " (" << s.notify_level << ")\n";
        }
      }
    }
  }
  return o.str();
}

}  // namespace xiaohao
