// libFuzzer target: an event payload (and ids) through the store's input
// checks, on an in-memory file system. Bad input is refused; accepted input
// reads back as the canonical JSON it was stored as.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "store/event_store.h"
#include "store/fault_injection.h"

using namespace xiaohao;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<FaultInjectionEnv> fs = FaultInjectionEnv::Create(true);
  static std::unique_ptr<EventStore> store = [] {
    StoreOptions o;
    o.path = "/fuzz/db";
    o.env = fs->env();
    return std::move(EventStore::Open(o)).value();
  }();
  static uint64_t n = 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  AppendRequest r;
  r.command_id = "fuzz-" + std::to_string(++n);
  std::string stream = text.substr(0, std::min<size_t>(text.size(), 12));
  r.events.push_back({stream, "fuzz.event", "2025-01-01T00:00:00Z", {"fuzz", "inspector", "nanbin"}, text});
  auto res = store->Append(r);
  if (res.ok()) {
    auto back = store->ReadStream(stream, res->streams[0].version, 1);
    if (!back.ok() || back->empty()) std::abort();
  }
  return 0;
}
