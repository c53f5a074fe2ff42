#include "store/fault_injection.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>

namespace xiaohao {
namespace {

struct Faults {
  std::atomic<bool> sync_fails{false};
  std::atomic<bool> no_space{false};
  std::atomic<bool> writes_fail{false};
  std::atomic<bool> create_fails{false};
  std::atomic<int> injected{0};

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
    auto s = target()->NewWritableFile(f, o, &inner, dbg);
    if (s.ok()) r->reset(new FaultyFile(std::move(inner), faults_));
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = target()->ReopenWritableFile(f, o, &inner, dbg);
    if (s.ok()) r->reset(new FaultyFile(std::move(inner), faults_));
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = target()->ReuseWritableFile(f, old, o, &inner, dbg);
    if (s.ok()) r->reset(new FaultyFile(std::move(inner), faults_));
    return s;
  }

 private:
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
