// Helpers shared by the CLI subcommand files (see adapters/cli.h).
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "adapters/cli.h"

namespace xiaohao {

std::string DefaultWorkflowsDir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  // The binary's own path, not the working directory, so `xiaohao` works
  // from anywhere: build/xiaohao -> ../workflows. Linux-only (/proc).
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) return "workflows";
  fs::path repo_layout = exe.parent_path().parent_path() / "workflows";
  if (fs::is_directory(repo_layout, ec)) return repo_layout.string();
  fs::path beside = exe.parent_path() / "workflows";
  if (fs::is_directory(beside, ec)) return beside.string();
  // Neither exists: name the expected place so the caller's error says where
  // it looked.
  return repo_layout.string();
}

}  // namespace xiaohao
