#include "store/status.h"

#include <catch2/catch.hpp>

using namespace xiaohao;

namespace {
Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd number " + std::to_string(x), "/x");
  return x / 2;
}
Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}
Status Check(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status::OK();
}
}  // namespace

TEST_CASE("Result and the macros propagate the first error with its field") {
  CHECK(*Quarter(12) == 3);
  auto r = Quarter(6);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message() == "odd number 3");
  CHECK(r.status().field() == "/x");
  CHECK(Check(4).ok());
  CHECK(Check(5).ToString() == "invalid_argument: odd number 5 (field /x)");
}

TEST_CASE("a version conflict carries the actual version through added context") {
  Status s = Status::VersionConflict("stale", 7, "case-1").WithContext("sending verify");
  CHECK(s.code() == StatusCode::kVersionConflict);
  CHECK(s.actual_version() == 7u);
  CHECK(s.message() == "sending verify: stale");
  CHECK(std::string(StatusCodeName(StatusCode::kVersionConflict)) == "version_conflict");
}
