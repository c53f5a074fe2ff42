// Clock: the only source of "now" for the store and the engine.
//
// Nothing in store/ or engine/ reads the wall clock directly. Production code
// passes a SystemClock; tests pass a ManualClock that moves only when told, so
// a year of deadlines runs in milliseconds and every run is repeatable.
#ifndef XIAOHAO_STORE_CLOCK_H_
#define XIAOHAO_STORE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace xiaohao {

// Microseconds since 1970-01-01T00:00:00Z.
using UnixMicros = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe.
  virtual UnixMicros Now() const = 0;
};

// Wall clock (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  UnixMicros Now() const override;
  // A process-wide instance; never destroyed.
  static SystemClock* Default();
};

// A clock that only moves when told. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixMicros start = 0) : now_(start) {}
  UnixMicros Now() const override { return now_.load(std::memory_order_acquire); }
  void Set(UnixMicros t) { now_.store(t, std::memory_order_release); }
  void Advance(UnixMicros delta) { now_.fetch_add(delta, std::memory_order_acq_rel); }

 private:
  std::atomic<UnixMicros> now_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_CLOCK_H_
