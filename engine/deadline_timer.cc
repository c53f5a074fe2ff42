#include "engine/deadline_timer.h"

#include <asio.hpp>
#include <chrono>
#include <mutex>

namespace xiaohao {

struct DeadlineTimer::Impl {
  Impl(EventStore* st, DeadlineScheduler* s, DeadlineIndex* i, const Clock* c, DeadlineTimerOptions o,
       std::atomic<uint64_t>* r)
      : store(st), scheduler(s), index(i), clock(c), options(std::move(o)), runs(r) {}
  EventStore* store;
  DeadlineScheduler* scheduler;
  DeadlineIndex* index;
  const Clock* clock;
  DeadlineTimerOptions options;
  asio::io_context io;
  asio::steady_timer timer{io};
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::atomic<UnixMicros> armed_for{INT64_MAX};  // the instant the timer waits for
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t>* runs;
  mutable std::mutex error_mu;
  Status last_error;  // GUARDED_BY(error_mu)

  // Runs on the io thread only.
  void RunAndRearm() {
    if (stopping.load()) return;
    UnixMicros now = clock->Now();
    auto report = scheduler->RunDue(now);
    {
      std::lock_guard<std::mutex> l(error_mu);
      last_error = report.status();
    }
    runs->fetch_add(1);
    int64_t sleep = options.max_sleep_micros;
    if (!report.ok()) {
      if (options.on_error) options.on_error(report.status());
      sleep = options.retry_delay_micros;
    } else {
      if (options.on_run && report->total() > 0) options.on_run(*report);
      auto next = index->NextFire();
      if (next.ok() && next->has_value()) sleep = std::min(sleep, std::max<int64_t>(**next - clock->Now(), 0));
    }
    Arm(clock->Now() + sleep, sleep);
  }
  void Arm(UnixMicros at, int64_t sleep_micros) {
    armed_for.store(at);
    timer.expires_after(std::chrono::microseconds(sleep_micros));
    timer.async_wait([this](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;  // re-armed or stopped
      RunAndRearm();
    });
  }
};

DeadlineTimer::DeadlineTimer(EventStore* store, DeadlineScheduler* scheduler, DeadlineIndex* index,
                             const Clock* clock, DeadlineTimerOptions options)
    : impl_(new Impl(store, scheduler, index, clock, std::move(options), &runs_)) {}

Status DeadlineTimer::last_error() const {
  std::lock_guard<std::mutex> l(impl_->error_mu);
  return impl_->last_error;
}

DeadlineTimer::~DeadlineTimer() { Stop(); }

void DeadlineTimer::Start() {
  impl_->work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      impl_->io.get_executor());
  // Catch up first: everything that passed while the process was down.
  asio::post(impl_->io, [this] { impl_->RunAndRearm(); });
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void DeadlineTimer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping.store(true);
  asio::post(impl_->io, [this] {
    impl_->timer.cancel();
    impl_->work.reset();
  });
  impl_->thread.join();
}

void DeadlineTimer::Poke(UnixMicros at, uint64_t position) {
  // Cheap when the timer already wakes in time; otherwise re-arm on the io thread.
  if (at >= impl_->armed_for.load() || impl_->stopping.load()) return;
  asio::post(impl_->io, [this, at, position] {
    if (impl_->stopping.load() || at >= impl_->armed_for.load()) return;
    // The poke comes from the commit hook, before the event is durable and
    // visible: wait for it, or the run would not see the deadline yet.
    impl_->store->WaitForHead(position, 5000000);
    impl_->Arm(at, std::max<int64_t>(at - impl_->clock->Now(), 0));
  });
}

}  // namespace xiaohao
