// The JSON shape of a recorded event, shared by `xiaohao read`, `export-log`
// and the HTTP API. `payload_json` is the exact text the hash covers
// (doc/event_format.md); `payload` is the same, parsed, for people.
#ifndef XIAOHAO_ADAPTERS_EVENT_JSON_H_
#define XIAOHAO_ADAPTERS_EVENT_JSON_H_

#include <nlohmann/json.hpp>

#include "store/event.h"

namespace xiaohao {

nlohmann::json EventToJson(const RecordedEvent& e);

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_EVENT_JSON_H_
