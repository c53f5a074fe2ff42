#include "store/fault_injection.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <functional>

namespace xiaohao {
namespace {

struct Faults {
  std::atomic<bool> sync_fails{false};
  std::atomic<bool> no_space{false};
  std::atomic<bool> writes_fail{false};
  std::atomic<bool> create_fails{false};
  std::atomic<int> injected{0};
  // Reads left before they fail; negative: none fails. Counted down by every
  // read, so that a run can be cut at any read of its sequence.
  std::atomic<int64_t> reads_left{-1};
  std::atomic<int64_t> reads{0};

  rocksdb::IOStatus OnRead() {
    int64_t left = reads_left.load();
    while (left > 0 && !reads_left.compare_exchange_weak(left, left - 1)) {
    }
    if (left == 0) {
      ++injected;
      return rocksdb::IOStatus::IOError("injected: read failed (bad sector)");
    }
    ++reads;
    return rocksdb::IOStatus::OK();
  }

  rocksdb::IOStatus OnAppend() {
    if (no_space.load()) {
      ++injected;
      return rocksdb::IOStatus::NoSpace("injected: no space left on device");
    }
    if (writes_fail.load()) {
      ++injected;
      return rocksdb::IOStatus::IOError("injected: write failed");
    }
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus OnSync() {
    if (sync_fails.load()) {
      ++injected;
      return rocksdb::IOStatus::IOError("injected: fsync failed");
    }
    return rocksdb::IOStatus::OK();
  }
};

class FaultyFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyFile(std::unique_ptr<rocksdb::FSWritableFile>&& f, Faults* faults)
      : FSWritableFileOwnerWrapper(std::move(f)), faults_(faults) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    auto s = faults_->OnAppend();
    return s.ok() ? target()->Append(data, o, dbg) : s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    auto s = faults_->OnAppend();
    return s.ok() ? target()->Append(data, o, info, dbg) : s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    auto s = faults_->OnSync();
    return s.ok() ? target()->Sync(o, dbg) : s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    auto s = faults_->OnSync();
    return s.ok() ? target()->Fsync(o, dbg) : s;
  }
  rocksdb::IOStatus RangeSync(uint64_t off, uint64_t n, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    auto s = faults_->OnSync();
    return s.ok() ? target()->RangeSync(off, n, o, dbg) : s;
  }

 private:
  Faults* faults_;
};

class FaultyRandomAccessFile final : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  FaultyRandomAccessFile(std::unique_ptr<rocksdb::FSRandomAccessFile>&& f, Faults* faults)
      : FSRandomAccessFileOwnerWrapper(std::move(f)), faults_(faults) {}
  rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& o, rocksdb::Slice* result,
                         char* scratch, rocksdb::IODebugContext* dbg) const override {
    auto s = faults_->OnRead();
    return s.ok() ? target()->Read(offset, n, o, result, scratch, dbg) : s;
  }
  rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    // One read per request, as the base class does it, each through Read.
    for (size_t i = 0; i < num_reqs; ++i)
      reqs[i].status = Read(reqs[i].offset, reqs[i].len, o, &reqs[i].result, reqs[i].scratch, dbg);
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus ReadAsync(rocksdb::FSReadRequest& req, const rocksdb::IOOptions& o,
                              std::function<void(const rocksdb::FSReadRequest&, void*)> cb, void* cb_arg,
                              void** io_handle, rocksdb::IOHandleDeleter* del_fn, rocksdb::IODebugContext* dbg) override {
    // Synchronously, through Read (what FSRandomAccessFile's default does).
    *io_handle = nullptr;
    *del_fn = nullptr;
    req.status = Read(req.offset, req.len, o, &req.result, req.scratch, dbg);
    cb(req, cb_arg);
    return rocksdb::IOStatus::OK();
  }

 private:
  Faults* faults_;
};

