#include "engine/jurisdiction.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace xiaohao {

namespace {

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool ParseLevel(const std::string& s, UnitLevel* out) {
  static const std::pair<const char*, UnitLevel> kLevels[] = {
      {"province", UnitLevel::kProvince},
      {"city", UnitLevel::kCity},
      {"county", UnitLevel::kCounty},
      {"office", UnitLevel::kOffice}};
  for (const auto& [name, level] : kLevels) {
    if (s == name) {
      *out = level;
      return true;
    }
  }
  return false;
}

}  // namespace

const char* UnitLevelName(UnitLevel l) {
  switch (l) {
    case UnitLevel::kProvince: return "province";
    case UnitLevel::kCity: return "city";
    case UnitLevel::kCounty: return "county";
    case UnitLevel::kOffice: return "office";
  }
  return "?";
}

void JurisdictionTree::AddFileJson(const std::string& json_text, const std::string& file,
                                   std::vector<FileProblem>* problems) {
  // A value of an unexpected type is a problem in the file, not an exception.
  try {
    AddFileJsonUnguarded(json_text, file, problems);
  } catch (const nlohmann::json::exception& e) {
    problems->push_back({file, "", std::string("a value has the wrong type: ") + e.what()});
  }
}

void JurisdictionTree::AddFileJsonUnguarded(const std::string& json_text, const std::string& file,
                                            std::vector<FileProblem>* problems) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    problems->push_back({file, "", std::string("not valid JSON: ") + e.what()});
    return;
  }
  if (!doc.is_object()) {
    problems->push_back({file, "", "expected a JSON object"});
    return;
  }
  if (doc.contains("kind") && doc["kind"] != "jurisdiction") {
    problems->push_back({file, "/kind", "expected \"jurisdiction\", got " + doc["kind"].dump()});
  }
  if (!doc.contains("units") || !doc["units"].is_array()) {
    problems->push_back({file, "/units", "missing array of units"});
    return;
  }
  const auto& units = doc["units"];
  for (size_t i = 0; i < units.size(); ++i) {
    std::string ptr = "/units/" + std::to_string(i);
    const auto& u = units[i];
    if (!u.is_object()) {
      problems->push_back({file, ptr, "expected an object"});
      continue;
    }
    bool ok = true;
    JurisdictionUnit unit;
    if (!u.contains("id") || !u["id"].is_string() || !ValidId(u["id"].get<std::string>())) {
      problems->push_back({file, ptr + "/id",
                           "id must be ASCII [a-z0-9_]{1,64}, got " +
                               (u.contains("id") ? u["id"].dump() : std::string("nothing"))});
      ok = false;
    } else {
      unit.id = u["id"].get<std::string>();
    }
    if (!u.contains("name") || !u["name"].is_string() || u["name"].get<std::string>().empty()) {
      problems->push_back({file, ptr + "/name", "missing Chinese name"});
      ok = false;
    } else {
      unit.name = u["name"].get<std::string>();
    }
    if (!u.contains("level") || !u["level"].is_string() ||
        !ParseLevel(u["level"].get<std::string>(), &unit.level)) {
      problems->push_back({file, ptr + "/level",
                           "level must be province, city, county or office, got " +
                               (u.contains("level") ? u["level"].dump() : std::string("nothing"))});
      ok = false;
    }
    if (u.contains("parent")) {
      if (!u["parent"].is_string()) {
        problems->push_back({file, ptr + "/parent", "parent must be a unit id string"});
        ok = false;
      } else {
        unit.parent = u["parent"].get<std::string>();
      }
    }
    if (!ok) continue;
    if (units_.count(unit.id)) {
      const Origin& o = origins_[unit.id];
      problems->push_back({file, ptr + "/id",
                           "duplicate unit id \"" + unit.id + "\" (first in " + o.file + " " +
                               o.pointer + ")"});
      continue;
    }
    origins_[unit.id] = {file, ptr};
    units_[unit.id] = unit;
  }
}

void JurisdictionTree::Finish(std::vector<FileProblem>* problems) {
  for (const auto& [id, unit] : units_) {
    if (unit.parent.empty()) continue;
    const Origin& o = origins_[id];
    auto it = units_.find(unit.parent);
    if (it == units_.end()) {
      problems->push_back({o.file, o.pointer + "/parent", "unknown parent unit \"" + unit.parent + "\""});
    } else if (static_cast<int>(it->second.level) >= static_cast<int>(unit.level)) {
      problems->push_back({o.file, o.pointer + "/parent",
                           "parent \"" + unit.parent + "\" is a " + UnitLevelName(it->second.level) +
                               ", not above a " + UnitLevelName(unit.level)});
    }
  }
}

Result<JurisdictionTree> JurisdictionTree::LoadDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("no jurisdiction directory " + dir);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  JurisdictionTree tree;
  std::vector<FileProblem> problems;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      problems.push_back({f, "", "cannot read file"});
      continue;
    }
    tree.AddFileJson(ss.str(), f, &problems);
  }
  tree.Finish(&problems);
  if (!problems.empty()) {
    return Status(StatusCode::kInvalidArgument, problems.front().ToString(), problems.front().pointer);
  }
  return tree;
}

const JurisdictionUnit* JurisdictionTree::Find(const std::string& id) const {
  auto it = units_.find(id);
  return it == units_.end() ? nullptr : &it->second;
}

bool JurisdictionTree::IsWithin(const std::string& unit, const std::string& ancestor) const {
  std::string cur = unit;
  // Bounded walk: Finish() rejects cycles through the level rule.
  for (int depth = 0; depth < 8 && !cur.empty(); ++depth) {
    if (cur == ancestor) return true;
    const JurisdictionUnit* u = Find(cur);
    if (u == nullptr) return false;
    cur = u->parent;
  }
  return false;
}

std::vector<std::string> JurisdictionTree::Chain(const std::string& unit) const {
  std::vector<std::string> out;
  std::string cur = unit;
  for (int depth = 0; depth < 8 && !cur.empty(); ++depth) {
    const JurisdictionUnit* u = Find(cur);
    if (u == nullptr) break;
    out.push_back(cur);
    cur = u->parent;
  }
  return out;
}

std::vector<const JurisdictionUnit*> JurisdictionTree::Units() const {
  std::vector<const JurisdictionUnit*> out;
  out.reserve(units_.size());
  for (const auto& [id, u] : units_) out.push_back(&u);
  return out;
}

}  // namespace xiaohao
