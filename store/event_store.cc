// EventStore on RocksDB. See event_store.h for the contract and
// doc/event_format.md for the keys, the envelope and the hash chain.
//
// Write path (after LevelDB's DBImpl::Write writer queue, taken further):
// appenders validate their request on their own thread, canonicalize the
// payloads and lay out each event's stored record (all that does not depend
// on the order of the log), enqueue it and wait.
// One committer at a time (an appender thread holding the committer role, see
// Commit) drains every waiting request into one WriteBatch: checks
// idempotency and expected versions, assigns positions, seals the records
// (chaining the hashes), runs the commit hooks, and writes the batch. With
// pipelined commit the batch is written without sync and handed to a syncer thread, which
// fsyncs the WAL (covering every batch written before the call) while the
// committer builds the next batch; only then are the appenders acknowledged
// and the durable mark advanced. Readers never look past the durable mark.
#include "store/event_store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store/envelope.h"
#include "store/time_format.h"
#include "store/utf8.h"
#include "store/wal.h"

namespace xiaohao {

void EventStore::AppendAsync(AppendRequest request, AppendCallback done) {
  std::vector<AsyncAppend> one;
  one.push_back({std::move(request), std::move(done)});
  AppendAsync(std::move(one));
}

Result<std::vector<RecordedEvent>> EventStore::ReadLog(uint64_t from_position, size_t max_count) {
  std::vector<RecordedEvent> out;
  Status s = ScanLog(from_position, [&](const RecordedEvent& e) {
    out.push_back(e);
    return out.size() < max_count;
  });
  if (!s.ok()) return s;
  return out;
}

namespace {

constexpr char kFormatKey[] = "format_version";
const std::string kHookPrefix("\0hook/", 6);
const std::string kSubPrefix("\0sub/", 5);
constexpr size_t kMaxIdBytes = 256;
constexpr size_t kMaxTypeBytes = 128;
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxGroupWriters = 4096;

std::string BE64(uint64_t v) { return envelope::PositionKey(v); }

void SetBE64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

std::string StreamKey(const std::string& stream, uint64_t version) {
  std::string k = stream;
  k.push_back('\0');
  k += BE64(version);
  return k;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsIOError() || s.IsNoSpace()) return Status::IOError(what + ": " + s.ToString());
  return Status::Internal(what + ": " + s.ToString());
}

// An aux key for a message: projections separate its parts with control
// bytes (engine/risk_projection.h), shown here as \xNN.
std::string PrintableKey(std::string_view key) {
  std::string out = "'";
  for (char ch : key) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  return out + "'";
}

// Where a scan of the log stopped, for its error: an operator checking the
// disk, or resuming by hand, needs the position.
std::string ScanFailure(uint64_t from_position, uint64_t last_handed_over) {
  if (last_handed_over == 0)
    return "scanning the log from position " + std::to_string(std::max<uint64_t>(from_position, 1));
  return "scanning the log after position " + std::to_string(last_handed_over) + " (the scan began at " +
         std::to_string(std::max<uint64_t>(from_position, 1)) + ")";
}

// Valid UTF-8 (store/utf8.h) and, if no_controls, no C0/DEL (ids and types).
bool ValidText(std::string_view s, bool no_controls) {
  if (no_controls)
    for (char ch : s) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == 0x7f) return false;
    }
  return IsValidUtf8(s);
}

Status CheckId(const std::string& value, const std::string& what, const std::string& field) {
  if (value.empty()) return Status::InvalidArgument(what + " is empty; give a non-empty id", field);
  if (value.size() > kMaxIdBytes)
    return Status::InvalidArgument(what + " is " + std::to_string(value.size()) +
                                       " bytes; the limit is " + std::to_string(kMaxIdBytes),
                                   field);
  if (!ValidText(value, true))
    return Status::InvalidArgument(what + " is not valid UTF-8 or contains control characters",
                                   field);
  return Status::OK();
}

Status CheckType(const std::string& type, const std::string& field) {
  if (type.empty() || type.size() > kMaxTypeBytes)
    return Status::InvalidArgument("event type must be 1.." + std::to_string(kMaxTypeBytes) +
                                       " bytes, like risk_item.opened",
                                   field);
  for (char c : type) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok)
      return Status::InvalidArgument(
          "event type '" + (ValidText(type, true) ? type : std::string("?")) +
              "' may contain only ASCII letters, digits, '.', '_' and '-'",
          field);
  }
  return Status::OK();
}

// Parses the payload with a depth limit (deep nesting would exhaust the stack)
// and returns its canonical text: keys sorted, no insignificant white space.
// Most payloads take envelope::CanonicalJsonObject's path, which writes the
// same text without building a document (parsing and dumping one was most
// of an append's CPU time); the rest, errors included, take nlohmann's.
Result<std::string> CanonicalPayload(const std::string& text, const std::string& field) {
  if (!ValidText(text, false))
    return Status::InvalidArgument("payload is not valid UTF-8", field);
  {
    std::string out;
    out.reserve(text.size());
    if (envelope::CanonicalJsonObject(text, &out)) return out;
  }
  bool too_deep = false;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > kMaxJsonDepth) too_deep = true;
      return !too_deep;
    });
  } catch (const nlohmann::json::exception& e) {
    if (too_deep)
      return Status::InvalidArgument(
          "payload nests deeper than " + std::to_string(kMaxJsonDepth) + " levels", field);
    return Status::InvalidArgument(std::string("payload is not valid JSON: ") + e.what(), field);
  }
  if (too_deep)
    return Status::InvalidArgument(
        "payload nests deeper than " + std::to_string(kMaxJsonDepth) + " levels", field);
  if (!j.is_object())
    return Status::InvalidArgument(
        std::string("payload must be a JSON object, got ") + j.type_name(), field);
  return j.dump();
}

std::string EncodeAppendResult(const AppendResult& r) {
  std::string out = BE64(r.first_position) + BE64(r.last_position);
  for (const auto& sv : r.streams) {
    out += BE64(sv.stream_id.size());
    out += sv.stream_id;
    out += BE64(sv.version);
  }
  return out;
}

bool DecodeAppendResult(std::string_view in, AppendResult* r) {
  if (in.size() < 16) return false;
  r->first_position = envelope::DecodePositionKey(in.substr(0, 8));
  r->last_position = envelope::DecodePositionKey(in.substr(8, 8));
  size_t pos = 16;
  r->streams.clear();
  while (pos < in.size()) {
    if (in.size() - pos < 8) return false;
    uint64_t n = envelope::DecodePositionKey(in.substr(pos, 8));
    pos += 8;
    if (in.size() - pos < n + 8) return false;
    StreamVersion sv;
    sv.stream_id.assign(in.substr(pos, n));
    pos += n;
    sv.version = envelope::DecodePositionKey(in.substr(pos, 8));
    pos += 8;
    r->streams.push_back(std::move(sv));
  }
  return true;
}

// The stream of a stream index key (stream id, NUL, 8-byte version): the
// memtable keeps one insert hint per stream (see Init).
class StreamKeyPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "xiaohao.StreamKeyPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > 8; }
};

class BatchAuxWriter final : public AuxWriter {
 public:
  BatchAuxWriter(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, rocksdb::WriteBatchWithIndex* wb)
      : db_(db), cf_(cf), wb_(wb) {}
  void Put(const std::string& key, const std::string& value) override {
    status_ = wb_->Put(cf_, key, value);
  }
  void Delete(const std::string& key) override { status_ = wb_->Delete(cf_, key); }
  Result<std::optional<std::string>> Get(const std::string& key) override {
    std::string value;
    rocksdb::Status s = wb_->GetFromBatchAndDB(db_, rocksdb::ReadOptions(), cf_, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "reading aux key " + PrintableKey(key));
    return std::optional<std::string>(std::move(value));
  }
  const rocksdb::Status& status() const { return status_; }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::WriteBatchWithIndex* wb_;
  rocksdb::Status status_;
};

