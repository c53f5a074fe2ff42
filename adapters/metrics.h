// Service metrics in the Prometheus text exposition format (version 0.0.4).
//
// Counters and a latency histogram kept in atomics, rendered on demand by
// GET /metrics. Gauges that belong to other parts (the store's head, later
// the scheduler's open and overdue deadlines, subscription lag) are added at
// render time by the caller through `extra`.
//
// Thread safety: every method may be called from any thread.
#ifndef XIAOHAO_ADAPTERS_METRICS_H_
#define XIAOHAO_ADAPTERS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace xiaohao {

class ServiceMetrics {
 public:
  // Upper bounds of the command latency buckets, in seconds (+Inf implied).
  static constexpr std::array<double, 12> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                             0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  // One answered HTTP request, by route name ("POST /v1/cases") and status.
  void CountRequest(const std::string& route, int status);
  // One command through the engine: its outcome (ok, duplicate, rejected,
  // denied, conflict, error), how many events it appended, how long it took.
  void CountCommand(const std::string& outcome, uint64_t events_appended, double seconds);

  // The exposition text; `extra` is appended verbatim (complete lines).
  std::string Render(const std::string& extra) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // GUARDED_BY(mu_)
  std::map<std::string, uint64_t> commands_;                  // GUARDED_BY(mu_)
  std::atomic<uint64_t> events_appended_{0};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency_buckets_{};  // last = +Inf
  std::atomic<uint64_t> latency_count_{0};
  std::atomic<uint64_t> latency_sum_micros_{0};
};

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_METRICS_H_
