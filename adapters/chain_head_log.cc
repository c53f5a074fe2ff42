// The chain-head export (adapters/chain_head_log.h).
#include "adapters/chain_head_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "store/event_store.h"
#include "store/time_format.h"

namespace xiaohao {

namespace {

std::string PathOf(const ChainHeadLogOptions& o) {
  return o.path.empty() ? o.data_dir + "/chain-heads.jsonl" : o.path;
}

Status AppendLine(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("opening '" + path + "': " + std::strerror(errno));
  // One write of a whole line: O_APPEND keeps concurrent writers' lines whole.
  ssize_t n = ::write(fd, line.data(), line.size());
  int werr = errno;
  int rc = ::fsync(fd);
  int serr = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size()))
    return Status::IOError("writing '" + path + "': " + std::strerror(n < 0 ? werr : EIO));
  if (rc != 0) return Status::IOError("fsync '" + path + "': " + std::strerror(serr));
  return Status::OK();
}

}  // namespace

Result<ChainHeadRecord> ChainHeadLog::RecordOnce(const ChainHeadLogOptions& options, const std::string& reason) {
  Clock* clock = options.clock != nullptr ? options.clock : SystemClock::Default();
  ChainHeadRecord rec;
  rec.reason = reason;
  {
    StoreOptions so;
    so.path = options.data_dir;
    so.read_only = true;
    so.create_if_missing = false;
    auto store = EventStore::Open(so);
    if (!store.ok()) return store.status().WithContext("reading the chain head");
    rec.position = (*store)->DurableHead();
    rec.hash = (*store)->HeadHash();
  }
  rec.at = clock->Now();
  nlohmann::json j{{"at", FormatRfc3339Utc(rec.at)},
                   {"position", rec.position},
                   {"hash", HashToHex(rec.hash)},
                   {"reason", reason}};
  std::string path = PathOf(options);
  RETURN_IF_ERROR(AppendLine(path, j.dump() + "\n").WithContext("recording the chain head"));
  if (options.log)
    options.log("chain head " + std::to_string(rec.position) + ":" + HashToHex(rec.hash) + " (" + reason +
                ", recorded in " + path + ")");
  return rec;
}

struct ChainHeadLog::Impl {
  ChainHeadLogOptions options;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;   // GUARDED_BY(mu)
  bool requested = false;  // GUARDED_BY(mu)
  std::atomic<uint64_t> records{0};
  std::thread thread;

  void Run() {
    auto next = std::chrono::steady_clock::now() + options.interval;
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      cv.wait_until(lock, next, [this] { return stopping || requested; });
      if (stopping) return;
      std::string reason;
      if (requested) {
        reason = "on request";
        requested = false;
      } else if (std::chrono::steady_clock::now() >= next) {
        reason = "daily";
        next += options.interval;
      } else {
        continue;
      }
      lock.unlock();
      auto r = RecordOnce(options, reason);
      if (r.ok()) ++records;
      else if (options.log) options.log("chain head not recorded (" + reason + "): " + r.status().ToString());
      lock.lock();
    }
  }
};

Result<std::unique_ptr<ChainHeadLog>> ChainHeadLog::Start(const ChainHeadLogOptions& options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("the chain-head log needs a data directory");
  if (options.interval.count() <= 0) return Status::InvalidArgument("the chain-head interval must be positive");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  ASSIGN_OR_RETURN(ChainHeadRecord first, RecordOnce(options, "start"));
  (void)first;
  impl->records = 1;
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<ChainHeadLog>(new ChainHeadLog(std::move(impl)));
}

ChainHeadLog::ChainHeadLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ChainHeadLog::~ChainHeadLog() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void ChainHeadLog::RequestRecord() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->requested = true;
  }
  impl_->cv.notify_all();
}

uint64_t ChainHeadLog::records() const { return impl_->records.load(); }

}  // namespace xiaohao
