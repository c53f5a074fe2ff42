// RFC 3339 timestamps: parsing with any offset, formatting in UTC or CST.
//
// Business time (`occurred_at`) keeps the offset the caller gave, because a
// regulator's record says "2025-03-31T20:00:00+08:00", and deadlines are
// judged by the date in China Standard Time (UTC+8, no daylight saving).
#ifndef XIAOHAO_STORE_TIME_FORMAT_H_
#define XIAOHAO_STORE_TIME_FORMAT_H_

#include <string>
#include <string_view>

#include "store/clock.h"
#include "store/status.h"

namespace xiaohao {

struct Rfc3339 {
  UnixMicros instant = 0;      // the instant, UTC
  int offset_minutes = 0;      // the offset as written (+08:00 -> 480, Z -> 0)
};

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t'/'z' and a
// space for 'T' allowed). Rejects anything else, and impossible dates
// (2025-02-30), with a message naming the text.
Result<Rfc3339> ParseRfc3339(std::string_view text);

// "2025-03-31T12:00:00.123456Z" (microseconds only when non-zero).
std::string FormatRfc3339Utc(UnixMicros t);
// The same instant written in CST: "2025-03-31T20:00:00+08:00".
std::string FormatRfc3339Cst(UnixMicros t);

// Civil dates: days since 1970-01-01 <-> (y, m, d). Proleptic Gregorian.
int64_t DaysFromCivil(int y, unsigned m, unsigned d);
void CivilFromDays(int64_t z, int* y, unsigned* m, unsigned* d);
bool IsValidCivilDate(int y, unsigned m, unsigned d);

constexpr int kCstOffsetMinutes = 8 * 60;
constexpr UnixMicros kMicrosPerDay = 86400LL * 1000000LL;

// The CST calendar day (days since epoch) that contains instant t.
inline int64_t CstDayOf(UnixMicros t) {
  UnixMicros shifted = t + static_cast<UnixMicros>(kCstOffsetMinutes) * 60 * 1000000;
  return shifted >= 0 ? shifted / kMicrosPerDay : -((-shifted + kMicrosPerDay - 1) / kMicrosPerDay);
}
// 00:00 CST of the given CST day, as an instant.
inline UnixMicros CstMidnight(int64_t cst_day) {
  return cst_day * kMicrosPerDay - static_cast<UnixMicros>(kCstOffsetMinutes) * 60 * 1000000;
}

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_TIME_FORMAT_H_