// The committer's AuxWriter: a plain WriteBatch (indexing every key of the
// group, as WriteBatchWithIndex does, cost the single committer thread time
// per event) plus a map of the aux keys this group has written, which is all
// that Get must see besides the database. Save points undo both.
class GroupAuxWriter final : public AuxWriter {
 public:
  GroupAuxWriter(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, rocksdb::WriteBatch* wb)
      : db_(db), cf_(cf), wb_(wb) {}
  void Put(const std::string& key, const std::string& value) override {
    Note(wb_->Put(cf_, key, value));
    Set(key, value);
  }
  void Delete(const std::string& key) override {
    Note(wb_->Delete(cf_, key));
    Set(key, std::nullopt);
  }
  Result<std::optional<std::string>> Get(const std::string& key) override {
    if (auto it = overlay_.find(key); it != overlay_.end()) return it->second;
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "reading aux key " + PrintableKey(key));
    return std::optional<std::string>(std::move(value));
  }
  const rocksdb::Status& status() const { return status_; }

  void SetSavePoint() {
    wb_->SetSavePoint();
    undo_.clear();
    status_ = rocksdb::Status::OK();
  }
  void RollbackToSavePoint() {
    wb_->RollbackToSavePoint();
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      if (it->existed) overlay_[it->key] = std::move(it->value);
      else overlay_.erase(it->key);
    }
    undo_.clear();
  }
  void PopSavePoint() {
    wb_->PopSavePoint();
    undo_.clear();
  }

 private:
  struct Undo {
    std::string key;
    bool existed;
    std::optional<std::string> value;
  };
  void Note(const rocksdb::Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }
  void Set(const std::string& key, std::optional<std::string> value) {
    auto it = overlay_.find(key);
    if (it == overlay_.end()) {
      undo_.push_back({key, false, std::nullopt});
      overlay_.emplace(key, std::move(value));
    } else {
      undo_.push_back({key, true, std::move(it->second)});
      it->second = std::move(value);
    }
  }
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::WriteBatch* wb_;
  std::unordered_map<std::string, std::optional<std::string>> overlay_;
  std::vector<Undo> undo_;  // since the save point, oldest first
  rocksdb::Status status_;
};

class EventStoreImpl;

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(EventStoreImpl* store, std::string name, EventStore::SubscriptionHandler handler,
                   size_t max_batch, uint64_t checkpoint, int64_t retry_first_micros, int64_t retry_max_micros)
      : store_(store),
        name_(std::move(name)),
        handler_(std::move(handler)),
        max_batch_(max_batch),
        retry_first_micros_(std::max<int64_t>(retry_first_micros, 1)),
        retry_max_micros_(std::max(retry_max_micros, retry_first_micros_)),
        checkpoint_(checkpoint) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SubscriptionImpl() override {
    {
      std::lock_guard<std::mutex> l(mu_);  // a retry's wait checks stop_ under mu_
      stop_.store(true);
    }
    cv_.notify_all();
    thread_.join();
  }
  uint64_t Checkpoint() const override { return checkpoint_.load(); }
  Status status() const override {
    std::lock_guard<std::mutex> l(mu_);
    return status_;
  }
  uint64_t failures() const override {
    std::lock_guard<std::mutex> l(mu_);
    return failures_;
  }
  bool WaitFor(uint64_t position, int64_t timeout_micros) override {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::microseconds(timeout_micros),
                        [&] { return checkpoint_.load() >= position; });
  }

 private:
  void Run();
  EventStoreImpl* store_;
  std::string name_;
  EventStore::SubscriptionHandler handler_;
  size_t max_batch_;
  const int64_t retry_first_micros_, retry_max_micros_;
  std::atomic<uint64_t> checkpoint_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Status status_;          // GUARDED_BY(mu_): the latest attempt's error
  uint64_t failures_ = 0;  // GUARDED_BY(mu_): attempts failed in a row
  std::thread thread_;
};

class EventStoreImpl final : public EventStore {
 public:
  explicit EventStoreImpl(const StoreOptions& options) : options_(options) {
    if (options_.clock == nullptr) options_.clock = SystemClock::Default();
  }

