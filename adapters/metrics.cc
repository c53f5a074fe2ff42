#include "adapters/metrics.h"

#include <cstdio>
#include <sstream>

namespace xiaohao {

void ServiceMetrics::CountRequest(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, status}];
}

void ServiceMetrics::CountCommand(const std::string& outcome, uint64_t events_appended, double seconds) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++commands_[outcome];
  }
  events_appended_.fetch_add(events_appended, std::memory_order_relaxed);
  size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
  latency_buckets_[i].fetch_add(1, std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string ServiceMetrics::Render(const std::string& extra) const {
  std::ostringstream o;
  {
    std::lock_guard<std::mutex> lock(mu_);
    o << "# HELP xiaohao_http_requests_total HTTP requests answered, by route and status.\n"
         "# TYPE xiaohao_http_requests_total counter\n";
    for (const auto& [k, n] : requests_)
      o << "xiaohao_http_requests_total{route=\"" << k.first << "\",code=\"" << k.second << "\"} " << n << "\n";
    o << "# HELP xiaohao_commands_total Commands handled, by outcome.\n"
         "# TYPE xiaohao_commands_total counter\n";
    for (const auto& [k, n] : commands_) o << "xiaohao_commands_total{outcome=\"" << k << "\"} " << n << "\n";
  }
  o << "# HELP xiaohao_events_appended_total Events appended by commands through this service.\n"
       "# TYPE xiaohao_events_appended_total counter\n"
       "xiaohao_events_appended_total "
    << events_appended_.load() << "\n";
  o << "# HELP xiaohao_command_latency_seconds Time from a command's arrival to its durable answer.\n"
       "# TYPE xiaohao_command_latency_seconds histogram\n";
  uint64_t cumulative = 0;
  char le[32];
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += latency_buckets_[i].load();
    std::snprintf(le, sizeof le, "%g", kLatencyBuckets[i]);
    o << "xiaohao_command_latency_seconds_bucket{le=\"" << le << "\"} " << cumulative << "\n";
  }
  cumulative += latency_buckets_[kLatencyBuckets.size()].load();
  o << "xiaohao_command_latency_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n";
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(latency_sum_micros_.load()) / 1e6);
  o << "xiaohao_command_latency_seconds_sum " << sum << "\n";
  o << "xiaohao_command_latency_seconds_count " << latency_count_.load() << "\n";
  o << extra;
  return o.str();
}

}  // namespace xiaohao
