// xiaohao: 销号, closing the item. See README.md.
#include <CLI/CLI.hpp>
#include <iostream>

#include "adapters/cli.h"

int main(int argc, char** argv) {
  CLI::App app{
      "xiaohao (销号): an event-sourced workflow engine that drives every risk a regulator\n"
      "finds to a verified closure. Every fact is an append-only, hash-chained event.\n\n"
      "Example:\n  xiaohao verify --data ./var\n"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "xiaohao 0.1.0");
  int exit_code = 0;
  xiaohao::RegisterStoreCommands(app, &exit_code);
  xiaohao::RegisterCalendarCommands(app, &exit_code);
  xiaohao::RegisterWorkflowCommands(app, &exit_code);
  xiaohao::RegisterUserCommands(app, &exit_code);
  xiaohao::RegisterServeCommands(app, &exit_code);
  xiaohao::RegisterReportCommands(app, &exit_code);
  xiaohao::RegisterImportCommands(app, &exit_code);
  xiaohao::RegisterDemoCommands(app, &exit_code);
  xiaohao::RegisterBackupCommands(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help or the error
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