  ~EventStoreImpl() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    {
      std::lock_guard<std::mutex> l(sync_mu_);
      sync_stopping_ = true;
    }
    sync_cv_.notify_all();
    if (syncer_.joinable()) syncer_.join();
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    delete db_;
  }

  Status Init();

  Result<AppendResult> Append(AppendRequest request) override;
  using EventStore::AppendAsync;
  void AppendAsync(std::vector<AsyncAppend> appends) override;
  uint64_t DurableHead() const override { return durable_head_.load(std::memory_order_acquire); }
  Hash HeadHash() const override {
    std::lock_guard<std::mutex> l(durable_mu_);
    return durable_hash_;
  }
  Result<uint64_t> StreamVersion(const std::string& stream_id) override;
  Result<std::vector<RecordedEvent>> ReadStream(const std::string& stream_id, uint64_t from_version,
                                                size_t max_count) override;
  Status ScanLog(uint64_t from_position,
                 const std::function<bool(const RecordedEvent&)>& visitor) override;
  Status ScanLogRaw(uint64_t from_position,
                    const std::function<bool(const EventView&)>& visitor) override;
  Result<VerifyReport> Verify(std::optional<std::pair<uint64_t, Hash>> expected_head) override {
    return VerifyRange(0, Hash{}, expected_head);
  }
  Result<VerifyReport> VerifyFrom(uint64_t position, const Hash& hash) override {
    if (position > 0) {
      // Recompute the event's hash from its bytes: its stored hash alone
      // would not show an edited payload.
      std::string stored;
      rocksdb::Status rs =
          db_->Get(rocksdb::ReadOptions(), events_cf(), envelope::PositionKey(position), &stored);
      Status s = rs.ok() ? Status::OK() : FromRocks(rs, "reading event " + std::to_string(position));
      RecordedEvent at;
      if (s.ok()) s = envelope::Decode(stored, &at);
      if (!s.ok() || at.hash != hash || envelope::Sha256(envelope::EnvelopeOf(stored)) != hash) {
        VerifyReport r;
        r.ok = false;
        r.bad_position = position;
        r.reason = s.ok() ? "its hash differs from the one verified earlier (the log was rewritten)"
                          : "the event verified earlier is gone (the log was truncated): " + s.message();
        return r;
      }
    }
    return VerifyRange(position, hash, std::nullopt);
  }
  Result<VerifyReport> VerifyRange(uint64_t after, Hash prev, std::optional<std::pair<uint64_t, Hash>> expected_head);
  Result<std::optional<std::string>> GetAux(const std::string& key) override;
  Status ScanAux(const std::string& prefix,
                 const std::function<bool(const std::string&, const std::string&)>& v) override;
  Status ScanAuxRange(const std::string& begin, const std::string& end,
                      const std::function<bool(const std::string&, const std::string&)>& v) override;
  Status WriteAux(const AuxBatch& batch, bool sync) override;
  using EventStore::Subscribe;
  Result<std::unique_ptr<Subscription>> Subscribe(const std::string& name,
                                                  SubscriptionHandler handler,
                                                  const SubscribeOptions& options) override;
  Result<uint64_t> SubscriptionCheckpoint(const std::string& name) override;
  Status BackgroundError() const override {
    std::lock_guard<std::mutex> l(mu_);
    return bg_error_;
  }
  CommitStats GetCommitStats() const override {
    CommitStats c;
    c.syncs = syncs_.load(std::memory_order_relaxed);
    c.synced_appends = synced_appends_.load(std::memory_order_relaxed);
    c.sync_micros = sync_micros_.load(std::memory_order_relaxed);
    return c;
  }
  uint64_t WaitForHead(uint64_t position, int64_t timeout_micros) override {
    std::unique_lock<std::mutex> l(durable_mu_);
    durable_cv_.wait_for(l, std::chrono::microseconds(timeout_micros),
                         [&] { return durable_head_.load() >= position; });
    return durable_head_.load();
  }

 private:
  struct Writer {
    AppendRequest request;
    // The stored value of each event, laid out by the appender (see
    // envelope::LayOutRecord) and sealed by the committer.
    std::vector<std::string> records;
    Status status;
    AppendResult result;
    // What the waiting appender is told (kDone, kLead): a futex word of its
    // own, so acknowledging a writer touches nothing shared. A mutex and
    // condition variable did the job before, but had to be notified under
    // the mutex (the writer may be gone once it sees `done`), so every woken
    // appender ran into the mutex its waker still held and slept again:
    // about a third more involuntary thread switches per append at 16
    // appenders (bench/store_bench under /usr/bin/time), and switches are
    // what an append costs on two vCPUs (shared/PERFORMANCE.md).
    // Wake may run after the appender has returned: the kernel then wakes
    // whoever waits on that stack address, at worst a later futex wait of
    // the same thread, which sees a spurious wake-up; Wait below and
    // glibc's waiters re-check their word and sleep again.
    std::atomic<uint32_t> signal{0};
    static constexpr uint32_t kDone = 1;  // acknowledged: status and result are set
    static constexpr uint32_t kLead = 2;  // asked to take the committer role
    static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                      std::atomic<uint32_t>::is_always_lock_free,
                  "the futex syscall needs a plain 32-bit word");
    // Set while the writer is certainly alive; Wake may come later.
    void Set(uint32_t bit) { signal.fetch_or(bit, std::memory_order_release); }
    void Wake() {
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&signal), FUTEX_WAKE_PRIVATE, 1,
              nullptr, nullptr, 0);
    }
    // Returns the bits set, once one is.
    uint32_t Wait() {
      for (;;) {
        uint32_t v = signal.load(std::memory_order_acquire);
        if (v != 0) return v;
        syscall(SYS_futex, reinterpret_cast<uint32_t*>(&signal), FUTEX_WAIT_PRIVATE, 0,
                nullptr, nullptr, 0);
      }
    }
    // Set for AppendAsync: no thread waits on this writer, which the store
    // owns (heap-allocated) and deletes once `callback` has its result.
    AppendCallback callback;
  };
  // A written group waiting for its sync.
  struct Group {
    std::vector<Writer*> writers;  // to acknowledge once durable
    uint64_t last_position = 0;
    Hash last_hash{};
    // Queued while a sync was under way: its appenders have waited a sync already.
    bool behind_sync = false;
    // To drop from inflight_ once durable (views of the writers' ids).
    std::vector<std::string_view> command_ids;
  };

  Status Validate(AppendRequest* r) const;
  // Validates and lays out the records: the work an appender does on its own
  // thread before it queues.
  Status Prepare(AppendRequest request, Writer* w) const;
  void Commit(Writer* self);
  void SyncerLoop();
  void ProcessGroup(std::vector<Writer*>& writers, bool may_sync_inline);
  void FinishGroup(Group& g, const Status& s);
  void Complete(Writer* w);
  void SetBackgroundError(const Status& s);
  Result<uint64_t> LookupStreamVersion(const std::string& stream, bool durable_only);
  Status CatchUpHooks();
  Status ReadEventAt(uint64_t position, RecordedEvent* e);

  rocksdb::ColumnFamilyHandle* meta_cf() const { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* events_cf() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* streams_cf() const { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* commands_cf() const { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* aux_cf() const { return handles_[4]; }

  StoreOptions options_;
  // Both outlive db_ (declared before it; the destructor deletes db_ first).
  std::unique_ptr<rocksdb::Env> wal_env_;  // the zero-ahead WAL file system (store/wal.h)
  WalContinuityFilter wal_filter_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  // Held around every db_->Write (and Put) of this store, so RocksDB never
  // forms a write group of two threads. The committer is the only frequent
  // writer; WriteAux callers (subscriptions, rebuilds) wait a moment for it.
  // Without it a group's leader copies another thread's WriteBatch under
  // RocksDB's own uninstrumented atomics, which ThreadSanitizer reports as a
  // race in our frames (tests/CMakeLists.txt); with it the hand-off is this
  // mutex, which TSan sees, and the subscription tests run under TSan.
  std::mutex write_mu_;

  // Queue of waiting appenders.
  mutable std::mutex mu_;
  std::deque<Writer*> queue_;
  bool stopping_ = false;
  // The committer role (see Commit): held by at most one appender thread.
  bool committing_ = false;  // GUARDED_BY(mu_)
  Status bg_error_;  // GUARDED_BY(mu_); sticky
  std::atomic<bool> has_bg_error_{false};

  // Committer state (no lock of its own: only the holder of the committer
  // role touches it after Init, and the role passes under mu_).
  uint64_t next_position_ = 1;
  Hash last_hash_{};
  UnixMicros last_recorded_at_ = 0;
  std::unordered_map<std::string, uint64_t> stream_cache_;
  // Results of commands written but not yet durable, for duplicates that arrive meanwhile.
  // Keys and results live in the writers, which are acknowledged only after
  // their entries are erased (FinishGroup).
  std::unordered_map<std::string_view, const AppendResult*> inflight_;
  std::mutex inflight_mu_;  // inflight_ is erased by the syncer

  // Groups written, waiting for the syncer.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Group> sync_queue_;
  bool sync_stopping_ = false;
  // A first group was queued without waking the syncer, because the
  // committer had more appenders to write; it wakes it on giving up the role.
  bool sync_wake_owed_ = false;  // GUARDED_BY(sync_mu_)
  bool syncing_ = false;  // GUARDED_BY(sync_mu_): the syncer holds groups it has not finished
  int sync_queue_writers_ = 0;  // GUARDED_BY(sync_mu_): writers in sync_queue_
  std::atomic<int> active_{0};  // appenders inside Append
  // How long the syncer waits for appenders not yet written (see SyncerLoop).
  static constexpr std::chrono::microseconds kLinger{100};

  // The durable mark.
  mutable std::mutex durable_mu_;
  std::condition_variable durable_cv_;
  std::atomic<uint64_t> durable_head_{0};
  Hash durable_hash_{};  // GUARDED_BY(durable_mu_)

  // GetCommitStats; written by whoever syncs (the syncer or an inline sync).
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> synced_appends_{0};
  std::atomic<uint64_t> sync_micros_{0};
  void CountSync(std::chrono::steady_clock::time_point start, const std::deque<Group>& groups,
                 const Group* last) {
    uint64_t n = last != nullptr ? last->writers.size() : 0;
    for (const Group& g : groups) n += g.writers.size();
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start).count();
    syncs_.fetch_add(1, std::memory_order_relaxed);
    synced_appends_.fetch_add(n, std::memory_order_relaxed);
    sync_micros_.fetch_add(static_cast<uint64_t>(us), std::memory_order_relaxed);
  }

  std::thread syncer_;
};

Status EventStoreImpl::Init() {
  rocksdb::Options opts;
  opts.create_if_missing = options_.create_if_missing;
  opts.create_missing_column_families = true;
  if (options_.env != nullptr) {
    opts.env = options_.env;
  } else if (!options_.read_only) {
    // The real disk: WAL files are written with zeros ahead of the writer so
    // that a commit's sync does not also commit a new file size (store/wal.h).
    wal_env_ = rocksdb::NewCompositeEnv(
        NewZeroAheadWalFileSystem(rocksdb::FileSystem::Default()));
    opts.env = wal_env_.get();
  }
  // Replay stops at a gap in the WAL's sequence numbers (store/wal.h): a
  // zeroed page must not let later, never-acknowledged batches in over a hole.
  opts.wal_filter = &wal_filter_;
  // Recover up to the first bad record of the WAL tail and no further: an
  // acknowledged append was synced, so it lies before any torn tail. Never
  // kSkipAnyCorruptedRecords, which could drop records from the middle.
  opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  opts.max_total_wal_size = 256 << 20;
  // Up to four memtables per family instead of RocksDB's two, so that a flush
  // that falls behind (a loaded machine; the bench's real-time mode on two
  // cores) slows appends instead of stopping them: with two, a second full
  // memtable stopped every append until the flush finished (0.6-0.9 s seen).
  // Costs memory only while flushes lag; the WAL still holds every write.
  opts.max_write_buffer_number = 4;
  opts.keep_log_file_num = 5;
  opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  opts.IncreaseParallelism(2);

  // Every append looks up its command id (nearly always absent) and its
  // streams' versions: bloom filters, on disk and in the memtable, answer
  // "absent" without reading blocks.
  rocksdb::BlockBasedTableOptions filtered;
  filtered.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions lookup_cf(opts);
  lookup_cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(filtered));
  lookup_cf.memtable_whole_key_filtering = true;
  lookup_cf.memtable_prefix_bloom_size_ratio = 0.02;
  // The committer inserts three keys per event into memtables, which was
  // most of its time per event. The events keys arrive in order and are
  // cheap; the other two are made cheap here:
  // - a stream's index keys arrive in version order, so the skip list keeps
  //   an insert position per stream (the prefix before the 8-byte version)
  //   and inserts next to it instead of searching from the top;
  // - command ids are random and only ever looked up whole (MultiGet), so
  //   their memtable is a hash of small skip lists (the "prefix" is the whole
  //   key); the bloom filters stay whole-key.
  // Neither changes what is stored or how it is read back. Both need
  // non-concurrent memtable writes, which is what one committer does anyway.
  opts.allow_concurrent_memtable_write = false;
  // The committer's unsynced writes stay in RocksDB's WAL buffer; the syncer
  // writes the buffer and fsyncs it in one FlushWAL(true), so the committer
  // makes no write() call per group. A synced write (an inline sync, WriteAux)
  // flushes the buffer itself, and switching to a new WAL file writes it out
  // first, so nothing acknowledged depends on the buffer.
  opts.manual_wal_flush = true;
  rocksdb::ColumnFamilyOptions streams_cf_opts(opts);
  streams_cf_opts.memtable_insert_with_hint_prefix_extractor = std::make_shared<StreamKeyPrefix>();
  // The committer looks up the version of every stream it has not seen since
  // opening: one prefix seek each, and most such streams are new. A prefix
  // bloom filter (memtable and files) answers "no such stream" without
  // searching. Both readers of this family stay within one stream's prefix
  // (prefix_same_as_start), which is what a prefix extractor requires.
  streams_cf_opts.prefix_extractor = std::make_shared<StreamKeyPrefix>();
  streams_cf_opts.memtable_prefix_bloom_size_ratio = 0.02;
  {
    rocksdb::BlockBasedTableOptions prefix_filtered;
    prefix_filtered.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    prefix_filtered.whole_key_filtering = false;  // never looked up by whole key
    streams_cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(prefix_filtered));
  }
  rocksdb::ColumnFamilyOptions commands_cf_opts(lookup_cf);
  commands_cf_opts.prefix_extractor.reset(rocksdb::NewNoopTransform());
  commands_cf_opts.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back("default", rocksdb::ColumnFamilyOptions(opts));
  cfs.emplace_back("events", rocksdb::ColumnFamilyOptions(opts));
  cfs.emplace_back("streams", streams_cf_opts);
  cfs.emplace_back("commands", commands_cf_opts);
  cfs.emplace_back("aux", lookup_cf);

  rocksdb::Status s;
  if (options_.read_only) {
    std::vector<std::string> existing;
    s = rocksdb::DB::ListColumnFamilies(opts, options_.path, &existing);
    if (!s.ok())
      return Status::NotFound("no xiaohao data directory at '" + options_.path +
                              "' (" + s.ToString() + "); check --data");
    s = rocksdb::DB::OpenForReadOnly(opts, options_.path, cfs, &handles_, &db_);
  } else {
    s = rocksdb::DB::Open(opts, options_.path, cfs, &handles_, &db_);
  }
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
      return Status::FailedPrecondition("the data directory '" + options_.path +
                                        "' is in use by another xiaohao process (" +
                                        s.ToString() + "); read-only commands still work");
    return FromRocks(s, "opening the event store at '" + options_.path + "'");
  }

  if (wal_filter_.stopped()) {
    // Normal after a crash that tore the unsynced tail; kept in RocksDB's LOG
    // for whoever investigates one.
    rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, db_->GetDBOptions().info_log, "xiaohao: %s",
                 wal_filter_.why().c_str());
  }

  // Format version: written once when the store is created; an unknown one is refused.
  std::string fv;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf(), kFormatKey, &fv);
  if (s.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf()));
    it->SeekToFirst();
    if (it->Valid())
      return Status::Corruption("the data directory '" + options_.path +
                                "' holds events but no format version; it was not written by xiaohao");
    if (!options_.read_only) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      std::lock_guard<std::mutex> w(write_mu_);
      s = db_->Put(wo, meta_cf(), kFormatKey, std::to_string(kFormatVersion));
      if (!s.ok()) return FromRocks(s, "writing the format version");
    }
  } else if (!s.ok()) {
    return FromRocks(s, "reading the format version");
  } else if (fv != std::to_string(kFormatVersion)) {
    return Status::FailedPrecondition(
        "the data directory '" + options_.path + "' uses event format version " + fv +
        ", but this build of xiaohao reads only version " + std::to_string(kFormatVersion) +
        "; open it with a matching xiaohao build");
  }

  // The head of the log.
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf()));
    it->SeekToLast();
    if (it->Valid()) {
      RecordedEvent last;
      RETURN_IF_ERROR(envelope::Decode(
          std::string_view(it->value().data(), it->value().size()), &last));
      next_position_ = last.position + 1;
      last_hash_ = last.hash;
      last_recorded_at_ = last.recorded_at;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading the log head");
    durable_head_ = next_position_ - 1;
    durable_hash_ = last_hash_;
  }

  if (!options_.read_only) {
    if (options_.pipelined_commit) {
      // Pipelining syncs the WAL from a second thread, which needs a WAL file
      // whose sync is thread-safe (the real file system; not NewMemEnv's).
      rocksdb::Status probe = db_->FlushWAL(/*sync=*/true);
      if (probe.IsNotSupported()) options_.pipelined_commit = false;
      else if (!probe.ok()) return FromRocks(probe, "syncing the write-ahead log at open");
    }
    RETURN_IF_ERROR(CatchUpHooks());
    if (options_.pipelined_commit) syncer_ = std::thread([this] { SyncerLoop(); });
  }
  return Status::OK();
}

