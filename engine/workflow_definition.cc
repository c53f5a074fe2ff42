#include "engine/workflow_definition.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "store/time_format.h"

namespace xiaohao {

namespace {

using ojson = nlohmann::ordered_json;

bool IsName(const std::string& s, size_t max_len = 64) {
  if (s.empty() || s.size() > max_len) return false;
  if (!(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// JSON pointer escaping (RFC 6901) of one reference token.
std::string Tok(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

bool ParseFieldType(const std::string& s, FieldType* t) {
  static const std::pair<const char*, FieldType> kTypes[] = {
      {"string", FieldType::kString},     {"text", FieldType::kText},
      {"date", FieldType::kDate},         {"datetime", FieldType::kDateTime},
      {"integer", FieldType::kInteger},   {"number", FieldType::kNumber},
      {"boolean", FieldType::kBoolean},   {"enum", FieldType::kEnum},
      {"object", FieldType::kObject},     {"unit", FieldType::kUnit}};
  for (const auto& [name, type] : kTypes) {
    if (s == name) {
      *t = type;
      return true;
    }
  }
  return false;
}

// Collects problems for one file.
class Checker {
 public:
  Checker(std::string file, std::vector<FileProblem>* out) : file_(std::move(file)), out_(out) {}
  void Add(const std::string& ptr, const std::string& problem) {
    out_->push_back({file_, ptr, problem});
    ++count_;
  }
  int count() const { return count_; }

  // A required non-empty string member.
  bool Str(const ojson& obj, const std::string& key, const std::string& ptr, std::string* out,
           bool required = true) {
    if (!obj.contains(key)) {
      if (required) Add(ptr + "/" + Tok(key), "missing");
      return !required;
    }
    const auto& v = obj[key];
    if (!v.is_string() || v.get<std::string>().empty()) {
      Add(ptr + "/" + Tok(key), "expected a non-empty string, got " + v.dump());
      return false;
    }
    *out = v.get<std::string>();
    return true;
  }

 private:
  std::string file_;
  std::vector<FileProblem>* out_;
  int count_ = 0;
};

bool ParseCondition(const ojson& j, const std::string& ptr, Checker& ck, Condition* out) {
  if (!j.is_object()) {
    ck.Add(ptr, "expected an object of field: value, got " + j.dump());
    return false;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) {
      ck.Add(ptr + "/" + Tok(it.key()), "expected a string value, got " + it.value().dump());
      return false;
    }
    (*out)[it.key()] = it.value().get<std::string>();
  }
  return true;
}

void ParseField(const std::string& name, const ojson& j, const std::string& ptr, Checker& ck,
                std::vector<FieldSpec>* out) {
  FieldSpec f;
  f.name = name;
  if (!IsName(name)) ck.Add(ptr, "field name must be [a-z][a-z0-9_]*, got \"" + name + "\"");
  std::string type;
  if (j.is_string()) {
    // Shorthand: "date" is a required date, "date?" an optional one.
    type = j.get<std::string>();
    f.required = true;
    if (!type.empty() && type.back() == '?') {
      f.required = false;
      type.pop_back();
    }
  } else if (j.is_object()) {
    if (!j.contains("type") || !j["type"].is_string()) {
      ck.Add(ptr + "/type", "missing field type");
      return;
    }
    type = j["type"].get<std::string>();
    if (j.contains("required")) {
      if (!j["required"].is_boolean()) ck.Add(ptr + "/required", "expected true or false");
      else f.required = j["required"].get<bool>();
    } else {
      f.required = true;
    }
    if (j.contains("description") && j["description"].is_string())
      f.description = j["description"].get<std::string>();
    if (j.contains("values")) {
      if (!j["values"].is_array() || j["values"].empty()) {
        ck.Add(ptr + "/values", "expected a non-empty array of strings");
      } else {
        for (size_t i = 0; i < j["values"].size(); ++i) {
          const auto& v = j["values"][i];
          if (!v.is_string() || v.get<std::string>().empty())
            ck.Add(ptr + "/values/" + std::to_string(i), "expected a non-empty string, got " + v.dump());
          else f.values.push_back(v.get<std::string>());
        }
      }
    }
  } else {
    ck.Add(ptr, "expected a type name or an object, got " + j.dump());
    return;
  }
  if (!ParseFieldType(type, &f.type)) {
    ck.Add(j.is_object() ? ptr + "/type" : ptr,
           "unknown field type \"" + type +
               "\" (string, text, date, datetime, integer, number, boolean, enum, object, unit)");
    return;
  }
  if (f.type == FieldType::kEnum && f.values.empty() && !(j.is_object() && j.contains("values")))
    ck.Add(ptr, "an enum field needs \"values\"");
  out->push_back(std::move(f));
}

bool ParseRoles(const ojson& j, const std::string& ptr, Checker& ck, std::vector<std::string>* out) {
  if (!j.is_array() || j.empty()) {
    ck.Add(ptr, "expected a non-empty array of roles");
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& r = j[i];
    std::string p = ptr + "/" + std::to_string(i);
    if (!r.is_string()) {
      ck.Add(p, "expected a role name, got " + r.dump());
      ok = false;
      continue;
    }
    std::string role = r.get<std::string>();
    if (role == "auditor") {
      ck.Add(p, "role \"auditor\" is read-only and may not send commands");
      ok = false;
    } else if (std::find(KnownRoles().begin(), KnownRoles().end(), role) == KnownRoles().end()) {
      ck.Add(p, "unknown role \"" + role + "\"");
      ok = false;
    } else {
      out->push_back(role);
    }
  }
  return ok;
}

// "Nd" only: a warning lead is counted in calendar days.
bool ParseDays(const ojson& j, const std::string& ptr, Checker& ck, int* out) {
  if (j.is_number_integer() && j.get<int>() >= 0 && j.get<int>() <= 366) {
    *out = j.get<int>();
    return true;
  }
  ck.Add(ptr, "expected a number of days 0..366, got " + j.dump());
  return false;
}

bool ParsePeriodAt(const ojson& j, const std::string& ptr, Checker& ck, Period* out) {
  if (!j.is_string()) {
    ck.Add(ptr, "expected a period such as \"50d\", \"7wd\" or \"2m\", got " + j.dump());
    return false;
  }
  auto p = Period::Parse(j.get<std::string>());
  if (!p.ok()) {
    ck.Add(ptr, "period \"" + j.get<std::string>() + "\" does not parse (" + p.status().message() + ")");
    return false;
  }
  *out = *p;
  return true;
}

CommandSpec CommonCommand(CommandKind kind, const std::vector<std::string>& roles) {
  CommandSpec c;
  c.kind = kind;
  c.roles = roles;
  switch (kind) {
    case CommandKind::kReassign:
      c.name = "reassign";
      c.title = "改派（另一监管所或责任人）";
      c.payload = {{"office", FieldType::kUnit, true, {}, "新的责任单位"},
                   {"assignee", FieldType::kString, false, {}, "新的责任人"},
                   {"reason", FieldType::kText, true, {}, "书面理由"}};
      break;
    case CommandKind::kCorrect:
      c.name = "correct";
      c.title = "更正（新事件取代原事实，原事件保留）";
      c.payload = {{"corrects_version", FieldType::kInteger, true, {}, "被更正事件在本案件流中的版本号"},
                   {"fields", FieldType::kObject, true, {}, "更正后的字段值"},
                   {"reason", FieldType::kText, true, {}, "书面理由"}};
      break;
    case CommandKind::kVoid:
      c.name = "void";
      c.title = "作废（误立案件）";
      c.payload = {{"reason", FieldType::kText, true, {}, "书面理由"}};
      break;
    case CommandKind::kOrdinary:
      break;
  }
  return c;
}

const Transition* FindOpening(const WorkflowDefinition& d) {
  for (const auto& t : d.transitions)
    if (t.opens && !t.external) return &t;
  return nullptr;
}

}  // namespace

const char* FieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kString: return "string";
    case FieldType::kText: return "text";
    case FieldType::kDate: return "date";
    case FieldType::kDateTime: return "datetime";
    case FieldType::kInteger: return "integer";
    case FieldType::kNumber: return "number";
    case FieldType::kBoolean: return "boolean";
    case FieldType::kEnum: return "enum";
    case FieldType::kObject: return "object";
    case FieldType::kUnit: return "unit";
  }
  return "?";
}

const std::vector<std::string>& KnownRoles() {
  static const std::vector<std::string> kRoles = {"inspector", "supervisor", "province_approver",
                                                  "auditor",   "enterprise", "admin", "system"};
  return kRoles;
}

const FieldSpec* CommandSpec::FindField(const std::string& n) const {
  for (const auto& f : payload)
    if (f.name == n) return &f;
  return nullptr;
}

std::string DueRule::Describe() const {
  switch (kind) {
    case Kind::kPeriod:
      return period.ToString() + " from " + (from_field.empty() ? "the event's date" : from_field);
    case Kind::kDateField:
      return "the date in " + date_field;
    case Kind::kFixedDate: {
      char buf[16];
      snprintf(buf, sizeof buf, "%02d-%02d", month, day);
      std::string y = year_field + (year_offset > 0 ? "+" + std::to_string(year_offset)
                                   : year_offset < 0 ? std::to_string(year_offset) : "");
      return std::string(buf) + " of year " + y;
    }
  }
  return "?";
}

const CommandSpec* WorkflowDefinition::FindCommand(const std::string& n) const {
  for (const auto& c : commands)
    if (c.name == n) return &c;
  return nullptr;
}
const StateSpec* WorkflowDefinition::FindState(const std::string& n) const {
  for (const auto& s : states)
    if (s.name == n) return &s;
  return nullptr;
}
const DeadlineSpec* WorkflowDefinition::FindDeadline(const std::string& n) const {
  for (const auto& d : deadlines)
    if (d.name == n) return &d;
  return nullptr;
}
const Transition* WorkflowDefinition::TransitionForEvent(const std::string& type) const {
  for (const auto& t : transitions)
    if (t.event == type) return &t;
  return nullptr;
}
std::string WorkflowDefinition::InitialState() const {
  for (const auto& s : states)
    if (s.initial) return s.name;
  return {};
}
std::vector<std::string> WorkflowDefinition::EventTypes() const {
  std::vector<std::string> out;
  for (const auto& t : transitions)
    if (std::find(out.begin(), out.end(), t.event) == out.end()) out.push_back(t.event);
  std::vector<std::string> dl;
  if (!deadlines.empty()) {
    dl = {"deadline.started", "deadline.cleared", "deadline.warning"};
    bool ext = false;
    for (const auto& d : deadlines) {
      if (d.extension) ext = true;
      if (std::find(dl.begin(), dl.end(), d.on_expiry) == dl.end()) dl.push_back(d.on_expiry);
    }
    if (ext) dl.insert(dl.begin() + 1, "deadline.extended");
  }
  out.insert(out.end(), dl.begin(), dl.end());
  return out;
}

namespace {
std::optional<WorkflowDefinition> CheckWorkflowDefinitionUnguarded(const std::string& json_text,
                                                                   const std::string& file,
                                                                   std::vector<FileProblem>* problems);
}  // namespace

// The edge where nlohmann::json meets definition files: a value of an
// unexpected type that a check below missed is a problem in the file, never
// an exception out of here (found by tests/fuzz/fuzz_definition.cc).
std::optional<WorkflowDefinition> CheckWorkflowDefinition(const std::string& json_text,
                                                          const std::string& file,
                                                          std::vector<FileProblem>* problems) {
  try {
    return CheckWorkflowDefinitionUnguarded(json_text, file, problems);
  } catch (const nlohmann::json::exception& e) {
    problems->push_back({file, "", std::string("a value has the wrong type: ") + e.what()});
    return std::nullopt;
  }
}

namespace {
std::optional<WorkflowDefinition> CheckWorkflowDefinitionUnguarded(const std::string& json_text,
                                                                   const std::string& file,
                                                                   std::vector<FileProblem>* problems) {
  Checker ck(file, problems);
  ojson doc;
  try {
    doc = ojson::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    ck.Add("", std::string("not valid JSON: ") + e.what());
    return std::nullopt;
  }
  if (!doc.is_object()) {
    ck.Add("", "expected a JSON object");
    return std::nullopt;
  }
  WorkflowDefinition d;
  d.file = file;
  d.raw = nlohmann::json::parse(doc.dump());
  if (doc.contains("kind") && doc["kind"] != "workflow")
    ck.Add("/kind", "expected \"workflow\", got " + doc["kind"].dump());
  if (ck.Str(doc, "id", "", &d.id) && !IsName(d.id, 40))
    ck.Add("/id", "id must be [a-z][a-z0-9_]{0,40}, got \"" + d.id + "\"");
  if (!doc.contains("version") || !doc["version"].is_number_integer() || doc["version"].get<int>() < 1)
    ck.Add("/version", "expected an integer >= 1, got " +
                           (doc.contains("version") ? doc["version"].dump() : std::string("nothing")));
  else d.version = doc["version"].get<int>();
  (void)ck.Str(doc, "title", "", &d.title);
  (void)ck.Str(doc, "title_en", "", &d.title_en, false);
  (void)ck.Str(doc, "source", "", &d.source);
  if (doc.contains("settings")) {
    if (!doc["settings"].is_object()) ck.Add("/settings", "expected an object");
    else d.settings = nlohmann::json::parse(doc["settings"].dump());
  }

  // States.
  std::set<std::string> non_terminal;
  if (!doc.contains("states") || !doc["states"].is_array() || doc["states"].empty()) {
    ck.Add("/states", "expected a non-empty array of states");
  } else {
    int initials = 0;
    for (size_t i = 0; i < doc["states"].size(); ++i) {
      const auto& s = doc["states"][i];
      std::string p = "/states/" + std::to_string(i);
      StateSpec st;
      if (!s.is_object()) {
        ck.Add(p, "expected an object");
        continue;
      }
      if (!ck.Str(s, "name", p, &st.name)) continue;
      if (!IsName(st.name)) {
        ck.Add(p + "/name", "state name must be [a-z][a-z0-9_]*, got \"" + st.name + "\"");
        continue;
      }
      if (st.name == kVoidedState) {
        ck.Add(p + "/name", "state \"voided\" is reserved (the engine adds it)");
        continue;
      }
      if (d.FindState(st.name)) {
        ck.Add(p + "/name", "duplicate state \"" + st.name + "\"");
        continue;
      }
      (void)ck.Str(s, "title", p, &st.title);
      st.initial = s.value("initial", false);
      st.terminal = s.value("terminal", false);
      if (st.initial) ++initials;
      if (st.initial && st.terminal) ck.Add(p, "the initial state cannot be terminal");
      if (!st.terminal) non_terminal.insert(st.name);
      d.states.push_back(st);
    }
    if (initials != 1) ck.Add("/states", "expected exactly one initial state, found " + std::to_string(initials));
  }

  // Commands.
  if (!doc.contains("commands") || !doc["commands"].is_object() || doc["commands"].empty()) {
    ck.Add("/commands", "expected a non-empty object of commands");
  } else {
    for (auto it = doc["commands"].begin(); it != doc["commands"].end(); ++it) {
      std::string p = "/commands/" + Tok(it.key());
      const auto& c = it.value();
      CommandSpec cs;
      cs.name = it.key();
      if (!IsName(cs.name)) {
        ck.Add(p, "command name must be [a-z][a-z0-9_]*, got \"" + cs.name + "\"");
        continue;
      }
      if (cs.name == "reassign" || cs.name == "correct" || cs.name == "void") {
        ck.Add(p, "\"" + cs.name + "\" is a common command: declare its roles in /common_commands");
        continue;
      }
      if (!c.is_object()) {
        ck.Add(p, "expected an object");
        continue;
      }
      (void)ck.Str(c, "title", p, &cs.title);
      if (!c.contains("roles")) ck.Add(p + "/roles", "missing");
      else ParseRoles(c["roles"], p + "/roles", ck, &cs.roles);
      if (c.contains("payload")) {
        if (!c["payload"].is_object()) {
          ck.Add(p + "/payload", "expected an object of field: type");
        } else {
          for (auto f = c["payload"].begin(); f != c["payload"].end(); ++f)
            ParseField(f.key(), f.value(), p + "/payload/" + Tok(f.key()), ck, &cs.payload);
        }
      }
      if (c.contains("wrong_state")) {
        const auto& w = c["wrong_state"];
        RejectionText rt;
        std::string wp = p + "/wrong_state";
        if (!w.is_object()) {
          ck.Add(wp, "expected {code, zh, en}");
        } else if (ck.Str(w, "code", wp, &rt.code) && ck.Str(w, "zh", wp, &rt.zh) &&
                   ck.Str(w, "en", wp, &rt.en)) {
          if (!IsName(rt.code)) ck.Add(wp + "/code", "code must be snake_case, got \"" + rt.code + "\"");
          cs.wrong_state = rt;
        }
      }
      d.commands.push_back(std::move(cs));
    }
  }

  // Common commands: reassign, correct, void, each with its roles.
  std::vector<CommandSpec> common;
  if (!doc.contains("common_commands") || !doc["common_commands"].is_object()) {
    ck.Add("/common_commands", "missing: declare the roles for reassign, correct and void");
  } else {
    const auto& cc = doc["common_commands"];
    for (auto it = cc.begin(); it != cc.end(); ++it) {
      if (it.key() != "reassign" && it.key() != "correct" && it.key() != "void")
        ck.Add("/common_commands/" + Tok(it.key()),
               "unknown common command \"" + it.key() + "\" (reassign, correct, void)");
    }
    const std::pair<const char*, CommandKind> kCommon[] = {
        {"reassign", CommandKind::kReassign}, {"correct", CommandKind::kCorrect}, {"void", CommandKind::kVoid}};
    for (const auto& [name, kind] : kCommon) {
      std::string p = std::string("/common_commands/") + name;
      if (!cc.contains(name) || !cc[name].is_object() || !cc[name].contains("roles")) {
        ck.Add(p + "/roles", "missing");
        continue;
      }
      std::vector<std::string> roles;
      if (ParseRoles(cc[name]["roles"], p + "/roles", ck, &roles))
        common.push_back(CommonCommand(kind, roles));
    }
  }

  // Transitions.
  std::map<std::string, std::string> event_target;  // event -> to ("" = stay)
  std::set<std::string> used_commands;
  if (!doc.contains("transitions") || !doc["transitions"].is_array() || doc["transitions"].empty()) {
    ck.Add("/transitions", "expected a non-empty array of transitions");
  } else {
    for (size_t i = 0; i < doc["transitions"].size(); ++i) {
      const auto& t = doc["transitions"][i];
      std::string p = "/transitions/" + std::to_string(i);
      if (!t.is_object()) {
        ck.Add(p, "expected an object");
        continue;
      }
      Transition tr;
      int before = ck.count();
      if (!ck.Str(t, "command", p, &tr.command)) continue;
      const CommandSpec* cs = d.FindCommand(tr.command);
      if (cs == nullptr) ck.Add(p + "/command", "unknown command \"" + tr.command + "\"");
      used_commands.insert(tr.command);
      tr.opens = t.value("opens", false);
      if (tr.opens) {
        if (t.contains("from")) ck.Add(p + "/from", "an opening transition has no \"from\" state");
        if (cs) const_cast<CommandSpec*>(cs)->opens_case = true;
      } else if (!t.contains("from")) {
        ck.Add(p + "/from", "missing (a state, a list of states, or \"*\" for any non-terminal state)");
      } else {
        const auto& f = t["from"];
        std::vector<std::pair<std::string, std::string>> names;  // name, pointer
        if (f.is_string()) names.push_back({f.get<std::string>(), p + "/from"});
        else if (f.is_array())
          for (size_t k = 0; k < f.size(); ++k)
            names.push_back({f[k].is_string() ? f[k].get<std::string>() : f[k].dump(),
                             p + "/from/" + std::to_string(k)});
        else ck.Add(p + "/from", "expected a state name or an array of them");
        for (const auto& [n, np] : names) {
          if (n == "*") {
            for (const auto& s : d.states)
              if (!s.terminal) tr.from.push_back(s.name);
          } else if (!d.FindState(n)) {
            ck.Add(np, "unknown state \"" + n + "\"");
          } else {
            tr.from.push_back(n);
          }
        }
      }
      std::string ev;
      if (ck.Str(t, "event", p, &ev)) {
        if (!IsName(ev)) ck.Add(p + "/event", "event name must be [a-z][a-z0-9_]* (the workflow id is prefixed), got \"" + ev + "\"");
        tr.event = d.id + "." + ev;
      }
      if (t.contains("to")) {
        if (!t["to"].is_string() || !d.FindState(t["to"].get<std::string>()))
          ck.Add(p + "/to", "unknown state " + t["to"].dump());
        else tr.to = t["to"].get<std::string>();
      } else if (tr.opens) {
        tr.to = d.InitialState();
      }
      if (tr.opens && !tr.to.empty() && tr.to != d.InitialState())
        ck.Add(p + "/to", "an opening transition must lead to the initial state \"" + d.InitialState() + "\"");
      if (t.contains("when")) {
        if (ParseCondition(t["when"], p + "/when", ck, &tr.when) && cs) {
          for (const auto& [field, value] : tr.when) {
            const FieldSpec* fs = cs->FindField(field);
            if (!fs) {
              ck.Add(p + "/when/" + Tok(field), "\"" + field + "\" is not a payload field of \"" + tr.command + "\"");
            } else if (fs->type == FieldType::kEnum &&
                       std::find(fs->values.begin(), fs->values.end(), value) == fs->values.end()) {
              ck.Add(p + "/when/" + Tok(field), "\"" + value + "\" is not one of the values of \"" + field + "\"");
            } else if (fs->type != FieldType::kEnum && fs->type != FieldType::kString) {
              ck.Add(p + "/when/" + Tok(field), "conditions need a string or enum field");
            }
          }
        }
      }
      if (!tr.event.empty()) {
        auto prev = event_target.find(tr.event);
        if (prev != event_target.end() && prev->second != tr.to)
          ck.Add(p + "/to", "event \"" + ev + "\" already leads to \"" + prev->second +
                                "\"; one event type must lead to one state");
        event_target[tr.event] = tr.to;
      }
      if (ck.count() == before) d.transitions.push_back(std::move(tr));
    }
  }
  // External events: facts appended by other components.
  if (doc.contains("external_events")) {
    if (!doc["external_events"].is_array()) {
      ck.Add("/external_events", "expected an array");
    } else {
      for (size_t i = 0; i < doc["external_events"].size(); ++i) {
        const auto& t = doc["external_events"][i];
        std::string p = "/external_events/" + std::to_string(i);
        Transition tr;
        tr.external = true;
        std::string ev, title;
        if (!t.is_object() || !ck.Str(t, "event", p, &ev)) {
          if (!t.is_object()) ck.Add(p, "expected an object");
          continue;
        }
        (void)ck.Str(t, "title", p, &title);
        if (!IsName(ev)) {
          ck.Add(p + "/event", "event name must be [a-z][a-z0-9_]*, got \"" + ev + "\"");
          continue;
        }
        tr.event = d.id + "." + ev;
        tr.opens = t.value("opens", false);
        if (t.contains("to")) {
          if (!t["to"].is_string() || !d.FindState(t["to"].get<std::string>())) {
            ck.Add(p + "/to", "unknown state " + t["to"].dump());
            continue;
          }
          tr.to = t["to"].get<std::string>();
        }
        if (event_target.count(tr.event)) {
          ck.Add(p + "/event", "event \"" + ev + "\" is already emitted by a command");
          continue;
        }
        event_target[tr.event] = tr.to;
        d.transitions.push_back(std::move(tr));
      }
    }
  }
  for (size_t i = 0; i < d.commands.size(); ++i) {
    if (!used_commands.count(d.commands[i].name))
      ck.Add("/commands/" + Tok(d.commands[i].name), "command \"" + d.commands[i].name + "\" is used by no transition");
  }
  const Transition* opening = FindOpening(d);
  if (opening == nullptr) {
    ck.Add("/transitions", "no opening transition (\"opens\": true)");
  } else if (const CommandSpec* oc = d.FindCommand(opening->command)) {
    const FieldSpec* office = oc->FindField("office");
    if (!office || office->type != FieldType::kUnit || !office->required)
      ck.Add("/commands/" + Tok(oc->name) + "/payload",
             "the opening command needs a required \"office\" field of type unit (the responsible unit)");
  }

  // Which command's payload an event carries (for date fields of deadlines).
  auto command_of_event = [&](const std::string& full) -> const CommandSpec* {
    const Transition* t = d.TransitionForEvent(full);
    return t ? d.FindCommand(t->command) : nullptr;
  };
  auto event_exists = [&](const std::string& full) { return event_target.count(full) > 0; };

  // Deadlines.
  if (doc.contains("deadlines")) {
    if (!doc["deadlines"].is_array()) ck.Add("/deadlines", "expected an array");
    else
      for (size_t i = 0; i < doc["deadlines"].size(); ++i) {
        const auto& j = doc["deadlines"][i];
        std::string p = "/deadlines/" + std::to_string(i);
        if (!j.is_object()) {
          ck.Add(p, "expected an object");
          continue;
        }
        DeadlineSpec ds;
        if (ck.Str(j, "name", p, &ds.name) && !IsName(ds.name))
          ck.Add(p + "/name", "deadline name must be [a-z][a-z0-9_]*, got \"" + ds.name + "\"");
        if (d.FindDeadline(ds.name)) ck.Add(p + "/name", "duplicate deadline \"" + ds.name + "\"");
        (void)ck.Str(j, "title", p, &ds.title);
        if (j.contains("warn_days")) ParseDays(j["warn_days"], p + "/warn_days", ck, &ds.warn_days);
        if (j.contains("roll_rest_day")) ds.roll_rest_day = j.value("roll_rest_day", true);
        if (j.contains("on_expiry")) {
          if (!j["on_expiry"].is_string() || j["on_expiry"].get<std::string>().rfind("deadline.", 0) != 0)
            ck.Add(p + "/on_expiry", "expected a deadline.* event type, got " + j["on_expiry"].dump());
          else ds.on_expiry = j["on_expiry"].get<std::string>();
        }
        if (!j.contains("start") || !j["start"].is_array() || j["start"].empty()) {
          ck.Add(p + "/start", "expected a non-empty array of start rules");
        } else {
          for (size_t k = 0; k < j["start"].size(); ++k) {
            const auto& r = j["start"][k];
            std::string rp = p + "/start/" + std::to_string(k);
            DueRule rule;
            std::string ev;
            if (!r.is_object() || !ck.Str(r, "event", rp, &ev)) {
              if (!r.is_object()) ck.Add(rp, "expected an object");
              continue;
            }
            rule.event = d.id + "." + ev;
            if (!event_exists(rule.event)) {
              ck.Add(rp + "/event", "unknown event \"" + ev + "\"");
              continue;
            }
            const CommandSpec* cs = command_of_event(rule.event);
            if (r.contains("when")) ParseCondition(r["when"], rp + "/when", ck, &rule.when);
            if (cs)
              for (const auto& [field, value] : rule.when)
                if (!cs->FindField(field))
                  ck.Add(rp + "/when/" + Tok(field), "\"" + field + "\" is not a payload field of \"" + cs->name + "\"");
            if (!r.contains("due") || !r["due"].is_object()) {
              ck.Add(rp + "/due", "expected {\"period\": ...}, {\"date_field\": ...} or {\"fixed\": \"MM-DD\", \"year_field\": ...}");
              continue;
            }
            const auto& due = r["due"];
            auto need_field = [&](const std::string& key, FieldType type, std::string* out) {
              if (!due[key].is_string()) {
                ck.Add(rp + "/due/" + key, "expected a payload field name");
                return;
              }
              *out = due[key].get<std::string>();
              const FieldSpec* fs = cs ? cs->FindField(*out) : nullptr;
              if (!fs) ck.Add(rp + "/due/" + key, "\"" + *out + "\" is not a payload field of \"" + (cs ? cs->name : "?") + "\"");
              else if (fs->type != type)
                ck.Add(rp + "/due/" + key, "\"" + *out + "\" must be of type " + FieldTypeName(type));
              else if (!fs->required)
                ck.Add(rp + "/due/" + key, "\"" + *out + "\" must be a required field");
            };
            if (due.contains("period")) {
              rule.kind = DueRule::Kind::kPeriod;
              ParsePeriodAt(due["period"], rp + "/due/period", ck, &rule.period);
              if (due.contains("from_field")) need_field("from_field", FieldType::kDate, &rule.from_field);
            } else if (due.contains("date_field")) {
              rule.kind = DueRule::Kind::kDateField;
              need_field("date_field", FieldType::kDate, &rule.date_field);
            } else if (due.contains("fixed")) {
              rule.kind = DueRule::Kind::kFixedDate;
              unsigned m = 0, dd = 0;
              std::string f = due["fixed"].is_string() ? due["fixed"].get<std::string>() : "";
              if (f.size() != 5 || sscanf(f.c_str(), "%2u-%2u", &m, &dd) != 2 || !IsValidCivilDate(2024, m, dd))
                ck.Add(rp + "/due/fixed", "expected \"MM-DD\", got " + due["fixed"].dump());
              rule.month = static_cast<int>(m);
              rule.day = static_cast<int>(dd);
              need_field("year_field", FieldType::kInteger, &rule.year_field);
              if (due.contains("year_offset")) {
                if (!due["year_offset"].is_number_integer()) ck.Add(rp + "/due/year_offset", "expected an integer");
                else rule.year_offset = due["year_offset"].get<int>();
              }
            } else {
              ck.Add(rp + "/due", "expected one of period, date_field, fixed");
            }
            ds.start.push_back(rule);
          }
        }
        if (j.contains("clear_on")) {
          if (!j["clear_on"].is_array()) ck.Add(p + "/clear_on", "expected an array of events");
          else
            for (size_t k = 0; k < j["clear_on"].size(); ++k) {
              const auto& e = j["clear_on"][k];
              std::string full = d.id + "." + (e.is_string() ? e.get<std::string>() : e.dump());
              if (!e.is_string() || !event_exists(full))
                ck.Add(p + "/clear_on/" + std::to_string(k), "unknown event " + e.dump());
              else ds.clear_on.push_back(full);
            }
        }
        if (j.contains("extension")) {
          const auto& x = j["extension"];
          std::string xp = p + "/extension";
          ExtensionRule er;
          if (!x.is_object()) {
            ck.Add(xp, "expected an object");
          } else {
            auto cmd = [&](const char* key, std::string* out, bool required) {
              if (!ck.Str(x, key, xp, out, required) || out->empty()) return;
              if (!d.FindCommand(*out)) ck.Add(xp + "/" + key, "unknown command \"" + *out + "\"");
            };
            cmd("request_command", &er.request_command, true);
            cmd("grant_command", &er.grant_command, true);
            cmd("deny_command", &er.deny_command, false);
            if (x.contains("days_field")) (void)ck.Str(x, "days_field", xp, &er.days_field);
            if (x.contains("reason_field")) (void)ck.Str(x, "reason_field", xp, &er.reason_field);
            if (!x.contains("cap_days") || !x["cap_days"].is_number_integer() || x["cap_days"].get<int>() < 1)
              ck.Add(xp + "/cap_days", "expected an integer >= 1");
            else er.cap_days = x["cap_days"].get<int>();
            if (x.contains("max_extensions")) {
              if (!x["max_extensions"].is_number_integer() || x["max_extensions"].get<int>() < 1)
                ck.Add(xp + "/max_extensions", "expected an integer >= 1");
              else er.max_extensions = x["max_extensions"].get<int>();
            }
            er.request_before_expiry = x.value("request_before_expiry", true);
            if (const CommandSpec* rc = d.FindCommand(er.request_command)) {
              const FieldSpec* df = rc->FindField(er.days_field);
              if (!df || df->type != FieldType::kInteger || !df->required)
                ck.Add(xp + "/days_field", "\"" + er.request_command + "\" needs a required integer field \"" + er.days_field + "\"");
              const FieldSpec* rf = rc->FindField(er.reason_field);
              if (!rf || rf->type != FieldType::kText)
                ck.Add(xp + "/reason_field", "\"" + er.request_command + "\" needs a text field \"" + er.reason_field + "\"");
            }
            for (const auto& r : ds.start)
              if (r.kind != DueRule::Kind::kPeriod)
                ck.Add(xp, "only a deadline counted as a period can be extended");
            ds.extension = er;
          }
        }
        if (j.contains("escalation")) {
          if (!j["escalation"].is_array()) ck.Add(p + "/escalation", "expected an array of steps");
          else
            for (size_t k = 0; k < j["escalation"].size(); ++k) {
              const auto& s = j["escalation"][k];
              std::string sp = p + "/escalation/" + std::to_string(k);
              EscalationStep st;
              if (!s.is_object()) {
                ck.Add(sp, "expected an object");
                continue;
              }
              if (!s.contains("after")) ck.Add(sp + "/after", "missing");
              else ParsePeriodAt(s["after"], sp + "/after", ck, &st.after);
              if (ck.Str(s, "action", sp, &st.action) && !IsName(st.action))
                ck.Add(sp + "/action", "action must be snake_case, got \"" + st.action + "\"");
              if (ck.Str(s, "notify", sp, &st.notify_level) && st.notify_level != "office" &&
                  st.notify_level != "county" && st.notify_level != "city" && st.notify_level != "province")
                ck.Add(sp + "/notify", "expected office, county, city or province, got \"" + st.notify_level + "\"");
              ds.escalation.push_back(st);
            }
        }
        d.deadlines.push_back(std::move(ds));
      }
  }

  // The engine's own parts: the voided state and the common commands.
  d.states.push_back({kVoidedState, "已作废", false, true});
  for (auto& c : common) {
    Transition t;
    t.command = c.name;
    for (const auto& s : d.states) {
      bool allowed = c.kind == CommandKind::kCorrect ? s.name != kVoidedState : !s.terminal;
      if (allowed) t.from.push_back(s.name);
    }
    t.event = d.id + "." + (c.kind == CommandKind::kReassign ? "reassigned"
                            : c.kind == CommandKind::kCorrect ? "corrected" : "voided");
    if (event_target.count(t.event)) ck.Add("/transitions", "event \"" + t.event + "\" is reserved for " + c.name);
    if (c.kind == CommandKind::kVoid) t.to = kVoidedState;
    d.transitions.push_back(t);
    d.commands.push_back(std::move(c));
  }
  (void)non_terminal;
  if (ck.count() > 0) return std::nullopt;
  return d;
}
}  // namespace

Result<WorkflowDefinition> ParseWorkflowDefinition(const std::string& json_text, const std::string& file) {
  std::vector<FileProblem> problems;
  auto d = CheckWorkflowDefinition(json_text, file, &problems);
  if (!d) {
    std::string msg = problems.empty() ? file + ": invalid" : problems.front().ToString();
    if (problems.size() > 1) msg += " (and " + std::to_string(problems.size() - 1) + " more)";
    return Status(StatusCode::kInvalidArgument, msg, problems.empty() ? "" : problems.front().pointer);
  }
  return std::move(*d);
}

}  // namespace xiaohao
