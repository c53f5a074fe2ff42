// WorkflowRegistry: every workflow definition and every version of it.
//
// A case keeps the definition version it was opened under (its first event
// names it), so old cases replay under their own rules after a newer version
// is loaded. For that, every version ever loaded is recorded in the system
// stream "$workflows" as an event "workflow.version_loaded" with payload
// {"id", "version", "definition": <the file's JSON>}; LoadFromStore brings
// them all back. A version, once recorded, may not change: a file whose
// content differs from the recorded version with the same number is refused
// (bump the version instead).
//
// Thread safety: not synchronized. Build it at start-up, then share it
// read-only (Find/Latest/All are const).
#ifndef XIAOHAO_ENGINE_WORKFLOW_REGISTRY_H_
#define XIAOHAO_ENGINE_WORKFLOW_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/workflow_definition.h"
#include "store/event_store.h"
#include "store/status.h"

namespace xiaohao {

inline constexpr char kWorkflowsStream[] = "$workflows";
inline constexpr char kWorkflowVersionLoaded[] = "workflow.version_loaded";

class WorkflowRegistry {
 public:
  // Adds a definition. Adding the same id and version again is a no-op when
  // the JSON is identical, kFailedPrecondition when it differs.
  Status Add(WorkflowDefinition def);
  // Parses and adds every *.json in dir (not recursive).
  Status LoadDir(const std::string& dir);

  const WorkflowDefinition* Find(const std::string& id, int version) const;
  // The highest version of id; nullptr when unknown.
  const WorkflowDefinition* Latest(const std::string& id) const;
  // Every definition, by id then version.
  std::vector<const WorkflowDefinition*> All() const;
  // The latest version of each workflow, by id.
  std::vector<const WorkflowDefinition*> LatestOfEach() const;

  // Adds every version recorded in the $workflows stream.
  Status LoadFromStore(EventStore& store);
  // Appends each loaded version not yet in $workflows (idempotent: the
  // command id names the id and version). Refuses when a recorded version
  // differs from the loaded one.
  Status RecordInStore(EventStore& store, UnixMicros now);

 private:
  std::map<std::pair<std::string, int>, std::shared_ptr<const WorkflowDefinition>> defs_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_WORKFLOW_REGISTRY_H_