// A hook registered after events were written (or whose keys were lost) is
// replayed from its checkpoint, append by append, before any new write.
Status EventStoreImpl::CatchUpHooks() {
  constexpr size_t kChunk = 10000;
  uint64_t head = next_position_ - 1;
  for (CommitHook* hook : options_.hooks) {
    std::string cp_key = kHookPrefix + hook->Name();
    std::string cp_value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), aux_cf(), cp_key, &cp_value);
    uint64_t cp = 0;
    if (s.ok() && cp_value.size() == 8) {
      cp = envelope::DecodePositionKey(cp_value);
    } else if (!s.ok() && !s.IsNotFound()) {
      return FromRocks(s, "reading the checkpoint of hook " + hook->Name());
    }
    while (cp < head) {
      // A chunk of whole appends (consecutive events of one command id).
      std::vector<RecordedEvent> chunk;
      RETURN_IF_ERROR(ScanLog(cp + 1, [&](const RecordedEvent& e) {
        if (chunk.size() >= kChunk && e.command_id != chunk.back().command_id) return false;
        chunk.push_back(e);
        return true;
      }));
      if (chunk.empty()) return Status::Internal("hook catch-up found no events after " + std::to_string(cp));
      rocksdb::WriteBatchWithIndex wb(rocksdb::BytewiseComparator(), 0, true);
      BatchAuxWriter aux(db_, aux_cf(), &wb);
      size_t begin = 0;
      for (size_t i = 1; i <= chunk.size(); ++i) {
        if (i < chunk.size() && chunk[i].command_id == chunk[begin].command_id) continue;
        std::vector<RecordedEvent> append(chunk.begin() + begin, chunk.begin() + i);
        RETURN_IF_ERROR(hook->OnEvents(append, aux).WithContext("replaying hook " + hook->Name()));
        begin = i;
      }
      if (!aux.status().ok()) return FromRocks(aux.status(), "hook " + hook->Name());
      cp = chunk.back().position;
      wb.Put(aux_cf(), cp_key, BE64(cp));
      rocksdb::WriteOptions wo;
      wo.sync = true;
      {
        std::lock_guard<std::mutex> w(write_mu_);
        s = db_->Write(wo, wb.GetWriteBatch());
      }
      if (!s.ok()) return FromRocks(s, "writing the catch-up of hook " + hook->Name());
    }
  }
  return Status::OK();
}

Status EventStoreImpl::Validate(AppendRequest* r) const {
  RETURN_IF_ERROR(CheckId(r->command_id, "command id", "/command_id"));
  if (r->events.empty())
    return Status::InvalidArgument("an append needs at least one event", "/events");
  if (r->events.size() > options_.max_events_per_append)
    return Status::InvalidArgument("an append may hold at most " +
                                       std::to_string(options_.max_events_per_append) + " events",
                                   "/events");
  for (size_t i = 0; i < r->events.size(); ++i) {
    NewEvent& e = r->events[i];
    // Messages and field paths are built only for an error: on the way to
    // the committer every allocation counts.
    auto at = [i](const char* field) { return "/events/" + std::to_string(i) + field; };
    auto event_i = [i] { return "event " + std::to_string(i); };
    if (Status s = CheckId(e.stream_id, "stream id", ""); !s.ok())
      return CheckId(e.stream_id, event_i() + ": stream id", at("/stream_id"));
    if (Status s = CheckType(e.type, ""); !s.ok()) return CheckType(e.type, at("/type"));
    auto t = ParseRfc3339(e.occurred_at);
    if (!t.ok())
      return Status::InvalidArgument(event_i() + ": occurred_at: " + t.status().message(),
                                     at("/occurred_at"));
    for (auto [value, name] : {std::pair{&e.actor.user_id, "user_id"}, {&e.actor.role, "role"},
                               {&e.actor.office, "office"}}) {
      if (value->size() > kMaxIdBytes || !ValidText(*value, true))
        return Status::InvalidArgument(event_i() + ": actor " + name +
                                           " must be valid UTF-8 without control characters, at most " +
                                           std::to_string(kMaxIdBytes) + " bytes",
                                       at("/actor/") + name);
    }
    {
      auto canonical = CanonicalPayload(e.payload_json, std::string());
      if (!canonical.ok()) {
        Status s = canonical.status();
        return Status(s.code(), s.message(), at("/payload")).WithContext(event_i());
      }
      e.payload_json = std::move(canonical).value();
    }
    size_t size = 1 + 24 + 4 * 8 + 32 + e.stream_id.size() + e.type.size() + e.occurred_at.size() +
                  e.actor.user_id.size() + e.actor.role.size() + e.actor.office.size() +
                  r->command_id.size() + e.payload_json.size();
    if (size > options_.max_event_bytes)
      return Status::InvalidArgument(event_i() + " is " + std::to_string(size) +
                                         " bytes encoded; the limit is " +
                                         std::to_string(options_.max_event_bytes) +
                                         " (store large documents elsewhere and reference them)",
                                     at(""));
  }
  for (size_t i = 0; i < r->expectations.size(); ++i) {
    RETURN_IF_ERROR(CheckId(r->expectations[i].stream_id, "expectation stream id",
                            "/expectations/" + std::to_string(i)));
    for (size_t k = 0; k < i; ++k)
      if (r->expectations[k].stream_id == r->expectations[i].stream_id)
        return Status::InvalidArgument("two expectations for stream '" +
                                           r->expectations[i].stream_id + "'",
                                       "/expectations/" + std::to_string(i));
  }
  return Status::OK();
}

