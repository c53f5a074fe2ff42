// The store's write-ahead log files: cheaper syncs, and a recovery rule that
// keeps them safe.
//
// Why: every acknowledged append waits for one fdatasync of RocksDB's WAL.
// On ext4, a sync after appending to a file that grows must also commit the
// new size through the journal: ~190 us on this disk, against ~110 us for a
// sync of blocks that were already allocated and written (shared/
// PERFORMANCE.md, "rewrite"; `store_bench --fsync-probe`). The sync is most of
// a commit round, so NewZeroAheadWalFileSystem keeps each WAL file written
// with zeros some MiB ahead of RocksDB's writer, from a background thread, and
// the committer's syncs flush data blocks only. RocksDB's own way to this,
// recycle_log_file_num, needs kSkipAnyCorruptedRecords in 7.8.3, which may
// skip records in the middle of the log: not acceptable for this record.
//
// What that changes on a crash, and how it is closed:
// - After a crash, pages written since the last sync may be lost in any
//   order, and pages overwritten in place carry no order at all: an unsynced
//   page may read as zeros while a later unsynced page holds records.
//   RocksDB's log reader skips a zeroed block silently (it takes it for
//   preallocation), so it would replay the later records over a hole.
// - WalContinuityFilter stops replay at the first batch whose sequence number
//   does not follow the batch before it. Everything after a hole was never
//   acknowledged (an acknowledgement needs a sync, and a sync covers the hole
//   as well), so what is dropped was never promised.
// - That check needs a batch before the hole. Replay always begins with the
//   first record of a WAL file, so the first append to each new WAL file is
//   synced before it returns: nothing is written after it until it is on disk.
#ifndef XIAOHAO_STORE_WAL_H_
#define XIAOHAO_STORE_WAL_H_

#include <cstdint>
#include <memory>
#include <string>

#include <rocksdb/wal_filter.h>

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace xiaohao {

// A file system that passes everything to `base` except RocksDB WAL files
// ("<number>.log"), which it writes zeros ahead of as described above.
// Other files and every read are untouched. Thread-safe.
std::shared_ptr<rocksdb::FileSystem> NewZeroAheadWalFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base);

// Tuning of the zero-ahead, for tests. Sizes in bytes.
struct ZeroAheadOptions {
  uint64_t first_step = 1 << 20;   // the first extension; each next one doubles
  uint64_t max_step = 16 << 20;    // up to this
  uint64_t lead = 256 << 10;       // an extension starts this far past the writer
};
std::shared_ptr<rocksdb::FileSystem> NewZeroAheadWalFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base, const ZeroAheadOptions& options);

// True for the names RocksDB gives WAL files ("000012.log"), with any directory.
bool IsWalFileName(const std::string& path);

// A WAL filter for one DB::Open (it keeps state across the replay; make a
// new one per open): stops replay at the first batch whose sequence number
// does not follow its predecessor's. After Open, stopped() says whether it did
// and why() where. Not thread-safe: RocksDB replays on one thread.
class WalContinuityFilter final : public rocksdb::WalFilter {
 public:
  WalProcessingOption LogRecordFound(unsigned long long log_number,
                                     const std::string& log_file_name,
                                     const rocksdb::WriteBatch& batch,
                                     rocksdb::WriteBatch* new_batch,
                                     bool* batch_changed) override;
  const char* Name() const override { return "XiaohaoWalContinuity"; }

  bool stopped() const { return stopped_; }
  const std::string& why() const { return why_; }
  uint64_t batches() const { return batches_; }  // replayed

 private:
  bool have_next_ = false;
  uint64_t next_sequence_ = 0;
  uint64_t batches_ = 0;
  bool stopped_ = false;
  std::string why_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_WAL_H_
