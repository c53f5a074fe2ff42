#include "adapters/users.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "store/sha256.h"
#include "store/time_format.h"

namespace xiaohao {

using nlohmann::json;

namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    s.push_back(kDigits[p[i] >> 4]);
    s.push_back(kDigits[p[i] & 15]);
  }
  return s;
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

json TimeOrNull(UnixMicros t) { return t == 0 ? json(nullptr) : json(FormatRfc3339Utc(t)); }

Result<UnixMicros> TimeFrom(const json& j, const char* key, bool nullable) {
  if (!j.contains(key) || j[key].is_null()) {
    if (nullable) return UnixMicros{0};
    return Status::Corruption(std::string("users file: missing ") + key);
  }
  if (!j[key].is_string()) return Status::Corruption(std::string("users file: ") + key + " is not a string");
  auto t = ParseRfc3339(j[key].get<std::string>());
  if (!t.ok()) return Status::Corruption(std::string("users file: ") + key + ": " + t.status().message());
  return t->instant;
}

json UserToJson(const User& u) {
  return json{{"id", u.id},
              {"role", u.role},
              {"unit", u.unit},
              {"enterprise", u.enterprise},
              {"name", u.name},
              {"token_sha256", u.token_sha256},
              {"token_expires_at", TimeOrNull(u.token_expires_at)},
              {"created_at", TimeOrNull(u.created_at)},
              {"revoked_at", TimeOrNull(u.revoked_at)}};
}

Result<User> UserFromJson(const json& j) {
  if (!j.is_object()) return Status::Corruption("users file: a user is not an object");
  User u;
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
  u.id = str("id");
  u.role = str("role");
  u.unit = str("unit");
  u.enterprise = str("enterprise");
  u.name = str("name");
  u.token_sha256 = str("token_sha256");
  if (u.id.empty() || u.role.empty()) return Status::Corruption("users file: a user without id or role");
  ASSIGN_OR_RETURN(u.token_expires_at, TimeFrom(j, "token_expires_at", false));
  ASSIGN_OR_RETURN(u.created_at, TimeFrom(j, "created_at", true));
  ASSIGN_OR_RETURN(u.revoked_at, TimeFrom(j, "revoked_at", true));
  return u;
}

// Holds an exclusive flock on "<path>.lock" for its lifetime.
class FileLock {
 public:
  static Result<std::unique_ptr<FileLock>> Acquire(const std::string& path) {
    std::string lock_path = path + ".lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IOError(Errno("open " + lock_path));
    if (::flock(fd, LOCK_EX) != 0) {
      Status s = Status::IOError(Errno("flock " + lock_path));
      ::close(fd);
      return s;
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }
  ~FileLock() { ::close(fd_); }  // closing releases the lock

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

Status WriteAllAndSync(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(Errno("open " + path));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Status::IOError(Errno("write " + path));
      ::close(fd);
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Status::IOError(Errno("fsync " + path));
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return Status::IOError(Errno("close " + path));
  return Status::OK();
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

IssuedToken Issue(User& u, std::string token, int64_t ttl_micros, UnixMicros now) {
  u.token_sha256 = HashToken(token);
  u.token_expires_at = now + ttl_micros;
  return IssuedToken{u, std::move(token)};
}

}  // namespace

Actor User::ToActor() const {
  Actor a;
  a.user_id = id;
  a.role = role;
  a.office = role == "enterprise" ? enterprise : unit;
  return a;
}

const std::vector<std::string>& UserRoles() {
  static const std::vector<std::string> kRoles = {"inspector", "supervisor", "province_approver",
                                                  "auditor",   "enterprise", "admin"};
  return kRoles;
}

Status ValidateUser(const User& u, const JurisdictionTree* tree) {
  if (!ValidId(u.id)) return Status::InvalidArgument("user id must be [a-z0-9_.-]{1,64}", "--id");
  const auto& roles = UserRoles();
  if (std::find(roles.begin(), roles.end(), u.role) == roles.end())
    return Status::InvalidArgument(
        "unknown role \"" + u.role + "\" (inspector, supervisor, province_approver, auditor, enterprise, admin)",
        "--role");
  if (u.role == "enterprise") {
    if (u.enterprise.empty())
      return Status::InvalidArgument("an enterprise user needs --enterprise (its unified social credit code)",
                                     "--enterprise");
    if (!u.unit.empty())
      return Status::InvalidArgument("an enterprise user has no jurisdiction unit", "--unit");
    return Status::OK();
  }
  if (!u.enterprise.empty())
    return Status::InvalidArgument("only an enterprise user is bound to an enterprise", "--enterprise");
  if (u.unit.empty()) {
    if (u.role == "admin") return Status::OK();
    return Status::InvalidArgument("role " + u.role + " needs --unit (a jurisdiction unit id)", "--unit");
  }
  if (tree == nullptr) return Status::OK();
  const JurisdictionUnit* unit = tree->Find(u.unit);
  if (unit == nullptr) return Status::InvalidArgument("unknown jurisdiction unit \"" + u.unit + "\"", "--unit");
  if (u.role == "supervisor" && unit->level == UnitLevel::kOffice)
    return Status::InvalidArgument("a supervisor belongs to a bureau (county, city or province), not to office " +
                                       u.unit,
                                   "--unit");
  if (u.role == "province_approver" && unit->level != UnitLevel::kProvince)
    return Status::InvalidArgument("a province approver belongs to a province bureau, not to " + u.unit, "--unit");
  return Status::OK();
}

std::string UsersFilePath(const std::string& data_dir) { return data_dir + "/users.json"; }

Result<std::vector<User>> LoadUsers(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::vector<User>{};
    return Status::IOError(Errno("open " + path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("users") || !j["users"].is_array())
    return Status::Corruption(path + ": not a users file ({\"format\": 1, \"users\": [...]})");
  std::vector<User> users;
  for (const auto& x : j["users"]) {
    auto u = UserFromJson(x);
    if (!u.ok()) return u.status().WithContext(path);
    users.push_back(std::move(*u));
  }
  return users;
}

Status SaveUsers(const std::string& path, const std::vector<User>& users) {
  json arr = json::array();
  for (const auto& u : users) arr.push_back(UserToJson(u));
  json doc{{"format", 1}, {"users", arr}};
  std::string tmp = path + ".tmp";
  RETURN_IF_ERROR(WriteAllAndSync(tmp, doc.dump(2) + "\n"));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError(Errno("rename " + tmp));
  // The rename is durable only once the directory is synced.
  std::string dir = DirOf(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::IOError(Errno("open " + dir));
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return Status::IOError(Errno("fsync " + dir));
  return Status::OK();
}

Result<std::string> NewToken() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1) return Status::Internal("RAND_bytes failed");
  return "xh_" + Hex(buf, sizeof buf);
}

std::string HashToken(const std::string& token) { return Sha256Hex(token); }

Result<IssuedToken> AddUser(const std::string& path, User user, int64_t ttl_micros, UnixMicros now) {
  if (ttl_micros <= 0) return Status::InvalidArgument("token lifetime must be positive", "--ttl");
  ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(path));
  ASSIGN_OR_RETURN(auto users, LoadUsers(path));
  for (const auto& u : users)
    if (u.id == user.id)
      return Status(StatusCode::kAlreadyExists,
                    "user \"" + user.id + "\" exists" + (u.revoked() ? " (revoked; ids are never reused)" : ""),
                    "--id");
  ASSIGN_OR_RETURN(std::string token, NewToken());
  user.created_at = now;
  user.revoked_at = 0;
  IssuedToken issued = Issue(user, std::move(token), ttl_micros, now);
  users.push_back(user);
  RETURN_IF_ERROR(SaveUsers(path, users));
  return issued;
}

Result<IssuedToken> RotateToken(const std::string& path, const std::string& id, int64_t ttl_micros,
                                UnixMicros now) {
  if (ttl_micros <= 0) return Status::InvalidArgument("token lifetime must be positive", "--ttl");
  ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(path));
  ASSIGN_OR_RETURN(auto users, LoadUsers(path));
  for (auto& u : users) {
    if (u.id != id) continue;
    if (u.revoked()) return Status::FailedPrecondition("user \"" + id + "\" is revoked; add a new user instead");
    ASSIGN_OR_RETURN(std::string token, NewToken());
    IssuedToken issued = Issue(u, std::move(token), ttl_micros, now);
    RETURN_IF_ERROR(SaveUsers(path, users));
    return issued;
  }
  return Status::NotFound("no user \"" + id + "\"");
}

