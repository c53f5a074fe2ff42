// `xiaohao workflows check DIR` and `xiaohao workflows contract DIR`: the
// workflow definitions, calendars and jurisdictions as data (engine/workflow_check.h).
//
// check: exit 0 when every file is valid; else one line per problem on
// stdout, "<file>: <JSON pointer>: <problem>", and exit 1.
// contract: prints workflows/CONTRACT.md generated from DIR/definitions;
// exit 2 (message on stderr) when a definition does not load.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "adapters/cli.h"
#include "engine/workflow_check.h"
#include "engine/workflow_registry.h"

namespace xiaohao {

void RegisterWorkflowCommands(CLI::App& app, int* exit_code) {
  auto* wf = app.add_subcommand("workflows", "Workflow definitions, calendars and jurisdictions (workflows/)");
  wf->require_subcommand(1);

  auto check_dir = std::make_shared<std::string>();
  auto* check = wf->add_subcommand(
      "check",
      "Validate every definition, calendar and jurisdiction file under DIR.\n"
      "Exit 0 when all are valid; else print `<file>: <JSON pointer>: <problem>` per problem and exit 1.\n"
      "Example: xiaohao workflows check workflows");
  check->add_option("dir", *check_dir, "directory (default: the repository's workflows/)");
  check->callback([check_dir, exit_code]() {
    std::string dir = check_dir->empty() ? DefaultWorkflowsDir() : *check_dir;
    auto problems = CheckWorkflowsDir(dir);
    for (const auto& p : problems) std::cout << p.ToString() << "\n";
    *exit_code = problems.empty() ? 0 : 1;
  });

  auto contract_dir = std::make_shared<std::string>();
  auto* contract = wf->add_subcommand(
      "contract",
      "Print the workflow contract (workflows/CONTRACT.md) generated from DIR/definitions.\n"
      "Example: xiaohao workflows contract workflows > workflows/CONTRACT.md");
  contract->add_option("dir", *contract_dir, "directory (default: the repository's workflows/)");
  contract->callback([contract_dir, exit_code]() {
    std::string dir = contract_dir->empty() ? DefaultWorkflowsDir() : *contract_dir;
    WorkflowRegistry registry;
    Status s = registry.LoadDir(dir + "/definitions");
    if (!s.ok()) {
      std::cerr << "xiaohao workflows contract: " << s.message() << "\n";
      *exit_code = 2;
      return;
    }
    std::cout << RenderContract(registry);
    *exit_code = 0;
  });
}

}  // namespace xiaohao
