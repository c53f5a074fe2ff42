// Checking a workflows/ directory, and rendering its contract.
//
// CheckWorkflowsDir walks DIR recursively and validates every *.json file:
// a file's kind is its folder (definitions/, calendars/, jurisdictions/) or,
// elsewhere, its "kind" field ("workflow" or "jurisdiction"; calendar files
// have no kind and must live in calendars/). Files of another kind (e.g.
// "inspection_plan" in plans/) belong to other checkers and are skipped; a
// file with neither a known folder nor a kind is a problem. Definitions are checked by
// CheckWorkflowDefinition (and for a duplicate id + version), calendars by
// BusinessCalendar::AddYearJson, jurisdictions by JurisdictionTree (across
// all files: ids unique, parents known and higher). The problems come back
// in file order, each printable as "<file>: <JSON pointer>: <problem>".
//
// RenderContract writes workflows/CONTRACT.md from the latest version of
// each definition: states, commands (roles, payload fields and types), event
// types, deadlines. tests/engine/contract_test.cc regenerates it and fails
// when the committed file differs.
#ifndef XIAOHAO_ENGINE_WORKFLOW_CHECK_H_
#define XIAOHAO_ENGINE_WORKFLOW_CHECK_H_

#include <string>
#include <vector>

#include "engine/jurisdiction.h"
#include "engine/workflow_registry.h"

namespace xiaohao {

std::vector<FileProblem> CheckWorkflowsDir(const std::string& dir);

std::string RenderContract(const WorkflowRegistry& registry);

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_WORKFLOW_CHECK_H_
