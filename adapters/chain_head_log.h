// ChainHeadLog: the hash chain's head (position and hash), written down where
// an auditor can copy it somewhere the operators of the data directory cannot
// reach. A head kept elsewhere is what catches truncation of the log's end,
// which the chain alone cannot (SECURITY.md; `xiaohao verify --expect-head`).
//
// Each record is one line appended (and fsynced) to a JSONL file, by default
// <data dir>/chain-heads.jsonl:
//   {"at": "2026-11-23T16:40:00Z", "position": 1200, "hash": "3f5a...", "reason": "start"}
// and one log line "chain head 1200:3f5a... (start)". Records are made when
// the log starts (reason "start"), every `interval` after that ("daily"), and
// whenever RequestRecord is called ("on request"; `xiaohao serve` calls it on
// SIGUSR1).
//
// The head is read from a read-only instance of the store opened beside the
// service (store/event_store.h), so the service itself needs no hook: that
// view holds every acknowledged append, and at most an append whose sync was
// in flight.
//
// Thread safety: RequestRecord may be called from any thread; the records
// are made on the log's own thread, one at a time.
#ifndef XIAOHAO_ADAPTERS_CHAIN_HEAD_LOG_H_
#define XIAOHAO_ADAPTERS_CHAIN_HEAD_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "store/clock.h"
#include "store/event.h"
#include "store/status.h"

namespace xiaohao {

struct ChainHeadLogOptions {
  std::string data_dir;
  std::string path;  // default <data_dir>/chain-heads.jsonl
  std::chrono::seconds interval{24 * 3600};
  std::function<void(const std::string&)> log;  // one line per record or failure
  Clock* clock = nullptr;  // for "at"; defaults to SystemClock::Default()
};

struct ChainHeadRecord {
  UnixMicros at = 0;
  uint64_t position = 0;
  Hash hash{};
  std::string reason;
};

class ChainHeadLog {
 public:
  // Makes the "start" record before returning (an error if it cannot be
  // made: a data directory whose head cannot be exported should not serve
  // silently), then starts the thread.
  static Result<std::unique_ptr<ChainHeadLog>> Start(const ChainHeadLogOptions& options);
  ~ChainHeadLog();  // stops the thread (a record in progress finishes)

  // Asks the thread for a record now (reason "on request").
  void RequestRecord();
  // Records made so far, failed attempts excluded (for tests).
  uint64_t records() const;

  // One record, made on the calling thread.
  static Result<ChainHeadRecord> RecordOnce(const ChainHeadLogOptions& options, const std::string& reason);

 private:
  struct Impl;
  explicit ChainHeadLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_CHAIN_HEAD_LOG_H_
