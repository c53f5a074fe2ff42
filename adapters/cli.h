// The `xiaohao` command line: one binary, one subcommand family per file.
//
// Each Register* function adds its subcommands to the app. A subcommand's
// callback stores its exit code through the given pointer; main returns it.
// Exit codes: 0 success; 1 a check found a problem (verify, workflows check);
// 2 bad input or a failed operation (message on stderr, nothing on stdout).
#ifndef XIAOHAO_ADAPTERS_CLI_H_
#define XIAOHAO_ADAPTERS_CLI_H_

#include <string>

namespace CLI {
class App;
}

namespace xiaohao {

// append, read, verify
void RegisterStoreCommands(CLI::App& app, int* exit_code);
// calendar is-workday, calendar deadline
void RegisterCalendarCommands(CLI::App& app, int* exit_code);
// workflows check
void RegisterWorkflowCommands(CLI::App& app, int* exit_code);
// users add, list, revoke, rotate (adapters/users.h)
void RegisterUserCommands(CLI::App& app, int* exit_code);
// report risk-list|rates|plan|case|audit|dossier, projections rebuild,
// export-log, import enterprises (adapters/cli_report.cc)
void RegisterReportCommands(CLI::App& app, int* exit_code);
// import risk-list (adapters/cli_import.cc). Call after RegisterReportCommands,
// which creates the `import` group.
void RegisterImportCommands(CLI::App& app, int* exit_code);
// serve: the HTTP/JSON service (adapters/service.h, adapters/http_server.h)
void RegisterServeCommands(CLI::App& app, int* exit_code);
// backup, restore (adapters/cli_backup.cc, store/backup.h)
void RegisterBackupCommands(CLI::App& app, int* exit_code);
// demo load (sample data for scripts/run --demo)
void RegisterDemoCommands(CLI::App& app, int* exit_code);

// The repository's workflows/ directory, found from the running binary's
// location (build/xiaohao -> ../workflows), so commands work from any directory.
std::string DefaultWorkflowsDir();

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_CLI_H_