Status RevokeUser(const std::string& path, const std::string& id, UnixMicros now) {
  ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(path));
  ASSIGN_OR_RETURN(auto users, LoadUsers(path));
  for (auto& u : users) {
    if (u.id != id) continue;
    if (u.revoked()) return Status::OK();
    u.revoked_at = now;
    return SaveUsers(path, users);
  }
  return Status::NotFound("no user \"" + id + "\"");
}

Result<int64_t> ParseTtl(const std::string& text) {
  auto bad = [&]() { return Status::InvalidArgument("token lifetime \"" + text + "\" is not like 90d, 12h, 30m", "--ttl"); };
  if (text.size() < 2 || text.size() > 8) return bad();
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return bad();
    n = n * 10 + (text[i] - '0');
  }
  if (n <= 0) return bad();
  constexpr int64_t kSecond = 1000000;
  switch (text.back()) {
    case 'd': return n * 86400 * kSecond;
    case 'h': return n * 3600 * kSecond;
    case 'm': return n * 60 * kSecond;
    case 's': return n * kSecond;
    default: return bad();
  }
}

Status Authenticator::RefreshLocked() {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IOError(Errno("stat " + path_));
    users_.clear();
    loaded_ = true;
    stamp_size_ = -1;
    return Status::OK();
  }
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (loaded_ && st.st_size == stamp_size_ && mtime == stamp_mtime_ && st.st_ino == stamp_ino_)
    return Status::OK();
  ASSIGN_OR_RETURN(users_, LoadUsers(path_));
  loaded_ = true;
  stamp_size_ = st.st_size;
  stamp_mtime_ = mtime;
  stamp_ino_ = st.st_ino;
  return Status::OK();
}

Result<User> Authenticator::Authenticate(const std::string& token, UnixMicros now) {
  auto unauthenticated = [](const std::string& m) { return Status(StatusCode::kUnauthenticated, m); };
  if (token.empty()) return unauthenticated("no bearer token (send Authorization: Bearer <token>)");
  std::string hash = HashToken(token);
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(RefreshLocked());
  for (const auto& u : users_) {
    if (u.token_sha256.size() != hash.size() ||
        CRYPTO_memcmp(u.token_sha256.data(), hash.data(), hash.size()) != 0)
      continue;
    if (u.revoked()) return unauthenticated("user " + u.id + " is revoked");
    if (now >= u.token_expires_at) return unauthenticated("token expired; ask an admin for `xiaohao users rotate`");
    return u;
  }
  return unauthenticated("unknown token");
}

}  // namespace xiaohao
