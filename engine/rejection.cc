#include "engine/rejection.h"

namespace xiaohao {

Status Rejection(const std::string& code, const std::string& zh, const std::string& en,
                 const std::string& field) {
  return Status(StatusCode::kRejected, code + ": " + zh + " | " + en, field);
}

Status Denial(const std::string& code, const std::string& zh, const std::string& en,
              const std::string& field) {
  return Status(StatusCode::kPermissionDenied, code + ": " + zh + " | " + en, field);
}

std::string RejectionCode(const Status& s) {
  if (s.code() != StatusCode::kRejected && s.code() != StatusCode::kPermissionDenied) return {};
  const std::string& m = s.message();
  size_t colon = m.find(':');
  if (colon == std::string::npos || colon == 0) return {};
  for (size_t i = 0; i < colon; ++i) {
    char c = m[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return {};
  }
  return m.substr(0, colon);
}

}  // namespace xiaohao