Status EventStoreImpl::Prepare(AppendRequest request, Writer* w) const {
  RETURN_IF_ERROR(Validate(&request));
  w->request = std::move(request);
  w->records.resize(w->request.events.size());
  for (size_t i = 0; i < w->records.size(); ++i)
    envelope::LayOutRecord(w->request.events[i], w->request.command_id, &w->records[i]);
  return Status::OK();
}

Result<AppendResult> EventStoreImpl::Append(AppendRequest request) {
  if (options_.read_only)
    return Status::ReadOnly("the store is open read-only; appends need the writing process");
  // Appenders inside Append (validating, queued or waiting for their sync):
  // the syncer waits briefly for those not yet written, so that one fsync
  // covers them too instead of the next one.
  active_.fetch_add(1, std::memory_order_relaxed);
  struct Leave {
    std::atomic<int>& n;
    ~Leave() { n.fetch_sub(1, std::memory_order_relaxed); }
  } leave{active_};
  Writer w;
  RETURN_IF_ERROR(Prepare(std::move(request), &w));
  bool lead = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!bg_error_.ok()) return bg_error_;
    if (stopping_) return Status::FailedPrecondition("the store is closing");
    queue_.push_back(&w);
    if (!committing_) committing_ = lead = true;
  }
  for (;;) {
    if (lead) Commit(&w);
    lead = false;
    if (w.Wait() & Writer::kDone) break;
    w.signal.fetch_and(~Writer::kLead, std::memory_order_relaxed);
    // Handed the role: take it unless another appender took it meanwhile.
    std::lock_guard<std::mutex> q(mu_);
    if (!committing_ && !queue_.empty()) committing_ = lead = true;
  }
  if (!w.status.ok()) return w.status;
  return w.result;
}

void EventStoreImpl::AppendAsync(std::vector<AsyncAppend> appends) {
  std::vector<std::unique_ptr<Writer>> writers;
  writers.reserve(appends.size());
  std::vector<std::pair<AppendCallback, Status>> refused;
  for (AsyncAppend& a : appends) {
    if (!a.done) a.done = [](Result<AppendResult>) {};
    Status s = options_.read_only
                   ? Status::ReadOnly("the store is open read-only; appends need the writing process")
                   : Status::OK();
    auto w = std::make_unique<Writer>();
    if (s.ok()) s = Prepare(std::move(a.request), w.get());
    if (!s.ok()) {
      refused.emplace_back(std::move(a.done), std::move(s));
      continue;
    }
    w->callback = std::move(a.done);
    writers.push_back(std::move(w));
  }
  bool lead = false;
  if (!writers.empty()) {
    // Counted as inside the store until called back (see Complete), as a
    // blocking appender is until Append returns: the syncer lingers for them.
    active_.fetch_add(static_cast<int>(writers.size()), std::memory_order_relaxed);
    Status s;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!bg_error_.ok()) {
        s = bg_error_;
      } else if (stopping_) {
        s = Status::FailedPrecondition("the store is closing");
      } else {
        for (auto& w : writers) queue_.push_back(w.release());
        if (!committing_) committing_ = lead = true;
      }
    }
    if (!s.ok()) {
      active_.fetch_sub(static_cast<int>(writers.size()), std::memory_order_relaxed);
      for (auto& w : writers) refused.emplace_back(std::move(w->callback), s);
    }
  }
  for (auto& [done, s] : refused) done(std::move(s));
  // No thread waits for these appends, so the caller commits what is queued
  // and returns (see Commit); the syncer calls them back once durable.
  if (lead) Commit(nullptr);
}

void EventStoreImpl::Complete(Writer* w) {
  if (w->callback) {
    // Nothing of the writer is referenced any more (FinishGroup erased its
    // command from inflight_ first), so it goes before the callback runs,
    // which may queue the caller's next append.
    std::unique_ptr<Writer> owned(w);
    AppendCallback callback = std::move(w->callback);
    Result<AppendResult> r = w->status.ok() ? Result<AppendResult>(std::move(w->result))
                                            : Result<AppendResult>(w->status);
    owned.reset();
    active_.fetch_sub(1, std::memory_order_relaxed);
    callback(std::move(r));
    return;
  }
  w->Set(Writer::kDone);
  w->Wake();  // the writer may be gone by now (see Writer)
}

void EventStoreImpl::SetBackgroundError(const Status& s) {
  std::lock_guard<std::mutex> l(mu_);
  if (bg_error_.ok()) {
    bg_error_ = Status(StatusCode::kIOError,
                       "the store refuses writes because an earlier write or sync failed (" +
                           s.message() + "); fix the cause (disk space, permissions) and "
                           "restart xiaohao. Acknowledged events are safe; reads still work");
    has_bg_error_ = true;
  }
}

// The committer role is taken by the appender that finds it free when it
// enqueues, on its own thread: a dedicated committer thread had to be woken
// for every group and then wait for a CPU behind the appenders it was to
// serve, which was most of an append's round trip on two cores. The holder
// drains the queue group by group while its own append is not yet durable;
// once it is, the holder returns and passes the role to the oldest waiting
// appender, so no caller commits for others indefinitely. Only one thread
// holds the role at a time (committing_ under mu_), so the committer state
// is still touched by one thread at a time, handed over under mu_.
//
// `self` is null for AppendAsync, whose caller waits for nothing: it commits
// until the queue is empty. The role goes only to a blocking appender (one
// with a thread waiting on it); while only asynchronous appends wait, the
// holder keeps committing, so a queued append always has a committer.
// An asynchronous caller never syncs inline (ProcessGroup): it would then
// sync and call back other clients' appends, whose next appends would arrive
// during its sync and keep it committing, while its own clients' callbacks
// waited behind it for milliseconds (measured: 2% of calls over 1 ms, ~7 ms
// each, with two client threads). Handed to the syncer, a group costs the
// caller only its write.
void EventStoreImpl::Commit(Writer* self) {
  for (;;) {
    std::vector<Writer*> group;
    // Woken once mu_ is released, so that they do not wake into a lock this
    // thread still holds (see Writer).
    bool wake_syncer = false;
    Writer* next = nullptr;  // a blocking appender to hand the role to
    {
      std::lock_guard<std::mutex> l(mu_);
      const bool self_done =
          self == nullptr || (self->signal.load(std::memory_order_acquire) & Writer::kDone);
      if (self_done)
        for (Writer* q : queue_)
          if (!q->callback) {
            next = q;
            break;
          }
      if (queue_.empty() || (self_done && next != nullptr)) {
        committing_ = false;
        {
          std::lock_guard<std::mutex> sl(sync_mu_);
          wake_syncer = sync_wake_owed_;
          sync_wake_owed_ = false;
        }
        // Set under mu_, while `next` is queued and so certainly alive.
        if (next != nullptr) next->Set(Writer::kLead);
      } else {
        while (!queue_.empty() && group.size() < kMaxGroupWriters) {
          group.push_back(queue_.front());
          queue_.pop_front();
        }
      }
    }
    if (group.empty()) {
      if (wake_syncer) sync_cv_.notify_one();
      if (next != nullptr) next->Wake();
      return;
    }
    // An exception here would leave the appenders of the group waiting for
    // ever; as on the former committer thread, it ends the process instead.
    [&]() noexcept { ProcessGroup(group, /*may_sync_inline=*/self != nullptr); }();
  }
}


Result<uint64_t> EventStoreImpl::LookupStreamVersion(const std::string& stream, bool durable_only) {
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;  // see the streams family's prefix extractor
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, streams_cf()));
  std::string prefix = stream;
  prefix.push_back('\0');
  it->SeekForPrev(prefix + std::string(8, '\xff'));
  uint64_t head = DurableHead();
  while (it->Valid() && it->key().starts_with(prefix)) {
    if (!durable_only || envelope::DecodePositionKey(std::string_view(it->value().data(), 8)) <= head)
      return envelope::DecodePositionKey(
          std::string_view(it->key().data() + prefix.size(), 8));
    it->Prev();
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the stream index");
  return uint64_t{0};
}

