// DeadlineTimer: runs a DeadlineScheduler on Asio, waking at the next due
// instant.
//
// The timer thread sleeps on an asio::steady_timer until the earliest next
// firing in the DeadlineIndex (at most `max_sleep`, so a changed wall clock
// or a missed poke costs at most that), then calls RunDue(clock.Now()). A new
// or moved deadline pokes it (DeadlineIndex::SetOnScheduled), so a deadline
// set to fire sooner is not slept past. At Start it first catches up every
// deadline that passed while the process was down, oldest first.
//
// Errors from RunDue (e.g. the store went read-only) are logged and retried
// after `retry_delay`; nothing is lost because the index only moves with the
// events it fires.
//
// Thread safety: Poke may be called from any thread; Start/Stop from one.
#ifndef XIAOHAO_ENGINE_DEADLINE_TIMER_H_
#define XIAOHAO_ENGINE_DEADLINE_TIMER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "engine/deadline_index.h"
#include "engine/deadline_scheduler.h"
#include "store/clock.h"

namespace xiaohao {

struct DeadlineTimerOptions {
  int64_t max_sleep_micros = 30LL * 1000000;
  int64_t retry_delay_micros = 5LL * 1000000;
  // Called after each run that fired something, and on errors (for logs and metrics).
  std::function<void(const RunReport&)> on_run;
  std::function<void(const Status&)> on_error;
};

class DeadlineTimer {
 public:
  DeadlineTimer(EventStore* store, DeadlineScheduler* scheduler, DeadlineIndex* index, const Clock* clock,
                DeadlineTimerOptions options = {});
  ~DeadlineTimer();  // Stop()

  void Start();
  void Stop();  // waits for a run in progress to finish
  // A deadline will next fire at `at`, set by the event at `position`: wake
  // earlier if needed, once that event is durable.
  void Poke(UnixMicros at, uint64_t position);
  // Runs completed so far (for tests and metrics).
  uint64_t runs() const { return runs_.load(); }
  // The error of the latest run, OK once a run succeeds: a scheduler that
  // keeps failing fires no deadline, so /healthz reports it.
  Status last_error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> runs_{0};
};

}  // namespace xiaohao

#endif  // XIAOHAO_ENGINE_DEADLINE_TIMER_H_
