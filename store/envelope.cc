#include "store/envelope.h"

#include <openssl/sha.h>

#include <cstring>

#include "store/event_store.h"  // EventHash

namespace xiaohao {

std::string HashToHex(const Hash& h) {
  static const char* kHex = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < h.size(); ++i) {
    s[2 * i] = kHex[h[i] >> 4];
    s[2 * i + 1] = kHex[h[i] & 15];
  }
  return s;
}

bool HashFromHex(const std::string& hex, Hash* out) {
  if (hex.size() != 64) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

namespace envelope {
namespace {

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(b, 8);
}

void PutStr(std::string* out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  char b[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
               static_cast<char>(n)};
  out->append(b, 4);
  out->append(s.data(), s.size());
}

struct Reader {
  std::string_view in;
  size_t pos = 0;
  bool U64(uint64_t* v) {
    if (in.size() - pos < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r = r << 8 | static_cast<uint8_t>(in[pos + i]);
    pos += 8;
    *v = r;
    return true;
  }
  bool Str(std::string* s) {
    if (in.size() - pos < 4) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = n << 8 | static_cast<uint8_t>(in[pos + i]);
    pos += 4;
    if (in.size() - pos < n) return false;
    s->assign(in.data() + pos, n);
    pos += n;
    return true;
  }
  bool Bytes(uint8_t* dst, size_t n) {
    if (in.size() - pos < n) return false;
    std::memcpy(dst, in.data() + pos, n);
    pos += n;
    return true;
  }
};

}  // namespace

void Encode(const RecordedEvent& e, std::string* out) {
  out->push_back(static_cast<char>(kFormat));
  PutU64(out, e.position);
  PutU64(out, e.version);
  PutU64(out, static_cast<uint64_t>(e.recorded_at));
  PutStr(out, e.stream_id);
  PutStr(out, e.type);
  PutStr(out, e.occurred_at);
  PutStr(out, e.actor.user_id);
  PutStr(out, e.actor.role);
  PutStr(out, e.actor.office);
  PutStr(out, e.command_id);
  PutStr(out, e.payload_json);
  out->append(reinterpret_cast<const char*>(e.prev_hash.data()), e.prev_hash.size());
}

Hash Sha256(std::string_view bytes) {
  Hash h;
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), h.data());
  return h;
}

Status Decode(std::string_view stored, RecordedEvent* e) {
  if (stored.size() < 1 + 24 + 32 + 32) return Status::Corruption("event record too short");
  if (static_cast<uint8_t>(stored[0]) != kFormat)
    return Status::Corruption("unknown event envelope format " +
                              std::to_string(static_cast<uint8_t>(stored[0])));
  Reader r{stored.substr(0, stored.size() - 32), 1};
  uint64_t recorded = 0;
  if (!r.U64(&e->position) || !r.U64(&e->version) || !r.U64(&recorded) || !r.Str(&e->stream_id) ||
      !r.Str(&e->type) || !r.Str(&e->occurred_at) || !r.Str(&e->actor.user_id) ||
      !r.Str(&e->actor.role) || !r.Str(&e->actor.office) || !r.Str(&e->command_id) ||
      !r.Str(&e->payload_json) || !r.Bytes(e->prev_hash.data(), 32))
    return Status::Corruption("event record truncated or malformed");
  if (r.pos != r.in.size()) return Status::Corruption("trailing bytes in event record");
  e->recorded_at = static_cast<UnixMicros>(recorded);
  std::memcpy(e->hash.data(), stored.data() + stored.size() - 32, 32);
  return Status::OK();
}

namespace {

// Reads big-endian integers and length-prefixed strings as views, without
// copying (DecodeView runs once per event of a full scan).
struct ViewReader {
  const char* p;
  const char* end;
  bool U64(uint64_t* v) {
    if (end - p < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r = r << 8 | static_cast<uint8_t>(p[i]);
    p += 8;
    *v = r;
    return true;
  }
  bool Str(std::string_view* s) {
    if (end - p < 4) return false;
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24 |
                 static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16 |
                 static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8 | static_cast<uint8_t>(p[3]);
    p += 4;
    if (static_cast<size_t>(end - p) < n) return false;
    *s = std::string_view(p, n);
    p += n;
    return true;
  }
};

}  // namespace

Status DecodeView(std::string_view stored, EventView* v) {
  if (stored.size() < 1 + 24 + 32 + 32) return Status::Corruption("event record too short");
  if (static_cast<uint8_t>(stored[0]) != kFormat)
    return Status::Corruption("unknown event envelope format " +
                              std::to_string(static_cast<uint8_t>(stored[0])));
  ViewReader r{stored.data() + 1, stored.data() + stored.size() - 32};
  uint64_t recorded = 0;
  if (!r.U64(&v->position) || !r.U64(&v->version) || !r.U64(&recorded) || !r.Str(&v->stream_id) ||
      !r.Str(&v->type) || !r.Str(&v->occurred_at) || !r.Str(&v->actor_user_id) || !r.Str(&v->actor_role) ||
      !r.Str(&v->actor_office) || !r.Str(&v->command_id) || !r.Str(&v->payload_json) || r.end - r.p < 32)
    return Status::Corruption("event record truncated or malformed");
  v->prev_hash_bytes = reinterpret_cast<const uint8_t*>(r.p);
  r.p += 32;
  if (r.p != r.end) return Status::Corruption("trailing bytes in event record");
  v->recorded_at = static_cast<UnixMicros>(recorded);
  v->hash_bytes = reinterpret_cast<const uint8_t*>(r.end);
  return Status::OK();
}

std::string PositionKey(uint64_t position) {
  std::string k;
  k.reserve(8);
  PutU64(&k, position);
  return k;
}

uint64_t DecodePositionKey(std::string_view key) {
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = r << 8 | static_cast<uint8_t>(key[i]);
  return r;
}

}  // namespace envelope

Hash EventHash(const RecordedEvent& e) {
  std::string env;
  envelope::Encode(e, &env);
  return envelope::Sha256(env);
}

}  // namespace xiaohao
