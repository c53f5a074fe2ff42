// `xiaohao backup` and `xiaohao restore`: a copy of a data directory taken
// while the service runs on it, and a new data directory made from one.
//
// A backup directory is itself a data directory (the store, store/backup.h)
// plus the data directory's other files (users.json, outboxes, the chain-head
// log) and backup.json, which names the head the copy holds:
//   {"format": 1, "created_at", "source", "head": {"position", "hash"},
//    "keys", "bytes", "files": [...]}
// Restore copies it into a directory that does not exist or is empty, then
// verifies the restored chain against that head; anything else is refused
// before a byte is written.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <cstring>
#include <sstream>

#include "adapters/cli.h"
#include "store/backup.h"
#include "store/clock.h"
#include "store/event_store.h"
#include "store/time_format.h"

namespace xiaohao {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kManifest[] = "backup.json";

int Fail(const std::string& cmd, const std::string& what) {
  std::cerr << "xiaohao " << cmd << ": " << what << "\n";
  return 2;
}

Status SyncFile(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return Status::IOError("open " + path + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync " + path + ": " + std::strerror(errno));
  return Status::OK();
}

// The data directory's own files: not RocksDB's, not lock files (they guard
// the live directory only), not temporary files of an atomic rewrite.
bool IsSideFile(const fs::directory_entry& e) {
  std::string name = e.path().filename().string();
  auto ends = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return e.is_regular_file() && !IsStoreFileName(name) && name != kManifest && !ends(".lock") &&
         !ends(".tmp") && name.find(".tmp.") == std::string::npos;
}

// Copies the side files of `from` into `to`, fsyncing each; returns their names.
Result<std::vector<std::string>> CopySideFiles(const std::string& from, const std::string& to) {
  std::vector<std::string> copied;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(from, ec)) {
    if (!IsSideFile(e)) continue;
    fs::path dest = fs::path(to) / e.path().filename();
    // users.json is replaced by rename, never rewritten in place, so a plain
    // copy reads one whole version; append-only files may gain lines after
    // the store's view was taken, which is harmless.
    if (!fs::copy_file(e.path(), dest, ec) || ec)
      return Status::IOError("copying '" + e.path().string() + "' to '" + dest.string() + "': " + ec.message());
    RETURN_IF_ERROR(SyncFile(dest.string(), false));
    copied.push_back(e.path().filename().string());
  }
  if (ec) return Status::IOError("listing '" + from + "': " + ec.message());
  return copied;
}

struct BackupArgs {
  std::string data, to;
};

int Backup(const BackupArgs& a) {
  const char* cmd = "backup";
  std::error_code ec;
  if (!fs::is_directory(a.data, ec))
    return Fail(cmd, "no data directory at '" + a.data + "'; check --data");
  if (fs::exists(a.to, ec))
    return Fail(cmd, "--to '" + a.to + "' already exists; a backup goes into a new directory (nothing was written)");
  auto report = BackupStore(a.data, a.to);
  if (!report.ok()) return Fail(cmd, report.status().message());
  auto cleanup = [&](const std::string& what) {
    fs::remove_all(a.to, ec);
    return Fail(cmd, what + " (the partial backup at '" + a.to + "' was removed)");
  };
  auto files = CopySideFiles(a.data, a.to);
  if (!files.ok()) return cleanup(files.status().message());

  const VerifyReport& v = report->verified;
  json m{{"format", 1},
         {"created_at", FormatRfc3339Utc(SystemClock::Default()->Now())},
         {"source", fs::absolute(a.data, ec).string()},
         {"head", {{"position", v.events}, {"hash", HashToHex(v.head)}}},
         {"chain_ok", v.ok},
         {"keys", report->keys},
         {"bytes", report->bytes},
         {"files", *files}};
  std::string path = (fs::path(a.to) / kManifest).string();
  {
    std::ofstream out(path, std::ios::trunc);
    out << m.dump(2) << "\n";
    if (!out.flush()) return cleanup("writing '" + path + "' failed");
  }
  Status s = SyncFile(path, false);
  if (s.ok()) s = SyncFile(a.to, true);
  if (!s.ok()) return cleanup(s.message());

  if (!v.ok) {
    std::cout << "backup written to " << a.to << ", but the chain is broken at position " << v.bad_position
              << ": " << v.reason << " (the source is broken too; the copy is kept for examination)\n";
    return 1;
  }
  std::cout << "backup of " << a.data << " written to " << a.to << ": " << v.events << " events, head "
            << v.events << ":" << HashToHex(v.head) << ", verified; " << report->keys << " keys, "
            << files->size() << " other file(s)";
  for (const auto& f : *files) std::cout << " " << f;
  std::cout << "\n";
  return 0;
}

struct RestoreArgs {
  std::string from, data;
};

int Restore(const RestoreArgs& a) {
  const char* cmd = "restore";
  std::error_code ec;
  fs::path manifest_path = fs::path(a.from) / kManifest;
  if (!fs::is_directory(a.from, ec))
    return Fail(cmd, "no backup directory at '" + a.from + "'; check --from");
  json m;
  {
    std::ifstream in(manifest_path);
    if (!in)
      return Fail(cmd, "'" + a.from + "' has no " + kManifest +
                           "; name a directory written by `xiaohao backup --to`");
    try {
      in >> m;
    } catch (const std::exception& e) {
      return Fail(cmd, manifest_path.string() + " is not valid JSON (" + e.what() + "); the backup is damaged");
    }
  }
  uint64_t position = 0;
  Hash hash{};
  try {
    position = m.at("head").at("position").get<uint64_t>();
    if (!HashFromHex(m.at("head").at("hash").get<std::string>(), &hash)) throw std::runtime_error("bad hash");
  } catch (const std::exception& e) {
    return Fail(cmd, manifest_path.string() + " has no valid head.position/head.hash (" + e.what() +
                         "); the backup is damaged");
  }
  if (fs::exists(a.data, ec)) {
    if (!fs::is_directory(a.data, ec))
      return Fail(cmd, "--data '" + a.data + "' exists and is not a directory; name a new or empty directory");
    if (!fs::is_empty(a.data, ec))
      return Fail(cmd, "--data '" + a.data +
                           "' is not empty; restore never overwrites a data directory. Name a new or "
                           "empty directory (nothing was written)");
    fs::remove(a.data, ec);  // recreated below by the copy
    if (ec) return Fail(cmd, "cannot replace the empty directory '" + a.data + "': " + ec.message());
  }
  Status s = CopyClosedStore(a.from, a.data);
  auto cleanup = [&](const std::string& what) {
    fs::remove_all(a.data, ec);
    return Fail(cmd, what + " (the partial restore at '" + a.data + "' was removed)");
  };
  if (!s.ok()) {
    if (s.code() == StatusCode::kFailedPrecondition || s.code() == StatusCode::kNotFound)
      return Fail(cmd, s.message());  // refused before writing
    return cleanup(s.message());
  }
  auto files = CopySideFiles(a.from, a.data);
  if (!files.ok()) return cleanup(files.status().message());

  StoreOptions o;
  o.path = a.data;
  o.read_only = true;
  VerifyReport v;
  {
    auto store = EventStore::Open(o);
    if (!store.ok()) return cleanup("opening the restored store: " + store.status().message());
    auto r = (*store)->Verify(std::make_pair(position, hash));
    if (!r.ok()) return cleanup("verifying the restored store: " + r.status().message());
    v = *r;
  }
  if (!v.ok && m.value("chain_ok", true)) {
    return cleanup("the restored chain does not match the backup's head " + std::to_string(position) + ":" +
                   HashToHex(hash) + ": broken at position " + std::to_string(v.bad_position) + ": " +
                   v.reason + "; the backup is damaged");
  }
  std::cout << "restored " << a.from << " into " << a.data << ": " << v.events << " events, head "
            << position << ":" << HashToHex(hash) << (v.ok ? ", verified" : ", chain broken as in the backup")
            << "; " << files->size() << " other file(s)";
  for (const auto& f : *files) std::cout << " " << f;
  std::cout << "\n";
  return v.ok ? 0 : 1;
}

}  // namespace