void EventStoreImpl::ProcessGroup(std::vector<Writer*>& writers, bool may_sync_inline) {
  if (has_bg_error_.load()) {
    Status err = BackgroundError();
    for (Writer* w : writers) {
      w->status = err;
      Complete(w);
    }
    return;
  }
  rocksdb::WriteBatch wb;
  GroupAuxWriter aux(db_, aux_cf(), &wb);
  // Commands of this group, for repeats within it; keys and results live in
  // the writers, which outlast the group.
  std::unordered_map<std::string_view, const AppendResult*> group_commands;
  std::vector<Writer*> finished_now;  // refused: acknowledge at once
  Group group;
  uint64_t pos = next_position_;
  Hash prev = last_hash_;
  UnixMicros now = std::max(options_.clock->Now(), last_recorded_at_);
  std::string stream_key;

  // stream_cache_ takes this group's versions as its appends succeed (a
  // failed write clears it), so it is trimmed only here, between groups:
  // the versions of a group not yet written are nowhere else.
  if (stream_cache_.size() > (1u << 20)) stream_cache_.clear();
  auto current_version = [&](const std::string& stream) -> Result<uint64_t> {
    if (auto c = stream_cache_.find(stream); c != stream_cache_.end()) return c->second;
    ASSIGN_OR_RETURN(uint64_t v, LookupStreamVersion(stream, false));
    stream_cache_[stream] = v;
    return v;
  };

  // Idempotency: every command id of the group looked up in one MultiGet
  // (nearly always absent; the bloom filters answer).
  std::vector<rocksdb::Slice> command_keys;
  command_keys.reserve(writers.size());
  for (Writer* w : writers) command_keys.emplace_back(w->request.command_id);
  std::vector<rocksdb::PinnableSlice> stored_results(writers.size());
  std::vector<rocksdb::Status> command_lookups(writers.size());
  db_->MultiGet(rocksdb::ReadOptions(), commands_cf(), command_keys.size(), command_keys.data(),
                stored_results.data(), command_lookups.data());

  for (size_t wi = 0; wi < writers.size(); ++wi) {
    Writer* w = writers[wi];
    AppendRequest& req = w->request;
    // Idempotency: a command already written (durable or in flight) returns its result.
    {
      const AppendResult* seen = nullptr;
      if (auto g = group_commands.find(req.command_id); g != group_commands.end()) seen = g->second;
      std::lock_guard<std::mutex> l(inflight_mu_);
      if (!seen)
        if (auto f = inflight_.find(req.command_id); f != inflight_.end()) seen = f->second;
      if (seen) {
        w->result = *seen;
        w->result.duplicate = true;
        group.writers.push_back(w);
        continue;
      }
    }
    const rocksdb::Status& gs = command_lookups[wi];
    if (gs.ok()) {
      if (DecodeAppendResult(stored_results[wi].ToStringView(), &w->result)) {
        w->result.duplicate = true;
        group.writers.push_back(w);
      } else {
        w->status = Status::Corruption("command index entry for '" + req.command_id + "' is malformed");
        finished_now.push_back(w);
      }
      continue;
    } else if (!gs.IsNotFound()) {
      w->status = FromRocks(gs, "reading the command index");
      finished_now.push_back(w);
      continue;
    }

    // Expected versions.
    Status check;
    for (const StreamExpectation& ex : req.expectations) {
      auto v = current_version(ex.stream_id);
      if (!v.ok()) {
        check = v.status();
        break;
      }
      uint64_t actual = *v;
      bool ok = ex.expected.kind == ExpectedVersion::Kind::kAny ||
                (ex.expected.kind == ExpectedVersion::Kind::kNoStream && actual == 0) ||
                (ex.expected.kind == ExpectedVersion::Kind::kExact && actual == ex.expected.version);
      if (!ok) {
        std::string want = ex.expected.kind == ExpectedVersion::Kind::kNoStream
                               ? std::string("no stream")
                               : "version " + std::to_string(ex.expected.version);
        check = Status::VersionConflict("stream '" + ex.stream_id + "' is at version " +
                                            std::to_string(actual) + ", expected " + want +
                                            "; reload and retry",
                                        actual, ex.stream_id);
        break;
      }
    }
    if (!check.ok()) {
      w->status = check;
      finished_now.push_back(w);
      continue;
    }

    // Assign positions and versions, chain the hashes, write the keys. The
    // records were laid out on the appenders' threads (see Append); here
    // they get only what the order of the log decides.
    aux.SetSavePoint();
    const bool hooked = !options_.hooks.empty();
    std::vector<RecordedEvent> recorded;  // only for the hooks
    if (hooked) recorded.reserve(req.events.size());
    AppendResult result;
    result.first_position = pos;
    // The streams of this append and their versions so far; appends touch
    // one stream or a few, so a scan beats a hash map here.
    auto& local_versions = result.streams;
    uint64_t p = pos;
    Hash h = prev;
    Status build;
    for (size_t k = 0; k < req.events.size(); ++k) {
      NewEvent& ne = req.events[k];
      xiaohao::StreamVersion* sv = nullptr;
      for (auto& l : local_versions)
        if (l.stream_id == ne.stream_id) {
          sv = &l;
          break;
        }
      if (sv == nullptr) {
        auto v = current_version(ne.stream_id);
        if (!v.ok()) {
          build = v.status();
          break;
        }
        local_versions.push_back({ne.stream_id, *v});
        sv = &local_versions.back();
      }
      const uint64_t version = ++sv->version;
      std::string& record = w->records[k];
      const Hash event_prev = h;
      h = envelope::SealRecord(&record, p, version, now, event_prev);
      char position_key[8];
      SetBE64(position_key, p);
      wb.Put(events_cf(), rocksdb::Slice(position_key, 8), record);
      stream_key.assign(ne.stream_id);
      stream_key.push_back('\0');
      stream_key.append(8, '\0');
      SetBE64(stream_key.data() + stream_key.size() - 8, version);
      wb.Put(streams_cf(), stream_key, rocksdb::Slice(position_key, 8));
      if (hooked) {
        RecordedEvent e;
        e.position = p;
        e.stream_id = std::move(ne.stream_id);
        e.version = version;
        e.type = std::move(ne.type);
        e.occurred_at = std::move(ne.occurred_at);
        e.recorded_at = now;
        e.actor = std::move(ne.actor);
        e.command_id = req.command_id;
        e.payload_json = std::move(ne.payload_json);
        e.prev_hash = event_prev;
        e.hash = h;
        recorded.push_back(std::move(e));
      }
      ++p;
    }
    if (build.ok()) {
      result.last_position = p - 1;
      wb.Put(commands_cf(), req.command_id, EncodeAppendResult(result));
      for (CommitHook* hook : options_.hooks) {
        build = hook->OnEvents(recorded, aux);
        if (!build.ok()) {
          build = build.WithContext("commit hook " + hook->Name());
          break;
        }
        aux.Put(kHookPrefix + hook->Name(), BE64(result.last_position));
      }
      if (build.ok() && !aux.status().ok()) build = FromRocks(aux.status(), "commit hook write");
    }
    if (!build.ok()) {
      aux.RollbackToSavePoint();
      w->status = build;
      finished_now.push_back(w);
      continue;
    }
    aux.PopSavePoint();
    pos = p;
    prev = h;
    for (const auto& sv : local_versions) stream_cache_[sv.stream_id] = sv.version;
    w->result = std::move(result);
    group_commands[req.command_id] = &w->result;
    group.writers.push_back(w);
    group.command_ids.push_back(req.command_id);
  }

  for (Writer* w : finished_now) Complete(w);
  if (group.writers.empty()) return;

  // Pipelining pays only when a sync is under way or other appenders are
  // coming. When nothing is syncing and this group with the groups already
  // waiting for the syncer holds every appender in the store (the syncer's
  // linger would end now), the committer takes those groups and syncs them
  // with its own: the sync covers everything written before it, and the
  // syncer's wake-up and thread switch are saved on every such round. Only
  // while few appenders are in the store (StoreOptions::
  // inline_sync_max_appenders): with many, the committer's inline sync holds
  // them all in one cohort, which costs latency for no throughput.
  bool inline_sync = !options_.pipelined_commit;
  std::deque<Group> earlier;  // written before this group, synced with it
  // Only a group that writes can sync inline: the sync is its Write's. A group
  // of duplicates alone writes nothing, and its duplicates of commands still in
  // flight (and the groups in sync_queue_) must not be acknowledged without
  // a sync; it goes to the syncer like any other. An asynchronous caller's
  // commit never syncs inline (see Commit).
  if (!inline_sync && may_sync_inline && !group_commands.empty()) {
    std::lock_guard<std::mutex> l(sync_mu_);
    const int active = active_.load(std::memory_order_relaxed);
    inline_sync = !syncing_ && active <= options_.inline_sync_max_appenders &&
                  sync_queue_writers_ + static_cast<int>(group.writers.size()) >= active;
    if (inline_sync) {
      earlier.swap(sync_queue_);
      sync_queue_writers_ = 0;
      sync_wake_owed_ = false;
      syncing_ = true;  // the syncer, if it wakes, finds nothing to sync
    }
  }
  // Ends the inline sync: acknowledges the earlier groups (with `s`) and hands
  // the syncer back its role.
  auto finish_earlier = [&](const Status& s) {
    if (!options_.pipelined_commit || !inline_sync) return;
    for (Group& g : earlier) FinishGroup(g, s);
    std::lock_guard<std::mutex> l(sync_mu_);
    syncing_ = false;
  };
  if (!group_commands.empty()) {
    rocksdb::WriteOptions wo;
    wo.sync = inline_sync;
    rocksdb::Status ws;
    // Timed only for an inline sync (GetCommitStats): groups written for the
    // syncer, most of them, do not read the clock.
    const auto write_start = inline_sync ? std::chrono::steady_clock::now()
                                         : std::chrono::steady_clock::time_point();
    {
      std::lock_guard<std::mutex> wl(write_mu_);
      ws = db_->Write(wo, &wb);
    }
    if (!ws.ok()) {
      Status err = FromRocks(ws, "writing events");
      SetBackgroundError(err);
      stream_cache_.clear();
      finish_earlier(BackgroundError());
      FinishGroup(group, BackgroundError());
      return;
    }
    if (inline_sync) CountSync(write_start, earlier, &group);
    next_position_ = pos;
    last_hash_ = prev;
    last_recorded_at_ = now;
    std::lock_guard<std::mutex> l(inflight_mu_);
    for (auto& [c, r] : group_commands) inflight_.emplace(c, r);
  }
  group.last_position = next_position_ - 1;
  group.last_hash = last_hash_;
  if (!inline_sync) {
    bool more;  // appenders waiting for this committer: the round goes on
    {
      std::lock_guard<std::mutex> l(mu_);
      more = !queue_.empty();
    }
    bool wake = false;  // the syncer, once sync_mu_ is released (as in Commit)
    {
      std::lock_guard<std::mutex> l(sync_mu_);
      sync_queue_writers_ += static_cast<int>(group.writers.size());
      group.behind_sync = syncing_;
      sync_queue_.push_back(std::move(group));
      // Wake the syncer only when it has something to start on or stops
      // lingering for this group (see SyncerLoop); otherwise every group
      // written during a linger cost it a wake-up and a thread switch. It
      // wakes at the linger's deadline anyway. A first group with more
      // appenders queued behind it wakes it only when this committer gives up
      // the role (see Commit): the round may well end in an inline sync.
      if (sync_queue_writers_ >= active_.load(std::memory_order_relaxed)) {
        sync_wake_owed_ = false;
        wake = true;
      } else if (sync_queue_.size() == 1) {
        if (more) {
          sync_wake_owed_ = true;
        } else {
          sync_wake_owed_ = false;
          wake = true;
        }
      }
    }
    if (wake) sync_cv_.notify_one();
  } else {
    finish_earlier(Status::OK());
    FinishGroup(group, Status::OK());
  }
}

