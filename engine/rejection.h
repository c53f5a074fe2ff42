// Rejections: how the engine says "no" to a command, with a stable code.
//
// A refused command is a non-OK Status whose message starts with a stable
// snake_case code, then the reason in Chinese and in English:
//
//   "<code>: <中文说明> | <English explanation>"
//
// Status::field() keeps its usual meaning: the JSON pointer of the offending
// input (e.g. "/payload/rectify_by"), or empty.
//
// Two families, kept apart so the service can answer them differently:
// - workflow rules (StatusCode::kRejected; HTTP 422): wrong_state,
//   unknown_command, missing_field, invalid_field, unknown_field,
//   case_not_found, case_already_open, case_voided, extension_too_late,
//   extension_too_long, extension_limit_reached, no_open_deadline,
//   occurred_out_of_order (occurred_at before the case's previous event),
//   unknown_event_version, plus per-command codes a definition declares
//   (e.g. risk_item's closure_without_passed_verification).
// - authorization (StatusCode::kPermissionDenied; HTTP 403):
//   role_not_allowed (the actor's role may not send this command) and
//   outside_jurisdiction (the case's unit is not in the actor's subtree, or
//   an enterprise acting on another enterprise's case).
#ifndef XIAOHAO_ENGINE_REJECTION_H_
#define XIAOHAO_ENGINE_REJECTION_H_

#include <string>

#include "store/status.h"

namespace xiaohao {

// kRejected "<code>: <zh> | <en>" with field = JSON pointer (may be empty).
Status Rejection(const std::string& code, const std::string& zh, const std::string& en,
                 const std::string& field = {});
// kPermissionDenied, same message layout.
Status Denial(const std::string& code, const std::string& zh, const std::string& en,
              const std::string& field = {});

// The stable code of a rejection or denial: the message up to the first ':'.
// Empty for other statuses or messages without a code. Survives WithContext
// only when no context was added, so read it from the engine's own Status.
std::string RejectionCode(const Status& s);

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_REJECTION_H_
