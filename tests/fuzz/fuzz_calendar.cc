// libFuzzer target: holiday calendar files, then period counting over what loaded.
#include <cstdint>
#include <string>

#include "engine/calendar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xiaohao::BusinessCalendar cal;
  if (!cal.AddYearJson(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json").ok()) return 0;
  for (int y : cal.Years()) {
    xiaohao::Date start = xiaohao::Date::FromYmd(y, 1, 1);
    for (const char* p : {"7wd", "50d", "2m"}) {
      auto period = xiaohao::Period::Parse(p);
      (void)cal.PeriodEnd(start, *period);
    }
  }
  return 0;
}
