#include "engine/json_scan.h"

#include <cstdlib>

namespace xiaohao::jsonscan {
namespace {

size_t SkipWs(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  return i;
}

// Index just past the string starting at s[i] == '"', or npos.
size_t SkipString(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Index just past the value starting at s[i], or npos.
size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return std::string_view::npos;
  char c = s[i];
  if (c == '"') return SkipString(s, i);
  if (c == '{' || c == '[') {
    int depth = 0;
    while (i < s.size()) {
      char d = s[i];
      if (d == '"') {
        i = SkipString(s, i);
        if (i == std::string_view::npos) return i;
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return std::string_view::npos;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ') ++i;
  return i;
}

void AppendUtf8(unsigned cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool Hex4(std::string_view s, size_t i, unsigned* v) {
  if (i + 4 > s.size()) return false;
  *v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    *v <<= 4;
    if (c >= '0' && c <= '9') *v |= c - '0';
    else if (c >= 'a' && c <= 'f') *v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') *v |= c - 'A' + 10;
    else return false;
  }
  return true;
}

// ForEachMember's walk, inlined into Member: a projection rebuild looks up
// a few members of every event, and need not pay a std::function call for
// each member it passes.
template <class Visit>
bool Walk(std::string_view obj, Visit&& visit) {
  size_t i = SkipWs(obj, 0);
  if (i >= obj.size() || obj[i] != '{') return false;
  i = SkipWs(obj, i + 1);
  if (i < obj.size() && obj[i] == '}') return true;
  while (i < obj.size()) {
    if (obj[i] != '"') return false;
    size_t kend = SkipString(obj, i);
    if (kend == std::string_view::npos) return false;
    std::string_view key = obj.substr(i + 1, kend - i - 2);
    i = SkipWs(obj, kend);
    if (i >= obj.size() || obj[i] != ':') return false;
    i = SkipWs(obj, i + 1);
    size_t vend = SkipValue(obj, i);
    if (vend == std::string_view::npos) return false;
    if (!visit(key, obj.substr(i, vend - i))) return true;
    i = SkipWs(obj, vend);
    if (i < obj.size() && obj[i] == ',') {
      i = SkipWs(obj, i + 1);
      continue;
    }
    return i < obj.size() && obj[i] == '}';
  }
  return false;
}

}  // namespace

bool ForEachMember(std::string_view obj,
                   const std::function<bool(std::string_view, std::string_view)>& visit) {
  return Walk(obj, visit);
}

std::optional<std::string_view> Member(std::string_view obj, std::string_view key) {
  std::optional<std::string_view> found;
  Walk(obj, [&](std::string_view k, std::string_view v) {
    if (k == key) {
      found = v;
      return false;
    }
    return true;
  });
  return found;
}

bool DecodeString(std::string_view raw, std::string* out) {
  out->clear();
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return false;
  for (size_t i = 1; i + 1 < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i + 1 > raw.size() - 1) return false;
    switch (raw[i]) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '/': out->push_back('/'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        unsigned cp = 0;
        if (!Hex4(raw, i + 1, &cp)) return false;
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < raw.size() && raw[i + 1] == '\\' && raw[i + 2] == 'u') {
          unsigned lo = 0;
          if (Hex4(raw, i + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(cp, out);
        break;
      }
      default: return false;
    }
  }
  return true;
}

std::string ScalarText(std::string_view raw) {
  std::string s;
  if (!raw.empty() && raw.front() == '"') {
    DecodeString(raw, &s);
    return s;
  }
  return std::string(raw);
}

std::optional<long long> Integer(std::string_view raw) {
  if (raw.empty() || raw.size() > 19) return std::nullopt;
  long long v = 0;
  size_t i = 0;
  bool neg = raw[0] == '-';
  if (neg) i = 1;
  if (i >= raw.size()) return std::nullopt;
  for (; i < raw.size(); ++i) {
    if (raw[i] < '0' || raw[i] > '9') return std::nullopt;
    v = v * 10 + (raw[i] - '0');
  }
  return neg ? -v : v;
}

}  // namespace xiaohao::jsonscan
