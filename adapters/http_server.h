// HttpServer: puts a Service on a TCP socket with RESTinio, on an Asio
// io_context this class drives itself (RESTinio's own run() traps SIGINT
// only and stops at once, dropping requests in flight).
//
// Requests are handled synchronously on a pool of io threads: a command
// blocks its thread until the store has fsynced it, and concurrent commands
// share syncs through the store's group commit, so the pool size bounds the
// commands in flight.
//
// Shutdown (Shutdown(), or SIGINT/SIGTERM in RunUntilSignal): the service
// starts answering new requests 503, requests in flight finish and their
// answers are written (bounded by drain_timeout), then the listener and the
// connections close and the threads stop. Every command that was answered
// 2xx was durable before its answer, so nothing acknowledged is lost.
//
// All RESTinio includes live in http_server.cc: it is header-only and slow to
// compile, and nothing else needs to see it.
//
// Thread safety: Start, Shutdown and RunUntilSignal are called from one
// controlling thread. port() from any.
#ifndef XIAOHAO_ADAPTERS_HTTP_SERVER_H_
#define XIAOHAO_ADAPTERS_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "adapters/service.h"
#include "store/status.h"

namespace xiaohao {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port, port 0 = any free port; "[::1]:8080" for IPv6
  size_t threads = 8;
  // RESTinio's own body limit, which closes the connection without an
  // answer: keep it well above ServiceOptions::max_body_bytes, which answers 413.
  size_t transport_max_body_bytes = 8 << 20;
  std::chrono::milliseconds drain_timeout{10000};
  // Called with one line per notable event (listening, draining, stopped).
  std::function<void(const std::string&)> log;
};

class HttpServer {
 public:
  // Binds, then serves on background threads. `service` is not owned and
  // must outlive the server. kInvalidArgument for a bad listen address,
  // kIOError when the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(Service* service, const HttpServerOptions& options);
  ~HttpServer();  // Shutdown() if not done

  // The bound port (useful with port 0).
  uint16_t port() const;

  // Drains and stops (see the file comment). Idempotent.
  void Shutdown();

  // Blocks until SIGINT or SIGTERM (or Shutdown from elsewhere), then
  // Shutdown(). For `xiaohao serve`.
  void RunUntilSignal();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" / "[v6]:port". kInvalidArgument when malformed.
Status ParseListenAddress(const std::string& listen, std::string* host, uint16_t* port);

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_HTTP_SERVER_H_
