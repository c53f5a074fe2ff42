#include "store/wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <rocksdb/file_system.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

namespace xiaohao {

bool IsWalFileName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string_view base(path);
  if (slash != std::string::npos) base.remove_prefix(slash + 1);
  constexpr std::string_view kSuffix = ".log";
  if (base.size() <= kSuffix.size() || base.substr(base.size() - kSuffix.size()) != kSuffix)
    return false;
  base.remove_suffix(kSuffix.size());
  return std::all_of(base.begin(), base.end(), [](char c) { return c >= '0' && c <= '9'; });
}

namespace {

// One WAL file being written. RocksDB appends from one thread at a time; a
// worker thread of this file's own writes zeros ahead of it with pwrite on a
// second descriptor and fdatasyncs them, which commits the new size and
// allocation off the commit path.
//
// The two never write the same bytes: the writer reserves its range (offset_)
// before it writes, an extension starts at or past the reserved end, and a
// writer whose range would reach into the part of an extension not yet
// zeroed waits for the worker to pass it (ext_begin_ moves up a MiB at a
// time). Appends of a few KiB, the committer's, have `lead` bytes of room
// and do not wait.
class ZeroAheadWalFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  ZeroAheadWalFile(std::unique_ptr<rocksdb::FSWritableFile>&& f, const std::string& path,
                   const ZeroAheadOptions& options)
      : FSWritableFileOwnerWrapper(std::move(f)),
        options_(options),
        step_(AlignUp(std::max<uint64_t>(options.first_step, 1))) {
    // O_DIRECT: the zeros go to the disk without passing through the page
    // cache. Buffered zeros would be dirty pages of this file, and the
    // committer's next fdatasync would have to write them out first.
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT);
    read_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0 || read_fd_ < 0) disabled_ = true;  // (tmpfs, say) still a correct WAL file, only a growing one
  }

  ~ZeroAheadWalFile() override {
    StopExtending();
    if (fd_ >= 0) ::close(fd_);
    if (read_fd_ >= 0) ::close(read_fd_);
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    return Write(data.size(), o, dbg, [&] { return target()->Append(data, o, dbg); });
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    return Write(data.size(), o, dbg, [&] { return target()->Append(data, o, info, dbg); });
  }
  // Positioned writes and truncation are not how RocksDB writes a WAL without
  // direct I/O; should they come, the zero-ahead steps aside first.
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    StopExtending();
    return target()->PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    StopExtending();
    return target()->PositionedAppend(data, offset, o, info, dbg);
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
    StopExtending();
    return target()->Truncate(size, o, dbg);
  }
  // RocksDB's posix file trims what it preallocated past its size on close;
  // no zeros may be written after that.
  rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    StopExtending();
    return target()->Close(o, dbg);
  }

 private:
  rocksdb::IOStatus Write(uint64_t n, const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                          const std::function<rocksdb::IOStatus()>& append) {
    bool first;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return !inflight_ || offset_ + n <= ext_begin_; });
      first = !wrote_first_;
      wrote_first_ = true;
      offset_ += n;
      MaybeExtend();
    }
    rocksdb::IOStatus s = append();
    // The first append to a WAL file is synced before anything follows it, so
    // a replay that begins with this file begins with a record that is on
    // disk (see wal.h: the continuity check needs a batch before any hole).
    if (s.ok() && first) s = target()->Sync(o, dbg);
    return s;
  }

  // REQUIRES: mu_ held.
  void MaybeExtend() {
    if (disabled_ || stopping_ || inflight_) return;
    if (offset_ + options_.lead + step_ / 2 <= prepared_end_) return;
    ext_begin_ = AlignUp(std::max(prepared_end_, offset_ + options_.lead));
    ext_end_ = ext_begin_ + step_;
    inflight_ = true;
    if (worker_.joinable()) {
      cv_.notify_all();
      return;
    }
    try {
      worker_ = std::thread([this] { WorkerLoop(); });
    } catch (const std::system_error&) {
      // No thread to be had: carry on as a growing file; nobody may wait
      // for an extension that will not come.
      inflight_ = false;
      disabled_ = true;
    }
  }

  static uint64_t AlignUp(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

  void WorkerLoop() {
    // Aligned for O_DIRECT; offsets and lengths are multiples of kAlign too.
    constexpr size_t kChunk = 1 << 20;
    std::unique_ptr<char, decltype(&std::free)> zeros(
        static_cast<char*>(std::aligned_alloc(kAlign, kChunk)), &std::free);
    std::unique_ptr<char[]> scratch(new (std::nothrow) char[kChunk]);  // read-back target
    std::unique_lock<std::mutex> l(mu_);
    if (zeros == nullptr || scratch == nullptr) {
      // No memory for the buffers: give up the zero-ahead, and release a
      // writer that may be waiting for the extension it asked for.
      disabled_ = true;
      inflight_ = false;
      cv_.notify_all();
      return;
    }
    std::memset(zeros.get(), 0, kChunk);
    for (;;) {
      cv_.wait(l, [&] { return stopping_ || inflight_; });
      if (!inflight_) return;  // stopping, nothing to finish
      uint64_t at = ext_begin_;
      const uint64_t begin = at, end = ext_end_;
      l.unlock();
      bool ok = true;
      while (at < end) {
        if (stopping_.load()) { ok = false; break; }
        size_t len = static_cast<size_t>(std::min<uint64_t>(end - at, kChunk));
        ssize_t w = ::pwrite(fd_, zeros.get(), len, static_cast<off_t>(at));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0 || w % kAlign != 0) { ok = false; break; }
        at += static_cast<uint64_t>(w);
        // Hand the zeroed piece to the writer now: an append larger than the
        // room left (a WAL buffer of a MiB, a rebuild's chunk) waits for one
        // piece, not for the whole extension, its sync and its read-back,
        // while it holds RocksDB's WAL lock and the store's write lock.
        std::lock_guard<std::mutex> g(mu_);
        ext_begin_ = at;
        cv_.notify_all();
      }
      if (ok && ::fdatasync(fd_) != 0) ok = false;
      // Read the zeros back through the page cache. RocksDB writes the WAL in
      // pieces that start and end mid-page; a piece landing on a page that is
      // on disk but not in the cache makes write() read that page first
      // (~100 us, measured: it ate the whole gain). Clean cached pages cost
      // nothing to overwrite and nothing to the next fdatasync.
      for (uint64_t r = begin; ok && r < end && !stopping_.load();) {
        ssize_t got = ::pread(read_fd_, scratch.get(), static_cast<size_t>(std::min<uint64_t>(end - r, kChunk)),
                              static_cast<off_t>(r));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // only a speed-up; the zeros are on disk either way
        r += static_cast<uint64_t>(got);
      }
      l.lock();
      if (ok) {
        prepared_end_ = end;
        step_ = std::max(step_, AlignUp(std::min(step_ * 2, options_.max_step)));
      } else if (!stopping_) {
        disabled_ = true;  // a full disk, say: the writer's own appends will tell
      }
      inflight_ = false;
      cv_.notify_all();
      if (stopping_) return;
    }
  }

  void StopExtending() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
      disabled_ = true;
      cv_.notify_all();
    }
    if (worker_.joinable()) worker_.join();
  }

  static constexpr uint64_t kAlign = 4096;
  const ZeroAheadOptions options_;
  int fd_ = -1;       // O_DIRECT, for the zeros
  int read_fd_ = -1;  // buffered, to bring them into the page cache
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t offset_ = 0;        // GUARDED_BY(mu_): bytes the writer has reserved
  uint64_t prepared_end_ = 0;  // GUARDED_BY(mu_): zeros written and synced below this
  uint64_t step_;              // GUARDED_BY(mu_)
  uint64_t ext_begin_ = 0, ext_end_ = 0;  // GUARDED_BY(mu_): the extension under way
  bool inflight_ = false;      // GUARDED_BY(mu_)
  bool disabled_ = false;      // GUARDED_BY(mu_)
  bool wrote_first_ = false;   // GUARDED_BY(mu_)
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

