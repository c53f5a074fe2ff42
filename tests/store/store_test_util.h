// Builders for the store's tests: one event and one append request with the
// fields every test would otherwise spell out.
#ifndef XIAOHAO_TESTS_STORE_STORE_TEST_UTIL_H_
#define XIAOHAO_TESTS_STORE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/event_store.h"

namespace xiaohao::testing {

inline NewEvent Ev(const std::string& stream, const std::string& type = "risk_item.noted",
                   const std::string& payload = R"({"note":"整改到位"})") {
  NewEvent e;
  e.stream_id = stream;
  e.type = type;
  e.occurred_at = "2025-03-31T20:00:00+08:00";
  e.actor = {"u-li", "inspector", "nanbin"};
  e.payload_json = payload;
  return e;
}

// Text that a block compressor cannot shrink (CJK code points from a fixed
// pseudo-random sequence), so that a log of it spans many reads of the disk.
inline std::string IncompressibleText(size_t chars, uint32_t seed) {
  std::string out;
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < chars; ++i) {
    x = x * 1664525u + 1013904223u;
    const uint32_t cp = 0x4E00 + (x >> 8) % (0x9FA5 - 0x4E00);
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

inline AppendRequest Req(const std::string& command, std::vector<NewEvent> events,
                         std::vector<StreamExpectation> expectations = {}) {
  AppendRequest r;
  r.command_id = command;
  r.events = std::move(events);
  r.expectations = std::move(expectations);
  return r;
}

}  // namespace xiaohao::testing

#endif  // XIAOHAO_TESTS_STORE_STORE_TEST_UTIL_H_
