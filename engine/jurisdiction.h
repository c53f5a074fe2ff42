// The jurisdiction tree (监管所 / 县局 / 市局 / 省局): who supervises whom.
//
// Levels, from the top: province (省局; a municipality such as 重庆市 is at
// this level), city (市局), county (县局), office (监管所). A level may be
// absent: 石柱县's bureau reports to Chongqing directly, with no city. A
// unit's parent is always at a strictly higher level.
//
// Loaded from workflows/jurisdictions/*.json; format:
//   {"kind": "jurisdiction", "source": "...",
//    "units": [{"id": "shizhu", "name": "石柱…局", "level": "county",
//               "parent": "chongqing"}, ...]}
// Ids are ASCII [a-z0-9_]{1,64} and unique across all files; names are the
// units' Chinese names. Immutable after loading; thread-safe to read.
#ifndef XIAOHAO_ENGINE_JURISDICTION_H_
#define XIAOHAO_ENGINE_JURISDICTION_H_

#include <map>
#include <string>
#include <vector>

#include "store/status.h"

namespace xiaohao {

// One problem found in a data file: "<file>: <pointer>: <problem>".
struct FileProblem {
  std::string file;
  std::string pointer;  // JSON pointer of the offending value ("" = whole file)
  std::string problem;
  // An empty pointer (the whole file) prints as "/", as the calendar does.
  std::string ToString() const { return file + ": " + (pointer.empty() ? "/" : pointer) + ": " + problem; }
};

enum class UnitLevel { kProvince = 0, kCity = 1, kCounty = 2, kOffice = 3 };
const char* UnitLevelName(UnitLevel l);

struct JurisdictionUnit {
  std::string id;
  std::string name;  // Chinese
  UnitLevel level = UnitLevel::kOffice;
  std::string parent;  // empty for a root
};

class JurisdictionTree {
 public:
  // Adds one file's units. Problems are appended to *problems (file, pointer,
  // problem); units of a file with problems are still added when individually
  // valid. Call Finish() after the last file.
  void AddFileJson(const std::string& json_text, const std::string& file_name,
                   std::vector<FileProblem>* problems);
  // Checks parents exist and are at a higher level. Problems name the file and
  // pointer of the offending unit.
  void Finish(std::vector<FileProblem>* problems);

  // Loads every *.json in dir; the first problem becomes the error.
  static Result<JurisdictionTree> LoadDir(const std::string& dir);

  const JurisdictionUnit* Find(const std::string& id) const;
  // True when `unit` is `ancestor` or below it.
  bool IsWithin(const std::string& unit, const std::string& ancestor) const;
  // The unit and its ancestors, nearest first (the supervising chain).
  std::vector<std::string> Chain(const std::string& unit) const;
  size_t size() const { return units_.size(); }
  // Every unit, in id order (for reports that list units with no data).
  std::vector<const JurisdictionUnit*> Units() const;

 private:
  struct Origin {
    std::string file;
    std::string pointer;
  };
  void AddFileJsonUnguarded(const std::string& json_text, const std::string& file_name,
                            std::vector<FileProblem>* problems);
  std::map<std::string, JurisdictionUnit> units_;
  std::map<std::string, Origin> origins_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_JURISDICTION_H_
