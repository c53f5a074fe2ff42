#include "store/envelope.h"

// The one-call SHA256() of OpenSSL 3 fetches the digest and allocates a
// context on every call, several times the cost of hashing ~500 bytes; the
// low-level functions (deprecated in 3.0, still supported) do not.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

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
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, bytes.data(), bytes.size());
  SHA256_Final(h.data(), &ctx);
  return h;
}

namespace {
constexpr size_t kHeaderBytes = 1 + 3 * 8;  // format, position, version, recorded_at
constexpr size_t kTrailerBytes = 2 * 32;    // prev_hash, hash

void SetU64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
}  // namespace

void LayOutRecord(const NewEvent& e, std::string_view command_id, std::string* record) {
  record->clear();
  record->reserve(kHeaderBytes + 8 * 4 + e.stream_id.size() + e.type.size() +
                  e.occurred_at.size() + e.actor.user_id.size() + e.actor.role.size() +
                  e.actor.office.size() + command_id.size() + e.payload_json.size() +
                  kTrailerBytes);
  record->push_back(static_cast<char>(kFormat));
  record->append(kHeaderBytes - 1, '\0');
  PutStr(record, e.stream_id);
  PutStr(record, e.type);
  PutStr(record, e.occurred_at);
  PutStr(record, e.actor.user_id);
  PutStr(record, e.actor.role);
  PutStr(record, e.actor.office);
  PutStr(record, command_id);
  PutStr(record, e.payload_json);
  record->append(kTrailerBytes, '\0');
}

