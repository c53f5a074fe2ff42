// FaultInjectionEnv: a file system that fails on command, for tests of what
// the store does when the disk does not (LevelDB db/fault_injection_test.cc).
// Built on RocksDB's FileSystemWrapper (Debian does not package RocksDB's own
// fault-injection file system), over the real file system or an in-memory one.
//
// Thread-safe: faults may be switched while the store runs.
#ifndef XIAOHAO_STORE_FAULT_INJECTION_H_
#define XIAOHAO_STORE_FAULT_INJECTION_H_

#include <cstdint>
#include <memory>

namespace rocksdb {
class Env;
}

namespace xiaohao {

class FaultInjectionEnv {
 public:
  // in_memory: over NewMemEnv (nothing touches the disk); else the real disk.
  static std::unique_ptr<FaultInjectionEnv> Create(bool in_memory);
  virtual ~FaultInjectionEnv() = default;

  // Pass to StoreOptions::env. Owned by this object.
  virtual rocksdb::Env* env() = 0;

  virtual void SetSyncFails(bool fail) = 0;       // fsync/fdatasync return EIO
  virtual void SetNoSpace(bool full) = 0;         // appends to files return ENOSPC
  virtual void SetWritesFail(bool fail) = 0;      // appends return EIO
  virtual void SetCreateFails(bool fail) = 0;     // new files cannot be created (read-only dir)
  // The next `n` reads of any file succeed and every later one returns EIO,
  // until called again; n < 0 (the default) fails none. A bad sector met in
  // the middle of a scan: arm it after reads() of a clean run to fail part-way.
  virtual void SetReadsFailAfter(int64_t n) = 0;
  virtual int64_t reads() const = 0;              // reads served (not failed) so far
  virtual int injected_faults() const = 0;        // how many calls were failed so far
};

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_FAULT_INJECTION_H_
