// EventStore: the append-only, hash-chained event log on RocksDB.
//
// Contract
// - Global positions are dense from 1; each stream's versions are dense from 1.
// - Append writes every event of one call atomically, to one or several
//   streams, each checked against its own expectation, and returns only once
//   the write is durable (the WAL is fsynced); AppendAsync does the same and
//   calls back instead of blocking. Concurrent appends share syncs:
//   one committer at a time (the thread of one of the waiting appenders)
//   drains every waiting append into one WriteBatch.
// - A repeated command id writes nothing and returns the original result.
// - Nothing is updated or deleted through this interface.
// - Readers see only durable events (positions <= DurableHead()).
// - After a failed write or sync the store refuses every later write with the
//   same error until it is reopened (a sticky error), and reads keep working.
// - CommitHooks (the deadline index, projections) add their own keys to the
//   same atomic write as the events they derive from.
//
// Thread safety: every method may be called from any thread.
// The encoding is documented in doc/event_format.md.
#ifndef XIAOHAO_STORE_EVENT_STORE_H_
#define XIAOHAO_STORE_EVENT_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/clock.h"
#include "store/event.h"
#include "store/event_view.h"
#include "store/status.h"

namespace rocksdb {
class Env;
}

namespace xiaohao {

// What an append expects of a stream's current version.
struct ExpectedVersion {
  enum class Kind { kAny, kNoStream, kExact };
  Kind kind = Kind::kAny;
  uint64_t version = 0;  // for kExact
  static ExpectedVersion Any() { return {Kind::kAny, 0}; }
  static ExpectedVersion NoStream() { return {Kind::kNoStream, 0}; }
  static ExpectedVersion Exact(uint64_t v) { return {Kind::kExact, v}; }
};

struct StreamExpectation {
  std::string stream_id;
  ExpectedVersion expected;
};

struct AppendRequest {
  // Names the command that caused these events; a retry with the same id
  // returns the first result and writes nothing. Required, 1..256 bytes.
  std::string command_id;
  std::vector<NewEvent> events;  // at least one
  // Streams without an expectation are appended to whatever their version.
  std::vector<StreamExpectation> expectations;
};

struct StreamVersion {
  std::string stream_id;
  uint64_t version = 0;  // the stream's version after the append
};

struct AppendResult {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  std::vector<StreamVersion> streams;  // in order of first appearance
  bool duplicate = false;  // true when the command id had been seen: nothing written
};

// Reads and writes the auxiliary keyspace (projections, deadline index) of
// one atomic write. Get sees what earlier hooks in the same write have put.
class EventStore;

class AuxWriter {
 public:
  virtual ~AuxWriter() = default;
  virtual void Put(const std::string& key, const std::string& value) = 0;
  virtual void Delete(const std::string& key) = 0;
  virtual Result<std::optional<std::string>> Get(const std::string& key) = 0;
};

// Runs in the committer (on one appending thread at a time, so never
// concurrently with itself; possibly not the thread of the append it sees)
// for every append, in global order, after the
// events have their positions and before they are written. Whatever it puts
// through the writer is committed atomically with the events. An error fails
// that append alone (nothing of it is written) and is returned to its caller.
// At open, a hook whose checkpoint is behind the log is replayed up to the head.
class CommitHook {
 public:
  virtual ~CommitHook() = default;
  // A stable name; the store keeps the hook's checkpoint under it.
  virtual std::string Name() const = 0;
  virtual Status OnEvents(const std::vector<RecordedEvent>& events, AuxWriter& aux) = 0;
  // Called by EventStore::Open once the store is open (after the hook has
  // caught up), before Open returns: a hook that also answers queries reads
  // through `store`, which it must not use after the store is destroyed.
  virtual void Attach(EventStore* store) { (void)store; }
};

struct StoreOptions {
  std::string path;
  bool read_only = false;           // no writes; works while another process writes
  bool create_if_missing = true;
  Clock* clock = nullptr;           // defaults to SystemClock::Default()
  rocksdb::Env* env = nullptr;      // defaults to the real file system; tests pass NewMemEnv
  size_t max_event_bytes = 1 << 20;  // one event's encoded size
  size_t max_events_per_append = 10000;
  // Write group k+1 while group k syncs. Readers are held to the durable mark.
  bool pipelined_commit = true;
  // Under pipelined commit, a committer whose group (with the groups waiting
  // for the syncer) holds every appender syncs it itself instead of waking the
  // syncer, but only while at most this many appenders are in the store. With
  // one appender that saves a thread switch per append; with many it keeps
  // them all in one cohort that waits on each sync, so the disk idles while
  // they write. Measured 2026-12-05 at 16 appenders (store_bench
  // --inline-max, six interleaved pairs): the same throughput within noise
  // (55-60k/s capped at 1, 57-60k uncapped) and a lower median latency
  // (p50 about 210 us against 240 us). 0 turns inline sync off.
  int inline_sync_max_appenders = 1;
  // Read-ahead of ScanLogRaw, the one-off pass over the whole log (rebuilds,
  // catch-ups): large reads keep such a pass sequential on the disk. Tests
  // lower it so that a small log takes many reads and one can fail midway.
  size_t log_scan_readahead_bytes = 8 << 20;
  // A subscription whose read, handler or checkpoint fails waits, then
  // retries the same batch from its checkpoint; the wait doubles after each
  // failure in a row, from the first value up to the second. A disk that
  // filled up and was cleared, or a read that failed once, is then caught
  // up without a restart (see Subscription::status).
  int64_t subscription_retry_first_micros = 1'000'000;
  int64_t subscription_retry_max_micros = 60'000'000;
  std::vector<CommitHook*> hooks;   // not owned; must outlive the store
};

struct VerifyReport {
  bool ok = true;
  uint64_t events = 0;         // events checked (the head position when ok)
  Hash head{};                 // hash of the last good event
  uint64_t bad_position = 0;   // when !ok
  std::string reason;          // when !ok
};

// Atomic write of auxiliary keys only (a projection's keys and its checkpoint).
struct AuxBatch {
  std::vector<std::pair<std::string, std::optional<std::string>>> ops;  // nullopt = delete
  void Put(std::string k, std::string v) { ops.emplace_back(std::move(k), std::move(v)); }
  void Delete(std::string k) { ops.emplace_back(std::move(k), std::nullopt); }
};

class Subscription;

// The hash an intact event carries: SHA-256 of its envelope as
// doc/event_format.md specifies it (prev_hash included, e.hash not). An
// event whose hash differs was altered after it was written.
Hash EventHash(const RecordedEvent& e);

// Counters since the store was opened; a difference of two readings covers
// the interval between them.
struct CommitStats {
  uint64_t syncs = 0;           // successful WAL syncs that acknowledged appends
  uint64_t synced_appends = 0;  // appends acknowledged by those syncs (duplicates included)
  uint64_t sync_micros = 0;     // time spent in those sync calls (steady clock)
};

class EventStore {
 public:
  // The format version this build writes and reads.
  static constexpr int kFormatVersion = 1;