void EventStoreImpl::SyncerLoop() {
  for (;;) {
    std::deque<Group> groups;
    {
      std::unique_lock<std::mutex> l(sync_mu_);
      sync_cv_.wait(l, [&] { return sync_stopping_ || !sync_queue_.empty(); });
      if (sync_queue_.empty() && sync_stopping_) break;
      // Linger while appenders in the store are still on their way to the
      // committer: one fsync then covers them as well.
      // Not when the first group was written during the last sync: its
      // appenders have waited one sync already, and the disk would sit idle
      // while they wait for the appenders that sync has just released.
      auto deadline = std::chrono::steady_clock::now() + kLinger;
      // (The queue may empty meanwhile: see the check below.)
      while (!sync_queue_.empty() && !sync_queue_.front().behind_sync && !sync_stopping_ &&
             sync_queue_writers_ < active_.load(std::memory_order_relaxed) &&
             sync_cv_.wait_until(l, deadline) != std::cv_status::timeout) {
      }
      // A committer may have synced them inline meanwhile (see ProcessGroup).
      if (sync_queue_.empty()) continue;
      groups.swap(sync_queue_);
      sync_queue_writers_ = 0;
      syncing_ = true;
    }
    // Every group taken was written before this call, so one sync covers all.
    // After a failure nothing later may be acknowledged, even if a sync succeeds.
    Status st = BackgroundError();
    const auto sync_start = std::chrono::steady_clock::now();
    rocksdb::Status s = st.ok() ? db_->FlushWAL(/*sync=*/true) : rocksdb::Status::OK();
    if (!s.ok()) {
      st = FromRocks(s, "syncing the write-ahead log");
      SetBackgroundError(st);
      st = BackgroundError();
    } else if (st.ok()) {
      CountSync(sync_start, groups, nullptr);
    }
    // The disk idles while this runs: about 100 us per sync at 16 appenders,
    // most of it because the first appender woken preempts this thread (in
    // about half the syncs). Measured and not kept (2026-12-07, store_bench,
    // interleaved pairs): the first appender woken waking the rest of its
    // group; a short EEVDF slice (sched_setattr) for this thread; in Commit,
    // waking the handed-role appender before this thread. None beat the
    // noise. A second syncer taking the next sync while this one wakes was
    // worse: the idle gap closed, but groups shrank from 8 to 7 appenders
    // and involuntary switches rose by about 45%.
    for (Group& g : groups) FinishGroup(g, st);
    std::lock_guard<std::mutex> l(sync_mu_);
    syncing_ = false;
  }
}

void EventStoreImpl::FinishGroup(Group& g, const Status& s) {
  if (s.ok()) {
    {
      std::lock_guard<std::mutex> l(durable_mu_);
      if (g.last_position > durable_head_.load()) {
        durable_hash_ = g.last_hash;
        durable_head_.store(g.last_position, std::memory_order_release);
      }
    }
    durable_cv_.notify_all();  // after the unlock, as in Commit
  }
  {
    std::lock_guard<std::mutex> l(inflight_mu_);
    for (const auto& c : g.command_ids) inflight_.erase(c);
  }
  for (Writer* w : g.writers) {
    if (!s.ok()) w->status = s;
    Complete(w);
  }
}

Result<uint64_t> EventStoreImpl::StreamVersion(const std::string& stream_id) {
  RETURN_IF_ERROR(CheckId(stream_id, "stream id", "stream_id"));
  return LookupStreamVersion(stream_id, true);
}

Status EventStoreImpl::ReadEventAt(uint64_t position, RecordedEvent* e) {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), events_cf(), envelope::PositionKey(position), &value);
  if (!s.ok()) return FromRocks(s, "reading event " + std::to_string(position));
  return envelope::Decode(value, e);
}

Result<std::vector<RecordedEvent>> EventStoreImpl::ReadStream(const std::string& stream_id,
                                                              uint64_t from_version,
                                                              size_t max_count) {
  RETURN_IF_ERROR(CheckId(stream_id, "stream id", "stream_id"));
  std::vector<RecordedEvent> out;
  uint64_t head = DurableHead();
  std::string prefix = stream_id;
  prefix.push_back('\0');
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;  // see the streams family's prefix extractor
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, streams_cf()));
  for (it->Seek(StreamKey(stream_id, std::max<uint64_t>(from_version, 1)));
       it->Valid() && it->key().starts_with(prefix) && out.size() < max_count; it->Next()) {
    uint64_t pos = envelope::DecodePositionKey(std::string_view(it->value().data(), 8));
    if (pos > head) break;
    RecordedEvent e;
    RETURN_IF_ERROR(ReadEventAt(pos, &e));
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading stream '" + stream_id + "'");
  return out;
}

Status EventStoreImpl::ScanLog(uint64_t from_position,
                               const std::function<bool(const RecordedEvent&)>& visitor) {
  uint64_t head = DurableHead();
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  std::string upper = envelope::PositionKey(head + 1);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf()));
  RecordedEvent e;
  uint64_t last = 0;
  for (it->Seek(envelope::PositionKey(std::max<uint64_t>(from_position, 1))); it->Valid(); it->Next()) {
    RETURN_IF_ERROR(envelope::Decode(std::string_view(it->value().data(), it->value().size()), &e));
    last = e.position;
    if (!visitor(e)) return Status::OK();
  }
  if (!it->status().ok()) return FromRocks(it->status(), ScanFailure(from_position, last));
  return Status::OK();
}

