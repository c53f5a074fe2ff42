// Builders for the store's tests: one event and one append request with the
// fields every test would otherwise spell out.
#ifndef XIAOHAO_TESTS_STORE_STORE_TEST_UTIL_H_
#define XIAOHAO_TESTS_STORE_STORE_TEST_UTIL_H_

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