void RegisterBackupCommands(CLI::App& app, int* exit_code) {
  auto b = std::make_shared<BackupArgs>();
  auto* backup = app.add_subcommand(
      "backup",
      "Copies a data directory into a new directory, also while `xiaohao serve` runs on it: the\n"
      "store as of one moment (whole commands only, with their projections), users.json and the\n"
      "other files, then verifies the copy's hash chain. Prints the head it holds.\n"
      "Example:\n  xiaohao backup --data ./var --to /backups/xiaohao-2026-11-23");
  backup->add_option("--data", b->data, "Data directory (may be in use by the service)")->required();
  backup->add_option("--to", b->to, "New directory to write the backup to (must not exist)")->required();
  backup->callback([b, exit_code] { *exit_code = Backup(*b); });

  auto r = std::make_shared<RestoreArgs>();
  auto* restore = app.add_subcommand(
      "restore",
      "Makes a new data directory from a backup and verifies it against the head the backup\n"
      "recorded. Never overwrites: --data must not exist or be empty.\n"
      "Example:\n  xiaohao restore --from /backups/xiaohao-2026-11-23 --data ./var-restored");
  restore->add_option("--from", r->from, "Directory written by `xiaohao backup --to`")->required();
  restore->add_option("--data", r->data, "New (or empty) data directory to create")->required();
  restore->callback([r, exit_code] { *exit_code = Restore(*r); });
}

}  // namespace xiaohao
