// What every HTTP test starts with: sample users in a data directory's
// users.json, and the real Service on a loopback socket (port chosen by the
// kernel). Fixtures in the *_http_test.cc files build on these two.
#ifndef XIAOHAO_TESTS_ADAPTERS_SERVICE_FIXTURE_H_
#define XIAOHAO_TESTS_ADAPTERS_SERVICE_FIXTURE_H_

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapters/http_server.h"
#include "adapters/service.h"
#include "adapters/users.h"
#include "store/clock.h"

namespace xiaohao::testing {

constexpr int64_t kTestDay = 86400LL * 1000000;

struct TestUser {
  std::string id, role, unit, enterprise;
  int64_t issued_days_ago = 0;  // with ttl_days, makes expired tokens
  int64_t ttl_days = 30;
  bool revoked = false;
};

// Adds `users` to <data_dir>/users.json (the directory must exist) and
// returns each one's token by id.
inline std::map<std::string, std::string> AddTestUsers(const std::string& data_dir,
                                                       const std::vector<TestUser>& users) {
  std::map<std::string, std::string> tokens;
  const std::string path = UsersFilePath(data_dir);
  const UnixMicros now = SystemClock::Default()->Now();
  for (const auto& t : users) {
    User u;
    u.id = t.id;
    u.role = t.role;
    u.unit = t.unit;
    u.enterprise = t.enterprise;
    auto issued = AddUser(path, u, t.ttl_days * kTestDay, now - t.issued_days_ago * kTestDay);
    REQUIRE(issued.ok());
    tokens[t.id] = issued->token;
    if (t.revoked) REQUIRE(RevokeUser(path, t.id, now).ok());
  }
  return tokens;
}

// A Service answering on 127.0.0.1; stops the socket before the service.
class LiveService {
 public:
  LiveService(const ServiceOptions& options, int threads) {
    auto service = Service::Open(options);
    INFO((service.ok() ? std::string() : service.status().ToString()));
    REQUIRE(service.ok());
    service_ = std::move(*service);
    HttpServerOptions ho;
    ho.listen = "127.0.0.1:0";
    ho.threads = threads;
    auto server = HttpServer::Start(service_.get(), ho);
    REQUIRE(server.ok());
    server_ = std::move(*server);
    REQUIRE(server_->port() != 0);
  }
  ~LiveService() {
    server_.reset();
    service_.reset();
  }
  uint16_t port() const { return server_->port(); }
  Service* service() const { return service_.get(); }

 private:
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace xiaohao::testing

#endif  // XIAOHAO_TESTS_ADAPTERS_SERVICE_FIXTURE_H_
