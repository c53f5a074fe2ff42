// Logical backup of a live store and file copy of a closed one (store/backup.h).
#include "store/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "store/wal.h"

namespace xiaohao {

namespace {

namespace fs = std::filesystem;

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsIOError() || s.IsNoSpace()) return Status::IOError(what + ": " + s.ToString());
  return Status::Internal(what + ": " + s.ToString());
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Owns an open RocksDB instance and its column family handles.
struct Db {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ~Db() {
    if (db == nullptr) return;
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    db->Close().PermitUncheckedError();
    delete db;
  }
};

Status CheckNewDirectory(const std::string& dest, const char* role) {
  std::error_code ec;
  if (dest.empty()) return Status::InvalidArgument(std::string(role) + " is empty; name a new directory");
  if (fs::exists(dest, ec))
    return Status::FailedPrecondition(std::string(role) + " '" + dest +
                                      "' already exists; name a directory that does not exist yet");
  fs::path parent = fs::absolute(dest, ec).parent_path();
  if (!fs::is_directory(parent, ec))
    return Status::NotFound("the parent directory '" + parent.string() + "' of " + role + " '" + dest +
                            "' does not exist; create it first");
  return Status::OK();
}

Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return Status::IOError(Errno("open " + path));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError(Errno("fsync " + path));
  return Status::OK();
}

Result<BackupReport> CopyView(const std::string& source, const std::string& dest) {
  rocksdb::Options opts;
  opts.create_if_missing = false;
  opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // As the writer recovers: up to the first torn record of the log tail.
  opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  opts.max_open_files = -1;  // every table file opened now, so the writer's deletions cannot touch the view

  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(opts, source, &names);
  if (!s.ok())
    return Status::NotFound("no xiaohao data directory at '" + source + "' (" + s.ToString() +
                            "); check --data");
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions(opts));

  // The writer may delete a file (a finished compaction) between reading the
  // MANIFEST and opening the file; a fresh attempt reads the new MANIFEST.
  Db src;
  // As the writer replays: never past a gap in the WAL's sequence numbers
  // (store/wal.h), so the copy is a prefix of whole commits.
  std::unique_ptr<WalContinuityFilter> filter;
  for (int attempt = 0;; ++attempt) {
    filter = std::make_unique<WalContinuityFilter>();
    opts.wal_filter = filter.get();
    s = rocksdb::DB::OpenForReadOnly(opts, source, cfs, &src.handles, &src.db);
    if (s.ok()) break;
    src.handles.clear();
    src.db = nullptr;
    if (attempt >= 9 || !(s.IsIOError() || s.IsPathNotFound()))
      return FromRocks(s, "opening '" + source + "' read-only for the backup");
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
  }

  rocksdb::Options dopts;
  dopts.create_if_missing = true;
  dopts.error_if_exists = true;
  dopts.create_missing_column_families = true;
  dopts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  std::vector<rocksdb::ColumnFamilyDescriptor> dcfs;
  for (const auto& n : names) dcfs.emplace_back(n, rocksdb::ColumnFamilyOptions(dopts));
  Db dst;
  s = rocksdb::DB::Open(dopts, dest, dcfs, &dst.handles, &dst.db);
  if (!s.ok()) return FromRocks(s, "creating the backup store at '" + dest + "'");

  BackupReport report;
  // One snapshot across the column families (a read-only instance does not
  // change, but say so rather than rely on it).
  const rocksdb::Snapshot* snap = src.db->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.fill_cache = false;
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;  // flushed and synced below, before the copy is declared done
  Status result;
  for (size_t i = 0; i < names.size() && result.ok(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(src.db->NewIterator(ro, src.handles[i]));
    rocksdb::WriteBatch wb;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      wb.Put(dst.handles[i], it->key(), it->value());
      ++report.keys;
      report.bytes += it->key().size() + it->value().size();
      if (wb.GetDataSize() >= (4 << 20)) {
        s = dst.db->Write(wo, &wb);
        if (!s.ok()) break;
        wb.Clear();
      }
    }
    if (s.ok() && !it->status().ok()) {
      result = FromRocks(it->status(), "reading column family '" + names[i] + "' of '" + source + "'");
      break;
    }
    if (s.ok() && wb.Count() > 0) s = dst.db->Write(wo, &wb);
    if (!s.ok()) result = FromRocks(s, "writing the backup at '" + dest + "'");
  }
  src.db->ReleaseSnapshot(snap);
  if (!result.ok()) return result;
  rocksdb::FlushOptions fo;
  fo.wait = true;
  s = dst.db->Flush(fo, dst.handles);
  if (!s.ok()) return FromRocks(s, "flushing the backup at '" + dest + "'");
  return report;
}

}  // namespace

bool IsStoreFileName(const std::string& name) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  auto ends = [&](const char* p) {
    size_t n = std::strlen(p);
    return name.size() >= n && name.compare(name.size() - n, n, p) == 0;
  };
  return name == "CURRENT" || name == "IDENTITY" || name == "LOCK" || name == "LOG" ||
         starts("LOG.old.") || starts("MANIFEST-") || starts("OPTIONS-") || ends(".sst") ||
         ends(".log") || ends(".blob") || ends(".dbtmp");
}

Result<BackupReport> BackupStore(const std::string& source, const std::string& dest) {
  RETURN_IF_ERROR(CheckNewDirectory(dest, "the backup directory"));
  std::error_code ec;
  if (!fs::is_directory(source, ec))
    return Status::NotFound("no data directory at '" + source + "'; check --data");
  auto fail = [&](Status st) -> Result<BackupReport> {
    std::error_code ignored;
    fs::remove_all(dest, ignored);
    return st;
  };
  auto report = CopyView(source, dest);  // closes both instances before the check below
  if (!report.ok()) return fail(report.status());
  Status synced = SyncPath(dest, /*directory=*/true);
  if (!synced.ok()) return fail(synced);

  StoreOptions o;
  o.path = dest;
  o.read_only = true;
  auto copy = EventStore::Open(o);
  if (!copy.ok()) return fail(copy.status().WithContext("opening the backup just written"));
  auto verified = (*copy)->Verify();
  if (!verified.ok()) return fail(verified.status().WithContext("verifying the backup just written"));
  report->verified = *verified;
  return report;
}

Status CopyClosedStore(const std::string& source, const std::string& dest) {
  RETURN_IF_ERROR(CheckNewDirectory(dest, "the restore directory"));
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(source) / "CURRENT", ec))
    return Status::NotFound("'" + source + "' holds no store (no CURRENT file); name a directory written by `xiaohao backup`");
  fs::create_directory(dest, ec);
  if (ec) return Status::IOError("creating '" + dest + "': " + ec.message());
  for (const auto& entry : fs::directory_iterator(source, ec)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !IsStoreFileName(name)) continue;
    if (name == "LOCK" || name == "LOG" || name.rfind("LOG.old.", 0) == 0) continue;
    fs::path to = fs::path(dest) / name;
    if (!fs::copy_file(entry.path(), to, ec) || ec)
      return Status::IOError("copying '" + entry.path().string() + "' to '" + to.string() + "': " + ec.message());
    RETURN_IF_ERROR(SyncPath(to.string(), false));
  }
  if (ec) return Status::IOError("listing '" + source + "': " + ec.message());
  return SyncPath(dest, true);
}

}  // namespace xiaohao
