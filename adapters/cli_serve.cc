// `xiaohao serve`: the HTTP/JSON service on a data directory.
//
// Start-up order: workflows, calendars and jurisdictions; the store; a full
// verification of the hash chain (a broken chain refuses to start unless
// --read-only); the HTTP listener. The line "listening on http://HOST:PORT"
// goes to stdout once the port is bound (with --listen 127.0.0.1:0 it names
// the port chosen), everything else to stderr.
//
// The chain head (position and hash) is exported at start, daily and on
// SIGUSR1 to <data>/chain-heads.jsonl and the log (adapters/chain_head_log.h):
//   kill -USR1 $(pidof xiaohao)
#include <signal.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <memory>
#include <thread>

#include "adapters/chain_head_log.h"
#include "adapters/cli.h"
#include "adapters/http_server.h"
#include "adapters/service.h"
#include "store/time_format.h"

namespace xiaohao {

namespace {

struct ServeArgs {
  std::string data;
  std::string listen = "127.0.0.1:8080";
  std::string workflows;
  bool read_only = false;
  size_t threads = 8;
  size_t max_body_bytes = 1 << 20;
  std::string alert_outbox;
  std::string alert_webhook;
  std::string chain_head_log;
};

void LogLine(const std::string& line) {
  std::cerr << FormatRfc3339Utc(SystemClock::Default()->Now()) << " xiaohao serve: " << line << std::endl;
}

// Waits for SIGUSR1 on its own thread (the signal is blocked in every
// thread, so none other takes it) and asks for a chain-head record.
class HeadRequestWatcher {
 public:
  explicit HeadRequestWatcher(ChainHeadLog* log) : log_(log), thread_([this] { Run(); }) {}
  ~HeadRequestWatcher() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Run() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    timespec tick{0, 200 * 1000 * 1000};
    while (!stop_) {
      if (sigtimedwait(&set, nullptr, &tick) == SIGUSR1) log_->RequestRecord();
    }
  }
  ChainHeadLog* log_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int Serve(const ServeArgs& a) {
  // Before any thread starts, so every thread inherits the mask and SIGUSR1
  // reaches only the watcher, never the default action (which terminates).
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);

  ServiceOptions so;
  so.data_dir = a.data;
  so.workflows_dir = a.workflows.empty() ? DefaultWorkflowsDir() : a.workflows;
  so.read_only = a.read_only;
  so.max_body_bytes = a.max_body_bytes;
  so.alert_outbox = a.alert_outbox;
  so.alert_webhook = a.alert_webhook;
  so.log = LogLine;
  auto service = Service::Open(so);
  if (!service.ok()) {
    std::cerr << "xiaohao serve: " << service.status().ToString() << "\n";
    return 2;
  }
  LogLine((*service)->StartupReport());

  ChainHeadLogOptions co;
  co.data_dir = a.data;
  co.path = a.chain_head_log;
  co.log = LogLine;
  auto heads = ChainHeadLog::Start(co);
  if (!heads.ok()) {
    std::cerr << "xiaohao serve: " << heads.status().ToString() << "\n";
    return 2;
  }
  HeadRequestWatcher watcher(heads->get());

  // The deadline scheduler and the alert sinks run inside the service
  // (Service::Open starts them); they stop after the HTTP server has drained,
  // when the service is closed, before its store.

  HttpServerOptions ho;
  ho.listen = a.listen;
  ho.threads = a.threads;
  ho.transport_max_body_bytes = std::max<size_t>(a.max_body_bytes * 4, 8 << 20);
  ho.log = LogLine;
  auto server = HttpServer::Start(service->get(), ho);
  if (!server.ok()) {
    std::cerr << "xiaohao serve: " << server.status().ToString() << "\n";
    return 2;
  }
  std::string host = a.listen.substr(0, a.listen.rfind(':'));
  std::cout << "listening on http://" << host << ":" << (*server)->port() << std::endl;
  (*server)->RunUntilSignal();
  server->reset();
  service->reset();  // closes the store after the last answer
  // The last head, with the store closed: what a restart must start from.
  auto last = ChainHeadLog::RecordOnce(co, "exit");
  if (!last.ok()) LogLine("chain head not recorded (exit): " + last.status().ToString());
  LogLine("exited cleanly");
  return 0;
}

}  // namespace

void RegisterServeCommands(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand(
      "serve",
      "Serves the HTTP/JSON API (doc/openapi.yaml) on a data directory until SIGINT/SIGTERM,\n"
      "then finishes the requests in flight and exits 0. Users and tokens: `xiaohao users`.\n"
      "Example:\n  xiaohao serve --data ./var --listen 127.0.0.1:8080\n"
      "  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/v1/verify");
  serve->add_option("--data", a->data, "Data directory")->required();
  serve->add_option("--listen", a->listen, "host:port to listen on (default 127.0.0.1:8080; port 0 = any)");
  serve->add_option("--workflows", a->workflows, "Workflows directory (default: the repository's workflows/)");
  serve->add_flag("--read-only", a->read_only,
                  "Serve reads only (also starts on a data directory whose hash chain is broken)");
  serve->add_option("--threads", a->threads, "HTTP worker threads (default 8)");
  serve->add_option("--alert-outbox", a->alert_outbox,
                    "JSONL file that receives every alert, synced (default <data>/alerts-outbox.jsonl); "
                    "a character device such as /dev/stdout gets them as a stream, unsynced");
  serve->add_option("--alert-webhook", a->alert_webhook,
                    "URL that receives each alert as a JSON POST, retried until it answers 2xx");
  serve->add_option("--chain-head-log", a->chain_head_log,
                    "JSONL file receiving the chain head at start, daily and on SIGUSR1 (default <data>/chain-heads.jsonl)");
  serve->add_option("--max-body-bytes", a->max_body_bytes, "Largest request body answered (default 1048576); more is 413");
  serve->callback([a, exit_code]() { *exit_code = Serve(*a); });
}

}  // namespace xiaohao
