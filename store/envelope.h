// The stored encoding of one event and the hash chain over the global log.
// Specified for auditors in doc/event_format.md; keep the two in step.
//
//   envelope := u8 format (=1)
//               u64 position | u64 stream version | i64 recorded_at (µs since epoch, UTC)
//               str stream_id | str type | str occurred_at
//               str actor.user_id | str actor.role | str actor.office
//               str command_id | str payload (canonical JSON text)
//               32 bytes prev_hash
//   str      := u32 length | bytes (UTF-8)
//   integers are big-endian; i64 is two's complement.
//   hash     := SHA-256(envelope)
//   value stored under the event's key := envelope | hash
//
// Internal to store/.
#ifndef XIAOHAO_STORE_ENVELOPE_H_
#define XIAOHAO_STORE_ENVELOPE_H_

#include <string>
#include <string_view>

#include "store/event.h"
#include "store/event_view.h"
#include "store/status.h"

namespace xiaohao::envelope {

constexpr uint8_t kFormat = 1;

// Appends the envelope of `e` (all fields but e.hash) to *out.
void Encode(const RecordedEvent& e, std::string* out);
// SHA-256 of the bytes.
Hash Sha256(std::string_view bytes);

// Encode split in two for the write path, so that the committer, which
// runs one group at a time, does only what depends on the order of the log.
// LayOutRecord, on the appender's thread, writes the stored value of `e`
// (appended as `command_id`) with zeros where the position, stream version,
// recorded_at, prev_hash and hash go. SealRecord then fills those in and
// returns the hash; the result is byte for byte Encode(e) | hash.
void LayOutRecord(const NewEvent& e, std::string_view command_id, std::string* record);
Hash SealRecord(std::string* record, uint64_t position, uint64_t version, UnixMicros recorded_at,
                const Hash& prev_hash);
// Decodes a stored value (envelope | hash). Checks the structure, not the hash.
Status Decode(std::string_view stored, RecordedEvent* e);
// Decodes a stored value in place: *v's views point into `stored`. Checks
// the structure as Decode does; a good value decodes to the same fields.
Status DecodeView(std::string_view stored, EventView* v);
// The envelope part of a stored value (everything but the trailing hash).
inline std::string_view EnvelopeOf(std::string_view stored) {
  return stored.size() >= 32 ? stored.substr(0, stored.size() - 32) : std::string_view();
}

// The canonical JSON text of a payload object without building a document:
// keys sorted by their bytes, no insignificant white space, and otherwise
// byte for byte what nlohmann::json::parse(in).dump() gives, which stays the
// definition (doc/event_format.md). Appended to *out. Returns false, with
// *out unspecified, for anything it does not handle itself: text that is
// not a JSON object, invalid JSON, nesting deeper than 32 levels, escapes
// in keys, \u or \/ escapes in strings, duplicate keys, a leading BOM.
// The caller then takes the general path, which also names the error.
// REQUIRES: `in` is valid UTF-8.
bool CanonicalJsonObject(std::string_view in, std::string* out);

// Big-endian u64 keys, so that RocksDB's bytewise order is numeric order.
std::string PositionKey(uint64_t position);
uint64_t DecodePositionKey(std::string_view key);  // REQUIRES: key.size() == 8

}  // namespace xiaohao::envelope

#endif  // XIAOHAO_STORE_ENVELOPE_H_
