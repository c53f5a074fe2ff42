// A small, allocation-free reader for the store's canonical JSON payloads.
//
// Why: a projection rebuild folds millions of events, and building a full
// nlohmann DOM per event costs ~4 us (PERFORMANCE.md), which alone caps a
// replay near 200k events/s. Projections need only a few top-level members
// (a payload's "command", its "data" object, a deadline's name), so they read
// those straight from the text.
//
// Contract: the input is the JSON text of an object, as the store keeps it
// (canonical: no insignificant white space, but white space is tolerated).
// Functions never throw; malformed text yields "not found" / false.
// Returned views point into the input.
#ifndef XIAOHAO_ENGINE_JSON_SCAN_H_
#define XIAOHAO_ENGINE_JSON_SCAN_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace xiaohao::jsonscan {

// The raw text of the member `key` of the object `obj` (top level only):
// a string keeps its quotes, an object its braces. nullopt when absent.
std::optional<std::string_view> Member(std::string_view obj, std::string_view key);

// Calls visit(key, raw value) for each top-level member; stops when it
// returns false. Keys are given undecoded (payload keys are plain ASCII).
// Returns false when the text is not an object.
bool ForEachMember(std::string_view obj,
                   const std::function<bool(std::string_view key, std::string_view raw)>& visit);

// Decodes a raw JSON string (with its quotes) into UTF-8. False when `raw`
// is not a string.
bool DecodeString(std::string_view raw, std::string* out);

// A raw value as text: strings decoded, numbers and literals as written.
std::string ScalarText(std::string_view raw);

// A raw integer value. nullopt when it is not an integer.
std::optional<long long> Integer(std::string_view raw);

}  // namespace xiaohao::jsonscan

#endif  // XIAOHAO_ENGINE_JSON_SCAN_H_
