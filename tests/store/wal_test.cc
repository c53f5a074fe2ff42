// The zero-ahead WAL file system and the WAL continuity filter (store/wal.h).
#include "store/wal.h"

#include <catch2/catch.hpp>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using xiaohao::IsWalFileName;
using xiaohao::NewZeroAheadWalFileSystem;
using xiaohao::WalContinuityFilter;
using xiaohao::ZeroAheadOptions;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/var/tmp/xiaohao-wal-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

uint64_t SizeOnDisk(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_size);
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Counts syncs per file name, below the zero-ahead layer.
class CountingFs final : public rocksdb::FileSystemWrapper {
 public:
  explicit CountingFs(std::shared_ptr<rocksdb::FileSystem> base) : FileSystemWrapper(base) {}
  const char* Name() const override { return "CountingFs"; }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok()) r->reset(new File(std::move(*r), this, f));
    return s;
  }
  int syncs(const std::string& f) {
    std::lock_guard<std::mutex> l(mu_);
    return syncs_[f];
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile>&& f, CountingFs* fs, std::string name)
        : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs), name_(std::move(name)) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      fs_->Count(name_);
      return target()->Sync(o, d);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      fs_->Count(name_);
      return target()->Fsync(o, d);
    }

   private:
    CountingFs* fs_;
    std::string name_;
  };
  void Count(const std::string& f) {
    std::lock_guard<std::mutex> l(mu_);
    ++syncs_[f];
  }
  std::mutex mu_;
  std::map<std::string, int> syncs_;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(1 + rng() % 255);  // never 0, to tell from the zeros
  return s;
}

// A WriteBatch as RocksDB would log it with sequence number `seq`.
rocksdb::WriteBatch BatchAt(uint64_t seq, int puts) {
  rocksdb::WriteBatch wb;
  for (int i = 0; i < puts; ++i) REQUIRE(wb.Put("k" + std::to_string(i), "v").ok());
  std::string rep = wb.Data();
  for (int i = 0; i < 8; ++i) rep[i] = static_cast<char>((seq >> (8 * i)) & 0xff);
  return rocksdb::WriteBatch(rep);
}

}  // namespace

TEST_CASE("WAL file names are told from the other files of a RocksDB directory") {
  CHECK(IsWalFileName("000012.log"));
  CHECK(IsWalFileName("/var/lib/xiaohao/data/000012.log"));
  CHECK_FALSE(IsWalFileName("LOG"));
  CHECK_FALSE(IsWalFileName("/data/LOG.old.1700000000"));
  CHECK_FALSE(IsWalFileName("MANIFEST-000005"));
  CHECK_FALSE(IsWalFileName("000013.sst"));
  CHECK_FALSE(IsWalFileName("/data/.log"));
  CHECK_FALSE(IsWalFileName("/data/wal-1.log"));
}

TEST_CASE("a WAL file is written with zeros ahead of its writer and reads back exactly") {
  TempDir dir;
  auto counting = std::make_shared<CountingFs>(rocksdb::FileSystem::Default());
  ZeroAheadOptions zo;
  zo.first_step = 64 << 10;
  zo.max_step = 256 << 10;
  zo.lead = 8 << 10;
  auto zfs = NewZeroAheadWalFileSystem(counting, zo);
  const std::string wal = (dir.path / "000007.log").string();
  const std::string sst = (dir.path / "000008.sst").string();

  std::unique_ptr<rocksdb::FSWritableFile> f, other;
  REQUIRE(zfs->NewWritableFile(wal, rocksdb::FileOptions(), &f, nullptr).ok());
  REQUIRE(zfs->NewWritableFile(sst, rocksdb::FileOptions(), &other, nullptr).ok());
  const std::string head = RandomBytes(300 * 1000, 7);
  for (size_t at = 0; at < head.size(); at += 1000) {
    REQUIRE(f->Append(rocksdb::Slice(head.data() + at, 1000), rocksdb::IOOptions(), nullptr).ok());
    REQUIRE(other->Append(rocksdb::Slice(head.data() + at, 1000), rocksdb::IOOptions(), nullptr).ok());
    // The first append to a WAL file is synced before it returns (store/wal.h):
    // a replay that starts with this file starts with a record on disk.
    if (at == 0) CHECK(counting->syncs(wal) == 1);
  }
  // One append far larger than the room ahead (a MiB WAL buffer, a rebuild's
  // chunk) crosses extensions under way; then small ones again.
  const std::string big = RandomBytes(2 * 1000 * 1000, 8);
  REQUIRE(f->Append(rocksdb::Slice(big), rocksdb::IOOptions(), nullptr).ok());
  REQUIRE(other->Append(rocksdb::Slice(big), rocksdb::IOOptions(), nullptr).ok());
  const std::string tail = RandomBytes(50 * 1000, 9);
  for (size_t at = 0; at < tail.size(); at += 1000) {
    REQUIRE(f->Append(rocksdb::Slice(tail.data() + at, 1000), rocksdb::IOOptions(), nullptr).ok());
    REQUIRE(other->Append(rocksdb::Slice(tail.data() + at, 1000), rocksdb::IOOptions(), nullptr).ok());
  }
  const std::string data = head + big + tail;
  CHECK(counting->syncs(wal) == 1);  // only the first; later ones are the caller's
  CHECK(counting->syncs(sst) == 0);  // other files are untouched
  REQUIRE(f->Flush(rocksdb::IOOptions(), nullptr).ok());
  REQUIRE(other->Flush(rocksdb::IOOptions(), nullptr).ok());

  // The zeros are written in the background; they reach past the data soon.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (SizeOnDisk(wal) <= data.size() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(SizeOnDisk(wal) > data.size());
  CHECK(SizeOnDisk(sst) == data.size());

  std::string back = ReadAll(wal);
  REQUIRE(back.size() >= data.size());
  CHECK(back.compare(0, data.size(), data) == 0);  // the writer's bytes, none overwritten
  CHECK(back.find_first_not_of('\0', data.size()) == std::string::npos);  // then only zeros
  REQUIRE(f->Close(rocksdb::IOOptions(), nullptr).ok());
  REQUIRE(other->Close(rocksdb::IOOptions(), nullptr).ok());
}

