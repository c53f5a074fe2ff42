// A minimal blocking HTTP/1.1 client for the service tests: one request per
// connection ("Connection: close"), loopback only. Enough to drive the real
// server over a real socket without another dependency.
#ifndef XIAOHAO_TESTS_ADAPTERS_HTTP_TEST_CLIENT_H_
#define XIAOHAO_TESTS_ADAPTERS_HTTP_TEST_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace xiaohao::testing {

struct HttpAnswer {
  int status = 0;  // 0: no answer (connection failed or closed early)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string ErrorCode() const {
    auto j = Json();
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
  }
};

inline HttpAnswer HttpCall(uint16_t port, const std::string& method, const std::string& target,
                           const std::string& body = "", const std::map<std::string, std::string>& headers = {}) {
  HttpAnswer a;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return a;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return a;
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) return a;
  a.status = std::atoi(raw.c_str() + 9);
  size_t line = raw.find("\r\n") + 2;
  while (line < head_end) {
    size_t eol = raw.find("\r\n", line);
    std::string h = raw.substr(line, eol - line);
    size_t colon = h.find(':');
    if (colon != std::string::npos) {
      std::string name = h.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = colon + 1;
      while (v < h.size() && h[v] == ' ') ++v;
      a.headers[name] = h.substr(v);
    }
    line = eol + 2;
  }
  a.body = raw.substr(head_end + 4);
  if (auto it = a.headers.find("content-length"); it != a.headers.end())
    a.body.resize(std::min(a.body.size(), static_cast<size_t>(std::stoull(it->second))));
  return a;
}

}  // namespace xiaohao::testing

#endif  // XIAOHAO_TESTS_ADAPTERS_HTTP_TEST_CLIENT_H_