  static Result<std::unique_ptr<EventStore>> Open(const StoreOptions& options);
  virtual ~EventStore() = default;

  // Validates, then blocks until durable. Errors: kInvalidArgument (nothing
  // written, message names the event index and field), kVersionConflict
  // (carries the actual version), kIOError / kReadOnly (sticky).
  virtual Result<AppendResult> Append(AppendRequest request) = 0;

  // Appends without a thread waiting for them: what a server with a few I/O
  // threads and many requests in flight needs (pgbench drives 16 connections
  // from 2 threads the same way). Each AsyncAppend is its own append (its own
  // command id, atomic unit and result), committed and synced exactly as by
  // Append, with the same guarantees; handing several over in one call puts
  // them into one queue entry and one write instead of one each.
  //
  // Every `done` is called exactly once, with what Append would have
  // returned for that request, once it is durable or has failed. A request
  // refused before it is queued (invalid, read-only, closing, sticky error)
  // is called back with that error on the caller's thread before AppendAsync
  // returns, so a callback must not resubmit a refused request at once.
  //
  // The others are called back on a thread of the store's: the syncer's, or
  // that of whichever caller holds the committer role at the time (possibly
  // the caller's own, before AppendAsync returns). Keep callbacks short and
  // never block in them: every append acknowledged after one waits for it.
  // A callback may call AppendAsync (which may then commit on that thread)
  // but not Append. An empty `done` drops the result; the append still
  // happens. The store's destructor, called once no other call is under way,
  // returns after every queued append has been called back.
  using AppendCallback = std::function<void(Result<AppendResult>)>;
  struct AsyncAppend {
    AppendRequest request;
    AppendCallback done;
  };
  virtual void AppendAsync(std::vector<AsyncAppend> appends) = 0;
  // One append: a batch of one.
  void AppendAsync(AppendRequest request, AppendCallback done);

  // The last durable global position (0 for an empty store) and its hash.
  virtual uint64_t DurableHead() const = 0;
  virtual Hash HeadHash() const = 0;

  // Current durable version of a stream; 0 when it does not exist.
  virtual Result<uint64_t> StreamVersion(const std::string& stream_id) = 0;

  // Events of one stream with version >= from_version, at most max_count.
  virtual Result<std::vector<RecordedEvent>> ReadStream(const std::string& stream_id,
                                                        uint64_t from_version = 1,
                                                        size_t max_count = SIZE_MAX) = 0;

