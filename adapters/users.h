// Users and bearer tokens of the service: who may call it, in which role,
// for which part of the jurisdiction tree.
//
// The users file is <data dir>/users.json, managed by `xiaohao users`:
//   {"format": 1, "users": [{"id", "role", "unit", "enterprise", "name",
//     "token_sha256", "token_expires_at", "created_at", "revoked_at"}, ...]}
// Times are RFC 3339 UTC; revoked_at is null while the user is active.
// Tokens are never stored: only the hex SHA-256 of the token text. A user is
// revoked, never deleted, so the file keeps who could act when.
// Every change rewrites the file atomically (temp file, fsync, rename, fsync
// of the directory) under an flock on users.json.lock, so concurrent
// `xiaohao users` runs and a running server never see half a file.
//
// Roles (DOMAIN.md "Who uses it"; engine/workflow_definition.h KnownRoles):
//   inspector          of an office (监管所); unit required
//   supervisor         of a bureau (县局/市局/省局); unit required
//   province_approver  of a province bureau (grants extensions); unit required
//   auditor            reads its unit's subtree, writes nothing; unit required
//   enterprise         its own cases only; enterprise id required (its
//                      unified social credit code, matched to a case's facts.enterprise)
//   admin              everything; unit optional
#ifndef XIAOHAO_ADAPTERS_USERS_H_
#define XIAOHAO_ADAPTERS_USERS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/jurisdiction.h"
#include "store/clock.h"
#include "store/event.h"
#include "store/status.h"

namespace xiaohao {

struct User {
  std::string id;  // [a-z0-9_.-]{1,64}
  std::string role;
  std::string unit;        // jurisdiction unit id (empty for enterprise; optional for admin)
  std::string enterprise;  // enterprise role only
  std::string name;        // display name, free text
  std::string token_sha256;  // hex
  UnixMicros token_expires_at = 0;
  UnixMicros created_at = 0;
  UnixMicros revoked_at = 0;  // 0 = active

  bool revoked() const { return revoked_at != 0; }
  // The engine's Actor: an enterprise acts with its enterprise id as office
  // (engine/workflow.cc CheckJurisdiction).
  Actor ToActor() const;
};

// The roles a user may hold.
const std::vector<std::string>& UserRoles();

// Checks a user's id, role, unit and enterprise (unit against the tree when
// given). kInvalidArgument with field naming the flag.
Status ValidateUser(const User& u, const JurisdictionTree* tree);

// "<data dir>/users.json".
std::string UsersFilePath(const std::string& data_dir);

// Reads the users file; a missing file is an empty list.
Result<std::vector<User>> LoadUsers(const std::string& path);
// Writes the whole file atomically (see the file comment). Not locked: use
// the mutations below, which are.
Status SaveUsers(const std::string& path, const std::vector<User>& users);

// A fresh random token (256 bits from RAND_bytes, "xh_" + 64 hex digits).
Result<std::string> NewToken();
// Hex SHA-256 of a token's text.
std::string HashToken(const std::string& token);

struct IssuedToken {
  User user;
  std::string token;  // shown once; only its hash is stored
};

// Adds a user with a new token valid for ttl_micros from now. kAlreadyExists
// when the id is taken (revoked ids included: ids are never reused).
Result<IssuedToken> AddUser(const std::string& path, User user, int64_t ttl_micros, UnixMicros now);
// Replaces an active user's token; the old one stops working at once.
Result<IssuedToken> RotateToken(const std::string& path, const std::string& id, int64_t ttl_micros,
                                UnixMicros now);
// Revokes a user and its token. kNotFound for an unknown id; revoking twice is OK.
Status RevokeUser(const std::string& path, const std::string& id, UnixMicros now);

// Parses a token lifetime: "90d", "12h", "30m", "45s".
Result<int64_t> ParseTtl(const std::string& text);

// Finds the user of a bearer token. Re-reads the users file when it changes
// on disk (size or modification time), so `xiaohao users revoke` takes effect
// on a running server at its next request.
// Errors: kUnauthenticated with message "unknown token", "token expired" or
// "user revoked". Thread-safe.
class Authenticator {
 public:
  explicit Authenticator(std::string users_path) : path_(std::move(users_path)) {}
  Result<User> Authenticate(const std::string& token, UnixMicros now);

 private:
  Status RefreshLocked();

  const std::string path_;
  std::mutex mu_;
  std::vector<User> users_;  // GUARDED_BY(mu_)
  bool loaded_ = false;      // GUARDED_BY(mu_)
  int64_t stamp_size_ = -1;  // GUARDED_BY(mu_)
  int64_t stamp_mtime_ = 0;  // GUARDED_BY(mu_)
  uint64_t stamp_ino_ = 0;   // GUARDED_BY(mu_); each save renames a new inode in
};

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_USERS_H_