TEST_CASE("the WAL continuity filter stops replay at the first gap in sequence numbers") {
  WalContinuityFilter filter;
  rocksdb::WriteBatch out;
  bool changed = false;
  using Option = rocksdb::WalFilter::WalProcessingOption;
  CHECK(filter.LogRecordFound(5, "000005.log", BatchAt(10, 2), &out, &changed) ==
        Option::kContinueProcessing);
  CHECK(filter.LogRecordFound(5, "000005.log", BatchAt(12, 3), &out, &changed) ==
        Option::kContinueProcessing);
  CHECK(filter.LogRecordFound(6, "000006.log", BatchAt(15, 1), &out, &changed) ==
        Option::kContinueProcessing);  // across files too
  CHECK_FALSE(filter.stopped());
  // 16 is due; 18 means batches 16 and 17 were lost from the middle.
  CHECK(filter.LogRecordFound(6, "000006.log", BatchAt(18, 1), &out, &changed) ==
        Option::kStopReplay);
  CHECK(filter.stopped());
  CHECK(filter.why().find("sequence 18 where 16 was due") != std::string::npos);
  CHECK(filter.why().find("000006.log") != std::string::npos);
  // Nothing after the gap is let in, even batches that follow each other again.
  CHECK(filter.LogRecordFound(6, "000006.log", BatchAt(19, 1), &out, &changed) ==
        Option::kStopReplay);
  CHECK(filter.batches() == 3);
  CHECK_FALSE(changed);
}

// What the filter is for: a page of the WAL lost from the middle reads as
// zeros, which RocksDB's reader skips without a word.
TEST_CASE("a zeroed block in the middle of a WAL: RocksDB replays over the hole, the filter stops at it") {
  TempDir dir;
  const std::string path = (dir.path / "db").string();
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  opts.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  // Records of exactly 4 KiB: 7-byte record header + 12-byte batch header +
  // type + key length + 4-byte key + 2-byte value length + value. Eight fill
  // a 32 KiB log block, so blocks begin with whole records.
  const std::string value(4096 - 7 - 12 - 1 - 1 - 4 - 2, 'x');
  auto key = [](int i) {
    char k[8];
    std::snprintf(k, sizeof k, "k%03d", i);
    return std::string(k);
  };
  {
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(opts, path, &db).ok());
    rocksdb::WriteOptions wo;
    wo.sync = true;
    for (int i = 0; i < 40; ++i) REQUIRE(db->Put(wo, key(i), value).ok());
    delete db;  // no flush: the data stays in the WAL only
  }
  fs::path wal;
  for (auto& e : fs::directory_iterator(path))
    if (IsWalFileName(e.path().string()) && fs::file_size(e.path()) > 0) wal = e.path();
  REQUIRE(!wal.empty());
  REQUIRE(fs::file_size(wal) == 40 * 4096);  // the layout the test depends on
  {
    // Lose the second block (records 8-15) as a crash could lose unsynced pages.
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(32768);
    const std::string zeros(32768, '\0');
    f.write(zeros.data(), zeros.size());
  }
  auto present = [&](rocksdb::DB* db, int i) {
    std::string v;
    return db->Get(rocksdb::ReadOptions(), key(i), &v).ok();
  };
  {
    // Without the filter: record 16 comes back although 8-15 did not.
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::OpenForReadOnly(opts, path, &db).ok());
    CHECK(present(db, 7));
    CHECK_FALSE(present(db, 8));
    CHECK(present(db, 16));
    delete db;
  }
  {
    WalContinuityFilter filter;
    opts.wal_filter = &filter;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::OpenForReadOnly(opts, path, &db).ok());
    CHECK(filter.stopped());
    CHECK(filter.batches() == 8);
    for (int i = 0; i < 8; ++i) CHECK(present(db, i));
    for (int i = 8; i < 40; ++i) CHECK_FALSE(present(db, i));
    delete db;
  }
}