  // Global log from a position, in order, up to the durable head. The visitor
  // returns false to stop early.
  virtual Status ScanLog(uint64_t from_position,
                         const std::function<bool(const RecordedEvent&)>& visitor) = 0;
  Result<std::vector<RecordedEvent>> ReadLog(uint64_t from_position, size_t max_count);
  // ScanLog without copies, for folds over the whole log (projection
  // rebuilds): each event is decoded in place and handed over as views
  // valid only during the visitor call (store/event_view.h). Reads ahead
  // and leaves the block cache alone, as a one-off sequential pass should.
  virtual Status ScanLogRaw(uint64_t from_position,
                            const std::function<bool(const EventView&)>& visitor) = 0;

  // Walks the chain from position 1 to the head. When `expected_head` is given
  // (position and hash an auditor kept), a shorter or different log is broken.
  virtual Result<VerifyReport> Verify(std::optional<std::pair<uint64_t, Hash>> expected_head =
                                          std::nullopt) = 0;
  // Walks the chain from just after (position, hash), kept from an earlier
  // verification, after checking that the event at `position` still has that
  // hash (so a rewritten or truncated prefix is still caught at its end).
  // Cheap at start-up; the full check is Verify().
  virtual Result<VerifyReport> VerifyFrom(uint64_t position, const Hash& hash) = 0;

  // The auxiliary keyspace (projections, indexes): point reads, prefix scans
  // and atomic batches of its own. Keys are namespaced by their owners.
  virtual Result<std::optional<std::string>> GetAux(const std::string& key) = 0;
  virtual Status ScanAux(const std::string& prefix,
                         const std::function<bool(const std::string& key,
                                                  const std::string& value)>& visitor) = 0;
  // Range scan [begin, end) for ordered indexes such as the deadline index.
  virtual Status ScanAuxRange(const std::string& begin, const std::string& end,
                              const std::function<bool(const std::string& key,
                                                       const std::string& value)>& visitor) = 0;
  virtual Status WriteAux(const AuxBatch& batch, bool sync = true) = 0;

  // A subscription delivers the log in global order from just after a stored
  // checkpoint, first catching up, then live as events become durable. The
  // handler's aux writes and the new checkpoint are committed atomically, so a
  // restart resumes exactly after the last handled batch: nothing skipped,
  // nothing repeated. Runs on its own thread until the Subscription is destroyed.
  using SubscriptionHandler =
      std::function<Status(const std::vector<RecordedEvent>& batch, AuxBatch& aux)>;
  struct SubscribeOptions {
    size_t max_batch = 1000;  // events per handler call, at most
    // The wait before the first retry after a failure, and its cap
    // (Subscription::status); 0 takes StoreOptions::subscription_retry_*.
    // A follower that calls out (a webhook) wants its own.
    int64_t retry_first_micros = 0;
    int64_t retry_max_micros = 0;
  };
  // Errors: kInvalidArgument for a bad name or negative retry waits;
  // kReadOnly on a read-only store.
  virtual Result<std::unique_ptr<Subscription>> Subscribe(const std::string& name,
                                                          SubscriptionHandler handler,
                                                          const SubscribeOptions& options) = 0;
  Result<std::unique_ptr<Subscription>> Subscribe(const std::string& name, SubscriptionHandler handler,
                                                  size_t max_batch = 1000) {
    SubscribeOptions o;
    o.max_batch = max_batch;
    return Subscribe(name, std::move(handler), o);
  }
  // The stored checkpoint of a named subscription (0 when none).
  virtual Result<uint64_t> SubscriptionCheckpoint(const std::string& name) = 0;

  // Not OK after a failed write or sync (writes refused until reopened).
  virtual Status BackgroundError() const = 0;

  // Blocks until the durable head reaches `position` or `timeout_micros`
  // passes (wall time; used by subscribers and tests). Returns the head.
  virtual uint64_t WaitForHead(uint64_t position, int64_t timeout_micros) = 0;

  // How appends shared WAL syncs since Open: what decides throughput under
  // concurrency (appends per sync) and the disk's share of a round trip
  // (time in the sync call). For benchmarks and operators; cheap to keep.
  virtual CommitStats GetCommitStats() const = 0;
};

class Subscription {
 public:
  virtual ~Subscription() = default;  // stops the thread, after the batch in hand
  // Position of the last batch handled and checkpointed.
  virtual uint64_t Checkpoint() const = 0;
  // OK while it runs. After a failed attempt (a read, the handler or the
  // checkpoint's write): that error, while the subscription waits to retry
  // the same batch from Checkpoint() (StoreOptions::subscription_retry_*);
  // the first attempt that succeeds clears it. A handler therefore sees a
  // batch again after it failed on it, and must not count twice what it had
  // done before failing. A sticky store error makes every retry fail, until
  // the store is reopened.
  virtual Status status() const = 0;
  // Attempts that failed in a row: 0 while it runs.
  virtual uint64_t failures() const = 0;
  // Blocks until the checkpoint reaches `position` or the timeout passes,
  // through failed attempts and their retries.
  virtual bool WaitFor(uint64_t position, int64_t timeout_micros) = 0;
};

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_EVENT_STORE_H_
