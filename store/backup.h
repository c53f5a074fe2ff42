// Backup of an event store that a writer may be using at the same time.
//
// Contract
// - BackupStore opens `source` read-only beside its writer (RocksDB lets a
//   read-only instance open a directory whose LOCK another process holds),
//   which fixes one view: the table files, held open from then on, and the
//   write-ahead log replayed up to its last whole record. Every append is one
//   WriteBatch, so the view is a prefix of the log made of whole appends
//   together with the auxiliary keys (projections, deadline index, hook and
//   subscription checkpoints) written in the same batches: never half a
//   commit. It holds at least every append acknowledged before the call and
//   possibly appends written but not yet acknowledged (their sync was in
//   flight); it never holds an event the writer will not also keep, unless
//   the writer's sync fails.
// - The view is copied key by key, every column family, into a new store at
//   `dest` (which must not exist), synced, then opened again and its whole
//   chain verified. Nothing in `source` is written.
// - The copy is a logical one rather than RocksDB's Checkpoint or
//   BackupEngine: both need DisableFileDeletions, which a read-only instance
//   cannot ask of the writer, so the writer could delete a table file or
//   rotate its log in the middle of a file copy. A read-only instance that has
//   already opened every file cannot be disturbed that way.
// - `dest` is an ordinary data directory: `xiaohao verify --data DEST` and the
//   read-only commands work on it directly.
//
// Thread safety: the functions share no state; call them from any thread.
#ifndef XIAOHAO_STORE_BACKUP_H_
#define XIAOHAO_STORE_BACKUP_H_

#include <cstdint>
#include <string>

#include "store/event_store.h"
#include "store/status.h"

namespace xiaohao {

struct BackupReport {
  uint64_t keys = 0;       // key/value pairs copied, all column families
  uint64_t bytes = 0;      // their total size
  VerifyReport verified;   // the copy's chain (verified.ok false: the source's chain is broken too)
};

// REQUIRES: `dest` does not exist; its parent directory does. On error
// `dest` is removed again (nothing half-written is left behind).
Result<BackupReport> BackupStore(const std::string& source, const std::string& dest);

// Copies the files of a store nobody has open (a backup) into `dest`, which
// must not exist, fsyncing each file and the directory. Restoring is this
// copy followed by a verification of the result.
Status CopyClosedStore(const std::string& source, const std::string& dest);

// True for the names RocksDB gives its own files in a data directory (tables,
// logs, MANIFEST, CURRENT, LOCK, OPTIONS, info logs). The other files of a
// data directory (users.json, outboxes) belong to the layers above.
bool IsStoreFileName(const std::string& name);

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_BACKUP_H_