Status EventStoreImpl::ScanLogRaw(uint64_t from_position,
                                  const std::function<bool(const EventView&)>& visitor) {
  uint64_t head = DurableHead();
  if (from_position > head) return Status::OK();
  // One sequential pass over the log: large reads ahead of the iterator, and
  // no block cache fill (the blocks will not be read again soon, and would
  // evict what point reads need).
  rocksdb::ReadOptions ro;
  ro.readahead_size = options_.log_scan_readahead_bytes;
  ro.fill_cache = false;
  std::string upper = envelope::PositionKey(head + 1);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf()));
  EventView v;
  uint64_t last = 0;  // the last event handed over, for an error's message
  for (it->Seek(envelope::PositionKey(std::max<uint64_t>(from_position, 1))); it->Valid(); it->Next()) {
    RETURN_IF_ERROR(envelope::DecodeView(std::string_view(it->value().data(), it->value().size()), &v));
    last = v.position;
    if (!visitor(v)) return Status::OK();
  }
  if (!it->status().ok()) return FromRocks(it->status(), ScanFailure(from_position, last));
  return Status::OK();
}

Result<VerifyReport> EventStoreImpl::VerifyRange(uint64_t after, Hash prev,
                                                std::optional<std::pair<uint64_t, Hash>> expected_head) {
  VerifyReport report;
  report.events = after;
  report.head = prev;
  // A writing process verifies what is durable; a read-only one, all it sees.
  rocksdb::ReadOptions ro;
  std::string upper = envelope::PositionKey(DurableHead() + 1);
  rocksdb::Slice upper_slice(upper);
  if (!options_.read_only) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf()));
  uint64_t expect = after + 1;
  RecordedEvent e;
  auto fail = [&](uint64_t pos, std::string why) {
    report.ok = false;
    report.bad_position = pos;
    report.reason = std::move(why);
  };
  // From the very first key for a full walk, so nothing placed before position 1 is missed.
  if (after == 0) it->SeekToFirst();
  else it->Seek(envelope::PositionKey(expect));
  for (; it->Valid(); it->Next(), ++expect) {
    if (it->key().size() != 8) {
      fail(expect, "a key in the event log is not a position");
      break;
    }
    uint64_t key = envelope::DecodePositionKey(std::string_view(it->key().data(), 8));
    if (key != expect) {
      fail(expect, key > expect ? "event " + std::to_string(expect) + " is missing (next key is " +
                                      std::to_string(key) + ")"
                                : "unexpected key " + std::to_string(key));
      break;
    }
    std::string_view stored(it->value().data(), it->value().size());
    Status ds = envelope::Decode(stored, &e);
    if (!ds.ok()) {
      fail(expect, ds.message());
      break;
    }
    if (e.position != key) {
      fail(expect, "the event stored at position " + std::to_string(key) + " says it is position " +
                       std::to_string(e.position) + " (events moved or reordered)");
      break;
    }
    if (e.prev_hash != prev) {
      fail(expect, "its previous-hash does not match the hash of event " + std::to_string(key - 1));
      break;
    }
    Hash h = envelope::Sha256(envelope::EnvelopeOf(stored));
    if (h != e.hash) {
      fail(expect, "its content does not match its hash (the event was altered)");
      break;
    }
    prev = h;
    report.events = key;
    report.head = h;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the log");
  if (report.ok && expected_head) {
    auto [pos, hash] = *expected_head;
    if (report.events < pos) {
      fail(report.events + 1, "the log ends at position " + std::to_string(report.events) +
                                  " but the kept head is position " + std::to_string(pos) +
                                  " (events were truncated)");
    } else if (pos > 0) {
      RecordedEvent at;
      // A read that fails is the disk's fault, not a rewritten log: say so
      // rather than report the chain broken.
      RETURN_IF_ERROR(ReadEventAt(pos, &at));
      if (at.hash != hash) fail(pos, "the hash at position " + std::to_string(pos) + " differs from the kept head");
    }
  }
  return report;
}

Result<std::optional<std::string>> EventStoreImpl::GetAux(const std::string& key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), aux_cf(), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "reading aux key " + PrintableKey(key));
  return std::optional<std::string>(std::move(value));
}

Status EventStoreImpl::ScanAux(const std::string& prefix,
                               const std::function<bool(const std::string&, const std::string&)>& v) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), aux_cf()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    if (!v(it->key().ToString(), it->value().ToString())) break;
  return FromRocks(it->status(), "scanning aux keys");
}

Status EventStoreImpl::ScanAuxRange(const std::string& begin, const std::string& end,
                                    const std::function<bool(const std::string&, const std::string&)>& v) {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, aux_cf()));
  for (it->Seek(begin); it->Valid(); it->Next())
    if (!v(it->key().ToString(), it->value().ToString())) break;
  return FromRocks(it->status(), "scanning aux keys");
}

Status EventStoreImpl::WriteAux(const AuxBatch& batch, bool sync) {
  if (options_.read_only) return Status::ReadOnly("the store is open read-only");
  rocksdb::WriteBatch wb;
  for (const auto& [k, v] : batch.ops) {
    if (v) wb.Put(aux_cf(), k, *v);
    else wb.Delete(aux_cf(), k);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::lock_guard<std::mutex> w(write_mu_);
  return FromRocks(db_->Write(wo, &wb), "writing aux keys");
}

Result<uint64_t> EventStoreImpl::SubscriptionCheckpoint(const std::string& name) {
  auto read = GetAux(kSubPrefix + name);
  if (!read.ok()) return read.status().WithContext("reading the checkpoint of subscription " + name);
  const auto& v = *read;
  if (!v || v->size() != 8) return uint64_t{0};
  return envelope::DecodePositionKey(*v);
}

Result<std::unique_ptr<Subscription>> EventStoreImpl::Subscribe(const std::string& name,
                                                                SubscriptionHandler handler,
                                                                const SubscribeOptions& options) {
  if (options_.read_only) return Status::ReadOnly("subscriptions need a writable store");
  RETURN_IF_ERROR(CheckId(name, "subscription name", "name"));
  if (options.retry_first_micros < 0 || options.retry_max_micros < 0)
    return Status::InvalidArgument("subscription '" + name + "': retry waits must be >= 0 (0 for the store's), not " +
                                       std::to_string(options.retry_first_micros) + " and " +
                                       std::to_string(options.retry_max_micros),
                                   "retry_first_micros");
  ASSIGN_OR_RETURN(uint64_t cp, SubscriptionCheckpoint(name));
  const int64_t first =
      options.retry_first_micros > 0 ? options.retry_first_micros : options_.subscription_retry_first_micros;
  const int64_t max = options.retry_max_micros > 0 ? options.retry_max_micros : options_.subscription_retry_max_micros;
  return std::unique_ptr<Subscription>(new SubscriptionImpl(this, name, std::move(handler),
                                                            std::max<size_t>(options.max_batch, 1), cp, first, max));
}

void SubscriptionImpl::Run() {
  std::vector<RecordedEvent> batch;
  int64_t backoff = retry_first_micros_;
  while (!stop_.load()) {
    uint64_t cp = checkpoint_.load();
    uint64_t head = store_->WaitForHead(cp + 1, 50000);
    if (head <= cp) continue;
    batch.clear();
    Status s = store_->ScanLog(cp + 1, [&](const RecordedEvent& e) {
      batch.push_back(e);
      return batch.size() < max_batch_;
    });
    AuxBatch aux;
    if (s.ok() && !batch.empty()) s = handler_(batch, aux);
    if (s.ok() && !batch.empty()) {
      aux.Put(kSubPrefix + name_, BE64(batch.back().position));
      s = store_->WriteAux(aux, true);
    }
    std::unique_lock<std::mutex> l(mu_);
    if (s.ok()) {
      if (!batch.empty()) checkpoint_.store(batch.back().position);
      status_ = Status::OK();
      failures_ = 0;
      backoff = retry_first_micros_;
      cv_.notify_all();
      continue;
    }
    // Nothing of the batch is checkpointed: the retry reads it again from
    // the checkpoint, so a fault costs time and never an event.
    status_ = s.WithContext("subscription " + name_);
    ++failures_;
    cv_.notify_all();
    cv_.wait_for(l, std::chrono::microseconds(backoff), [&] { return stop_.load(); });
    backoff = std::min(backoff * 2, retry_max_micros_);
  }
}

}  // namespace

Result<std::unique_ptr<EventStore>> EventStore::Open(const StoreOptions& options) {
  if (options.path.empty())
    return Status::InvalidArgument("no data directory given; pass --data DIR", "path");
  auto store = std::make_unique<EventStoreImpl>(options);
  RETURN_IF_ERROR(store->Init());
  for (CommitHook* hook : options.hooks) hook->Attach(store.get());
  return std::unique_ptr<EventStore>(std::move(store));
}

}  // namespace xiaohao