class ZeroAheadFs final : public rocksdb::FileSystemWrapper {
 public:
  ZeroAheadFs(const std::shared_ptr<rocksdb::FileSystem>& base, const ZeroAheadOptions& options)
      : FileSystemWrapper(base), options_(options) {}
  const char* Name() const override { return "XiaohaoZeroAheadWalFs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok() && IsWalFileName(f) && !o.use_direct_writes && !o.use_mmap_writes)
      r->reset(new ZeroAheadWalFile(std::move(*r), f, options_));
    return s;
  }

 private:
  const ZeroAheadOptions options_;
};

uint64_t DecodeFixed64LE(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewZeroAheadWalFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base) {
  return NewZeroAheadWalFileSystem(std::move(base), ZeroAheadOptions());
}

std::shared_ptr<rocksdb::FileSystem> NewZeroAheadWalFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base, const ZeroAheadOptions& options) {
  return std::make_shared<ZeroAheadFs>(base, options);
}

// A WriteBatch's representation starts with its sequence number (fixed64,
// little-endian) and its count (fixed32): RocksDB's write_batch.cc, stable
// since LevelDB. Every write of the store goes through the WAL, so each
// batch's sequence is the previous one's plus its count.
rocksdb::WalFilter::WalProcessingOption WalContinuityFilter::LogRecordFound(
    unsigned long long log_number, const std::string& log_file_name,
    const rocksdb::WriteBatch& batch, rocksdb::WriteBatch* /*new_batch*/,
    bool* /*batch_changed*/) {
  if (stopped_) return WalProcessingOption::kStopReplay;
  const std::string& rep = batch.Data();
  if (rep.size() < 12) {
    stopped_ = true;
    why_ = "WAL " + log_file_name + ": a batch of " + std::to_string(rep.size()) +
           " bytes has no header";
    return WalProcessingOption::kStopReplay;
  }
  uint64_t sequence = DecodeFixed64LE(rep.data());
  if (have_next_ && sequence != next_sequence_) {
    stopped_ = true;
    why_ = "WAL " + log_file_name + " (#" + std::to_string(log_number) + "): batch " +
           std::to_string(batches_ + 1) + " has sequence " + std::to_string(sequence) +
           " where " + std::to_string(next_sequence_) +
           " was due; replay stopped before it (what follows a gap was never acknowledged)";
    return WalProcessingOption::kStopReplay;
  }
  have_next_ = true;
  next_sequence_ = sequence + batch.Count();
  ++batches_;
  return WalProcessingOption::kContinueProcessing;
}

}  // namespace xiaohao
