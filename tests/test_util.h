// Helpers shared by the test executables.
#ifndef XIAOHAO_TESTS_TEST_UTIL_H_
#define XIAOHAO_TESTS_TEST_UTIL_H_

#include <string>
#include <vector>

namespace xiaohao::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the built `xiaohao` binary with args (no shell), capturing both streams.
CommandOutput RunXiaohao(const std::vector<std::string>& args, const std::string& stdin_text = "");

// The repository root (for workflows/, fixtures).
std::string SourceDir();

}  // namespace xiaohao::testing

#endif  // XIAOHAO_TESTS_TEST_UTIL_H_
