#include "adapters/event_json.h"

#include "store/time_format.h"

namespace xiaohao {

nlohmann::json EventToJson(const RecordedEvent& e) {
  nlohmann::json j;
  j["position"] = e.position;
  j["stream_id"] = e.stream_id;
  j["version"] = e.version;
  j["type"] = e.type;
  j["occurred_at"] = e.occurred_at;
  j["recorded_at"] = FormatRfc3339Utc(e.recorded_at);
  j["recorded_at_us"] = e.recorded_at;
  j["actor"] = {{"user_id", e.actor.user_id}, {"role", e.actor.role}, {"office", e.actor.office}};
  j["command_id"] = e.command_id;
  j["payload"] = nlohmann::json::parse(e.payload_json, nullptr, /*allow_exceptions=*/false);
  j["payload_json"] = e.payload_json;
  j["prev_hash"] = HashToHex(e.prev_hash);
  j["hash"] = HashToHex(e.hash);
  return j;
}

}  // namespace xiaohao
