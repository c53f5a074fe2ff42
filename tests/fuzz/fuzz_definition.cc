// libFuzzer target: workflow definition files. Any text gives problems or a
// definition, never a crash.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/workflow_definition.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<xiaohao::FileProblem> problems;
  auto def = xiaohao::CheckWorkflowDefinition(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json",
                                              &problems);
  if (def) def->EventTypes();
  return 0;
}