Hash SealRecord(std::string* record, uint64_t position, uint64_t version, UnixMicros recorded_at,
                const Hash& prev_hash) {
  char* p = record->data();
  const size_t n = record->size();
  SetU64(p + 1, position);
  SetU64(p + 9, version);
  SetU64(p + 17, static_cast<uint64_t>(recorded_at));
  std::memcpy(p + n - kTrailerBytes, prev_hash.data(), prev_hash.size());
  Hash h = Sha256(std::string_view(p, n - 32));
  std::memcpy(p + n - 32, h.data(), h.size());
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

namespace {

// One pass over the text, writing the canonical form as it goes. Objects
// are written in input order and reordered afterwards only when their keys
// were not already sorted (callers that build payloads with nlohmann send
// them sorted).
class Canonicalizer {
 public:
  Canonicalizer(std::string_view in, std::string* out)
      : p_(in.data()), end_(in.data() + in.size()), out_(out) {
    members_.reserve(16);
  }

  bool Run() {
    SkipSpace();
    if (p_ == end_ || *p_ != '{' || !Object(1)) return false;
    SkipSpace();
    return p_ == end_;
  }

 private:
  static constexpr int kMaxDepth = 32;  // well inside the general path's limit
  // A member as written: `"key":value` at [begin, end) of *out_.
  struct Member {
    std::string_view key;
    size_t begin, end;
  };

  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool Value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': return depth < kMaxDepth && Object(depth + 1);
      case '[': return depth < kMaxDepth && Array(depth + 1);
      case '"': return String(false, nullptr);
      case 't': return Literal("true", 4);
      case 'f': return Literal("false", 5);
      case 'n': return Literal("null", 4);
      default: return Number();
    }
  }

  bool Literal(const char* word, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    out_->append(word, n);
    p_ += n;
    return true;
  }

  // The escapes dump() writes itself (\" \\ \b \f \n \r \t) are copied;
  // \u and \/ would be rewritten, so they take the general path, as does
  // any escape in a key (keys sort by their unescaped bytes).
  bool String(bool is_key, std::string_view* key) {
    const char* start = p_++;
    for (;;) {
      if (p_ == end_) return false;
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (is_key || end_ - p_ < 2) return false;
        char e = p_[1];
        if (e != '"' && e != '\\' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
          return false;
        p_ += 2;
        continue;
      }
      ++p_;
    }
    ++p_;
    if (key != nullptr) *key = std::string_view(start + 1, static_cast<size_t>(p_ - start - 2));
    out_->append(start, static_cast<size_t>(p_ - start));
    return true;
  }

  // Short integers are already canonical. Any other number is written as
  // nlohmann writes it, by parsing and dumping that one token: a number's
  // text does not depend on where it stands.
  bool Number() {
    const char* start = p_;
    bool plain = true;
    if (p_ != end_ && *p_ == '-') ++p_;
    const char* digits = p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return false;
    }
    size_t int_digits = static_cast<size_t>(p_ - digits);
    if (p_ != end_ && *p_ == '.') {
      plain = false;
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      plain = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    bool negative_zero = digits != start && int_digits == 1 && *digits == '0';
    if (plain && int_digits <= 18 && !negative_zero) {
      out_->append(start, static_cast<size_t>(p_ - start));
      return true;
    }
    if (!plain) {
      // nlohmann reads a fraction or an exponent as a double (strtod, which
      // rounds correctly, as from_chars does) and writes it with to_chars;
      // out of range values go the long way below.
      double d;
      auto r = std::from_chars(start, p_, d);
      if (r.ec == std::errc() && r.ptr == p_ && std::isfinite(d)) {
        char buf[64];
        char* e = nlohmann::detail::to_chars(buf, buf + sizeof buf, d);
        out_->append(buf, static_cast<size_t>(e - buf));
        return true;
      }
    }
    nlohmann::json j = nlohmann::json::parse(start, p_, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_number()) return false;
    out_->append(j.dump());
    return true;
  }

  bool Array(int depth) {
    ++p_;
    out_->push_back('[');
    SkipSpace();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      out_->push_back(']');
      return true;
    }
    for (;;) {
      SkipSpace();
      if (!Value(depth)) return false;
      SkipSpace();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        out_->push_back(',');
        ++p_;
        continue;
      }
      if (*p_ != ']') return false;
      ++p_;
      out_->push_back(']');
      return true;
    }
  }

  bool Object(int depth) {
    ++p_;
    const size_t body = out_->size() + 1;  // first byte after '{'
    out_->push_back('{');
    const size_t first = members_.size();  // this object's members: [first, end)
    SkipSpace();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      out_->push_back('}');
      return true;
    }
    for (;;) {
      SkipSpace();
      if (p_ == end_ || *p_ != '"') return false;
      Member m;
      m.begin = out_->size();
      if (!String(true, &m.key)) return false;
      SkipSpace();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      out_->push_back(':');
      SkipSpace();
      if (!Value(depth)) return false;
      m.end = out_->size();
      members_.push_back(m);
      SkipSpace();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        out_->push_back(',');
        ++p_;
        continue;
      }
      if (*p_ != '}') return false;
      ++p_;
      break;
    }
    auto begin = members_.begin() + static_cast<std::ptrdiff_t>(first);
    bool sorted = true;
    for (auto it = begin + 1; it < members_.end(); ++it) {
      if (it[-1].key == it->key) return false;  // duplicate: the general path decides
      if (it->key < it[-1].key) sorted = false;
    }
    if (!sorted) {
      std::sort(begin, members_.end(),
                [](const Member& a, const Member& b) { return a.key < b.key; });
      for (auto it = begin + 1; it < members_.end(); ++it)
        if (it[-1].key == it->key) return false;
      scratch_.assign(*out_, body, std::string::npos);
      out_->resize(body);
      for (auto it = begin; it < members_.end(); ++it) {
        if (it != begin) out_->push_back(',');
        out_->append(scratch_, it->begin - body, it->end - it->begin);
      }
    }
    out_->push_back('}');
    members_.resize(first);
    return true;
  }

  const char* p_;
  const char* end_;
  std::string* out_;
  std::vector<Member> members_;  // of the objects being written, outermost first
  std::string scratch_;
};

}  // namespace

bool CanonicalJsonObject(std::string_view in, std::string* out) {
  return Canonicalizer(in, out).Run();
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
