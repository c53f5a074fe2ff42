#include "store/time_format.h"

#include <cstdio>

namespace xiaohao {

// Howard Hinnant's civil-date algorithms (public domain), proleptic Gregorian.
int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

static bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool IsValidCivilDate(int y, unsigned m, unsigned d) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  unsigned limit = kDays[m - 1] + (m == 2 && IsLeap(y) ? 1 : 0);
  return d <= limit;
}

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

Status Bad(std::string_view text, const char* why) {
  return Status::InvalidArgument("'" + std::string(text.substr(0, 64)) +
                                 "' is not an RFC 3339 timestamp (" + why +
                                 "); write it like 2025-03-31T20:00:00+08:00");
}

}  // namespace

Result<Rfc3339> ParseRfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d))
    return Bad(s, "date must be YYYY-MM-DD");
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return Bad(s, "missing 'T' between date and time");
  if (!Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec))
    return Bad(s, "time must be HH:MM:SS");
  if (!IsValidCivilDate(y, mo, d)) return Bad(s, "no such date");
  if (h > 23 || mi > 59 || sec > 60) return Bad(s, "time out of range");
  if (sec == 60) sec = 59;  // a leap second is held as the last second of its minute
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) micros += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return Bad(s, "empty fraction of a second");
    if (pos - start > 9) return Bad(s, "more than 9 fraction digits");
  }
  if (pos >= s.size()) return Bad(s, "missing offset: add Z or +08:00");
  int offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om))
      return Bad(s, "offset must be +HH:MM");
    if (oh > 23 || om > 59) return Bad(s, "offset out of range");
    offset = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return Bad(s, "offset must be Z or +HH:MM");
  }
  if (pos != s.size()) return Bad(s, "unexpected text after the offset");
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - static_cast<int64_t>(offset) * 60;
  Rfc3339 out;
  out.instant = secs * 1000000 + micros;
  out.offset_minutes = offset;
  return out;
}

static std::string Format(UnixMicros t, int offset_minutes) {
  UnixMicros local = t + static_cast<UnixMicros>(offset_minutes) * 60 * 1000000;
  int64_t days = local >= 0 ? local / kMicrosPerDay : -((-local + kMicrosPerDay - 1) / kMicrosPerDay);
  int64_t rem = local - days * kMicrosPerDay;
  int y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  int64_t secs = rem / 1000000;
  int64_t us = rem % 1000000;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", y, m, d,
                        static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                        static_cast<int>(secs % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (us != 0) {
    std::snprintf(buf, sizeof buf, ".%06d", static_cast<int>(us));
    out += buf;
  }
  if (offset_minutes == 0) {
    out += 'Z';
  } else {
    int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
    out += buf;
  }
  return out;
}

std::string FormatRfc3339Utc(UnixMicros t) { return Format(t, 0); }
std::string FormatRfc3339Cst(UnixMicros t) { return Format(t, kCstOffsetMinutes); }

}  // namespace xiaohao