class FaultySequentialFile final : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  FaultySequentialFile(std::unique_ptr<rocksdb::FSSequentialFile>&& f, Faults* faults)
      : FSSequentialFileOwnerWrapper(std::move(f)), faults_(faults) {}
  rocksdb::IOStatus Read(size_t n, const rocksdb::IOOptions& o, rocksdb::Slice* result, char* scratch,
                         rocksdb::IODebugContext* dbg) override {
    auto s = faults_->OnRead();
    return s.ok() ? target()->Read(n, o, result, scratch, dbg) : s;
  }
  rocksdb::IOStatus PositionedRead(uint64_t offset, size_t n, const rocksdb::IOOptions& o,
                                   rocksdb::Slice* result, char* scratch, rocksdb::IODebugContext* dbg) override {
    auto s = faults_->OnRead();
    return s.ok() ? target()->PositionedRead(offset, n, o, result, scratch, dbg) : s;
  }

 private:
  Faults* faults_;
};

class FaultyFs final : public rocksdb::FileSystemWrapper {
 public:
  FaultyFs(const std::shared_ptr<rocksdb::FileSystem>& base, Faults* faults)
      : FileSystemWrapper(base), faults_(faults) {}
  const char* Name() const override { return "XiaohaoFaultInjectionFs"; }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (faults_->create_fails.load()) {
      ++faults_->injected;
      return rocksdb::IOStatus::IOError("injected: cannot create " + f + ": read-only file system");
    }
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    return Wrapped<FaultyFile>(target()->NewWritableFile(f, o, &inner, dbg), &inner, r);
  }
  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSRandomAccessFile> inner;
    return Wrapped<FaultyRandomAccessFile>(target()->NewRandomAccessFile(f, o, &inner, dbg), &inner, r);
  }
  rocksdb::IOStatus NewSequentialFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSSequentialFile> inner;
    return Wrapped<FaultySequentialFile>(target()->NewSequentialFile(f, o, &inner, dbg), &inner, r);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    return Wrapped<FaultyFile>(target()->ReopenWritableFile(f, o, &inner, dbg), &inner, r);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    return Wrapped<FaultyFile>(target()->ReuseWritableFile(f, old, o, &inner, dbg), &inner, r);
  }

 private:
  // The file the target opened, if it did, behind a Faulty wrapper.
  template <class Faulty, class File>
  rocksdb::IOStatus Wrapped(rocksdb::IOStatus s, std::unique_ptr<File>* inner, std::unique_ptr<File>* r) {
    if (s.ok()) r->reset(new Faulty(std::move(*inner), faults_));
    return s;
  }
  Faults* faults_;
};

class FaultInjectionEnvImpl final : public FaultInjectionEnv {
 public:
  explicit FaultInjectionEnvImpl(bool in_memory) {
    std::shared_ptr<rocksdb::FileSystem> base;
    if (in_memory) {
      mem_env_.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
      base = mem_env_->GetFileSystem();
    } else {
      base = rocksdb::FileSystem::Default();
    }
    fs_ = std::make_shared<FaultyFs>(base, &faults_);
    env_ = rocksdb::NewCompositeEnv(fs_);
  }
  rocksdb::Env* env() override { return env_.get(); }
  void SetSyncFails(bool f) override { faults_.sync_fails = f; }
  void SetNoSpace(bool f) override { faults_.no_space = f; }
  void SetWritesFail(bool f) override { faults_.writes_fail = f; }
  void SetCreateFails(bool f) override { faults_.create_fails = f; }
  void SetReadsFailAfter(int64_t n) override { faults_.reads_left = n < 0 ? -1 : n; }
  int64_t reads() const override { return faults_.reads.load(); }
  int injected_faults() const override { return faults_.injected.load(); }

 private:
  Faults faults_;
  std::unique_ptr<rocksdb::Env> mem_env_;
  std::shared_ptr<rocksdb::FileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

}  // namespace

std::unique_ptr<FaultInjectionEnv> FaultInjectionEnv::Create(bool in_memory) {
  return std::make_unique<FaultInjectionEnvImpl>(in_memory);
}

}  // namespace xiaohao
