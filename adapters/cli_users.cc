// `xiaohao users add|list|revoke|rotate`: the service's users file
// (adapters/users.h). add and rotate print the new token once, alone on
// stdout, so a script can capture it; what was done goes to stderr.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "adapters/cli.h"
#include "adapters/users.h"
#include "store/time_format.h"

namespace xiaohao {

namespace {

struct UserArgs {
  std::string data;
  std::string id;
  std::string role;
  std::string unit;
  std::string enterprise;
  std::string name;
  std::string ttl = "90d";
  std::string workflows;
  bool json = false;
};

int Fail(const Status& s) {
  std::cerr << "xiaohao users: " << s.ToString() << "\n";
  return 2;
}

void PrintIssued(const IssuedToken& t, const char* verb) {
  std::cerr << verb << " " << t.user.id << " (" << t.user.role
            << (t.user.unit.empty() ? "" : " of " + t.user.unit)
            << (t.user.enterprise.empty() ? "" : " for enterprise " + t.user.enterprise)
            << "); token expires " << FormatRfc3339Utc(t.user.token_expires_at)
            << ". It is shown once, below; only its hash is kept.\n";
  std::cout << t.token << "\n";
}

}  // namespace

void RegisterUserCommands(CLI::App& app, int* exit_code) {
  auto* users = app.add_subcommand(
      "users",
      "Users of `xiaohao serve` and their bearer tokens (<data>/users.json; tokens stored as SHA-256 only).\n"
      "Example:\n  xiaohao users add --data ./var --id li.nanbin --role inspector --unit nanbin");
  users->require_subcommand(1);
  auto a = std::make_shared<UserArgs>();

  auto* add = users->add_subcommand(
      "add",
      "Adds a user and prints its token once on stdout.\n"
      "Roles: inspector (of an office), supervisor (of a bureau), province_approver, auditor (read-only),\n"
      "enterprise (its own cases; --enterprise), admin.\n"
      "Example:\n  xiaohao users add --data ./var --id wang.shizhu --role supervisor --unit shizhu --ttl 30d");
  add->add_option("--data", a->data, "Data directory")->required();
  add->add_option("--id", a->id, "User id, [a-z0-9_.-]{1,64}; never reused")->required();
  add->add_option("--role", a->role, "inspector|supervisor|province_approver|auditor|enterprise|admin")->required();
  add->add_option("--unit", a->unit, "Jurisdiction unit id (e.g. nanbin, shizhu, chongqing)");
  add->add_option("--enterprise", a->enterprise, "Enterprise id (enterprise role only)");
  add->add_option("--name", a->name, "Display name");
  add->add_option("--ttl", a->ttl, "Token lifetime: 90d, 12h, 30m (default 90d)");
  add->add_option("--workflows", a->workflows, "Workflows directory, for the jurisdiction tree (default: the repo's)");
  add->callback([a, exit_code]() {
    auto ttl = ParseTtl(a->ttl);
    if (!ttl.ok()) return void(*exit_code = Fail(ttl.status()));
    std::string wf = a->workflows.empty() ? DefaultWorkflowsDir() : a->workflows;
    auto tree = JurisdictionTree::LoadDir(wf + "/jurisdictions");
    if (!tree.ok()) return void(*exit_code = Fail(tree.status().WithContext("loading jurisdictions")));
    User u;
    u.id = a->id;
    u.role = a->role;
    u.unit = a->unit;
    u.enterprise = a->enterprise;
    u.name = a->name;
    Status v = ValidateUser(u, &tree.value());
    if (!v.ok()) return void(*exit_code = Fail(v));
    // The first user may come before the first `serve`: make the data directory.
    std::error_code ec;
    std::filesystem::create_directories(a->data, ec);
    if (ec) return void(*exit_code = Fail(Status::IOError("cannot create " + a->data + ": " + ec.message())));
    auto issued = AddUser(UsersFilePath(a->data), u, *ttl, SystemClock::Default()->Now());
    if (!issued.ok()) return void(*exit_code = Fail(issued.status()));
    PrintIssued(*issued, "added");
    *exit_code = 0;
  });

  auto* list = users->add_subcommand("list",
                                     "Lists users (never tokens).\nExample:\n  xiaohao users list --data ./var");
  list->add_option("--data", a->data, "Data directory")->required();
  list->add_flag("--json", a->json, "One JSON object per line");
  list->callback([a, exit_code]() {
    auto users = LoadUsers(UsersFilePath(a->data));
    if (!users.ok()) return void(*exit_code = Fail(users.status()));
    UnixMicros now = SystemClock::Default()->Now();
    for (const auto& u : *users) {
      std::string status = u.revoked() ? "revoked" : (now >= u.token_expires_at ? "expired" : "active");
      if (a->json) {
        nlohmann::json j{{"id", u.id},         {"role", u.role},  {"unit", u.unit},
                         {"enterprise", u.enterprise}, {"name", u.name}, {"status", status},
                         {"token_expires_at", FormatRfc3339Utc(u.token_expires_at)}};
        std::cout << j.dump() << "\n";
      } else {
        std::cout << u.id << "\t" << u.role << "\t" << (u.role == "enterprise" ? u.enterprise : u.unit) << "\t"
                  << status << "\t" << FormatRfc3339Utc(u.token_expires_at) << "\t" << u.name << "\n";
      }
    }
    *exit_code = 0;
  });

  auto* revoke = users->add_subcommand(
      "revoke", "Revokes a user; its token stops working at the server's next request.\n"
                "Example:\n  xiaohao users revoke --data ./var --id li.nanbin");
  revoke->add_option("--data", a->data, "Data directory")->required();
  revoke->add_option("--id", a->id, "User id")->required();
  revoke->callback([a, exit_code]() {
    Status s = RevokeUser(UsersFilePath(a->data), a->id, SystemClock::Default()->Now());
    if (!s.ok()) return void(*exit_code = Fail(s));
    std::cerr << "revoked " << a->id << "\n";
    *exit_code = 0;
  });

  auto* rotate = users->add_subcommand(
      "rotate", "Replaces a user's token (the old one stops working) and prints the new one once.\n"
                "Example:\n  xiaohao users rotate --data ./var --id li.nanbin --ttl 90d");
  rotate->add_option("--data", a->data, "Data directory")->required();
  rotate->add_option("--id", a->id, "User id")->required();
  rotate->add_option("--ttl", a->ttl, "Token lifetime (default 90d)");
  rotate->callback([a, exit_code]() {
    auto ttl = ParseTtl(a->ttl);
    if (!ttl.ok()) return void(*exit_code = Fail(ttl.status()));
    auto issued = RotateToken(UsersFilePath(a->data), a->id, *ttl, SystemClock::Default()->Now());
    if (!issued.ok()) return void(*exit_code = Fail(issued.status()));
    PrintIssued(*issued, "rotated the token of");
    *exit_code = 0;
  });
}

}  // namespace xiaohao
