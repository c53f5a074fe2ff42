// The only file that includes RESTinio (see http_server.h).
#include "adapters/http_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <restinio/all.hpp>
#include <thread>
#include <vector>

namespace xiaohao {

namespace {

// Multi-threaded traits (strands around each connection), no logging of our
// traffic by RESTinio itself.
using Traits = restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t>;
using Server = restinio::http_server_t<Traits>;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

Status ParseListenAddress(const std::string& listen, std::string* host, uint16_t* port) {
  auto bad = [&]() {
    return Status::InvalidArgument("listen address \"" + listen + "\" is not host:port (e.g. 127.0.0.1:8080)",
                                   "--listen");
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return bad();
  std::string h = listen.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']') return bad();
    h = h.substr(1, h.size() - 2);
  }
  std::string p = listen.substr(colon + 1);
  if (p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) return bad();
  unsigned long v = std::stoul(p);
  if (v > 65535) return bad();
  asio::error_code ec;
  asio::ip::make_address(h, ec);
  if (ec) return bad();
  *host = h;
  *port = static_cast<uint16_t>(v);
  return Status::OK();
}

struct HttpServer::Impl {
  Service* service = nullptr;
  HttpServerOptions options;
  asio::io_context ioc;
  std::unique_ptr<Server> server;
  std::vector<std::thread> threads;
  std::atomic<uint16_t> port{0};
  // Requests whose answer is not yet written: counted from the handler's
  // start to RESTinio's write notification.
  std::atomic<int64_t> unanswered{0};
  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;  // GUARDED_BY(mu)
  bool stopped = false;         // GUARDED_BY(mu)

  void Log(const std::string& line) {
    if (options.log) options.log(line);
  }

  restinio::request_handling_status_t OnRequest(const restinio::request_handle_t& req) {
    unanswered.fetch_add(1);
    HttpRequest r;
    r.method = req->header().method().c_str();
    r.target = std::string(req->header().request_target());
    req->header().for_each_field([&](const restinio::http_header_field_t& f) {
      std::string name(f.name());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      r.headers[name] = std::string(f.value());
    });
    r.body = req->body();
    HttpResponse out = service->Handle(r);

    auto resp = req->create_response(restinio::http_status_line_t{
        restinio::http_status_code_t{static_cast<std::uint16_t>(out.status)}, ReasonPhrase(out.status)});
    resp.append_header(restinio::http_field::content_type, out.content_type);
    resp.append_header(restinio::http_field::server, "xiaohao");
    for (const auto& [k, v] : out.headers) resp.append_header(k, v);
    resp.set_body(std::move(out.body));
    resp.done([this](const asio::error_code&) { unanswered.fetch_sub(1); });
    return restinio::request_accepted();
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

uint16_t HttpServer::port() const { return impl_->port.load(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(Service* service, const HttpServerOptions& options) {
  std::string host;
  uint16_t port = 0;
  RETURN_IF_ERROR(ParseListenAddress(options.listen, &host, &port));
  auto impl = std::make_unique<Impl>();
  impl->service = service;
  impl->options = options;
  Impl* raw = impl.get();
  try {
    impl->server = std::make_unique<Server>(
        restinio::external_io_context(impl->ioc),
        restinio::server_settings_t<Traits>{}
            .address(asio::ip::make_address(host))
            .port(port)
            .request_handler([raw](restinio::request_handle_t req) { return raw->OnRequest(req); })
            .incoming_http_msg_limits(
                restinio::incoming_http_msg_limits_t{}.max_body_size(options.transport_max_body_bytes))
            .acceptor_post_bind_hook([raw](asio::ip::tcp::acceptor& a) {
              asio::error_code ec;
              auto ep = a.local_endpoint(ec);
              if (!ec) raw->port.store(ep.port());
            }));
    impl->server->open_sync();
  } catch (const std::exception& e) {
    return Status::IOError("cannot listen on " + options.listen + ": " + e.what());
  }
  size_t n = std::max<size_t>(1, options.threads);
  for (size_t i = 0; i < n; ++i)
    impl->threads.emplace_back([raw]() {
      for (;;) {
        try {
          raw->ioc.run();
          return;
        } catch (const std::exception& e) {
          // A handler threw past RESTinio: log and keep serving.
          raw->Log(std::string("io thread: ") + e.what());
        }
      }
    });
  impl->Log("listening on " + options.listen + " (port " + std::to_string(impl->port.load()) + ")");
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Shutdown() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.stopped) return;
    m.stopped = true;
    m.stop_requested = true;
  }
  m.cv.notify_all();
  m.Log("draining: new requests are answered 503; waiting for those in flight");
  m.service->BeginDrain();
  auto deadline = std::chrono::steady_clock::now() + m.options.drain_timeout;
  while ((m.service->InFlight() > 0 || m.unanswered.load() > 0) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (m.unanswered.load() > 0)
    m.Log("drain timeout: " + std::to_string(m.unanswered.load()) + " answers unwritten (their commands are durable)");
  // Close the listener and the connections on the io threads, then stop.
  try {
    m.server->close_async([&m]() noexcept { m.ioc.stop(); },
                          [&m](std::exception_ptr) noexcept { m.ioc.stop(); });
  } catch (const std::exception&) {
    m.ioc.stop();
  }
  for (auto& t : m.threads)
    if (t.joinable()) t.join();
  m.threads.clear();
  m.server.reset();
  m.Log("stopped");
}

void HttpServer::RunUntilSignal() {
  Impl& m = *impl_;
  asio::signal_set signals(m.ioc, SIGINT, SIGTERM);
  signals.async_wait([&m](const asio::error_code& ec, int signo) {
    if (ec) return;
    m.Log(std::string("received ") + (signo == SIGTERM ? "SIGTERM" : "SIGINT"));
    {
      std::lock_guard<std::mutex> lock(m.mu);
      m.stop_requested = true;
    }
    m.cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(m.mu);
    m.cv.wait(lock, [&m] { return m.stop_requested; });
  }
  asio::error_code ignored;
  signals.cancel(ignored);
  Shutdown();
}

}  // namespace xiaohao
