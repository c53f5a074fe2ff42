// Service: the HTTP/JSON API of xiaohao, independent of the HTTP library.
//
// A Service owns the event store, the workflow registry, the calendar and the
// jurisdiction tree of one data directory, and answers requests given as
// plain structs. adapters/http_server.h puts it on a socket (RESTinio); tests
// may call Handle directly. The contract is doc/openapi.yaml; in short:
//
//   POST /v1/cases                      open a case          201 {case_id, version, ...}
//   POST /v1/cases/{id}/commands        send a command       200 {case_id, version, events}
//   GET  /v1/cases/{id}?as_of=&as_at=   a case's state, now or as it stood
//                                       200 {case_id, workflow, state, version, deadlines, as_of, as_at}
//   GET  /v1/cases/{id}/events          its events           200 {events, next_cursor}
//   GET  /v1/cases/{id}/audit?late_days=3  its audit trail, checked against the chain
//                                       200 {case_id, chain_ok, late_after_days, entries, next_cursor}
//   GET  /v1/verify                     the hash chain       200 {ok, events, head}
//   GET  /v1/deadlines?status=overdue|upcoming&within=7d    open deadlines {deadlines, next_cursor}
//   GET  /v1/risk-list?office=&quarter=&source=&product_category=&enterprise=&risk_level=&state=
//        &items=1&as_of=&as_at=        风险清单 {rows, items, next_cursor} (items paged)
//   GET  /v1/reports/quarterly?quarter=2025Q3&format=json|csv|xlsx&<risk-list filters>
//                                       the quarterly table; CSV/XLSX as an attachment
//   GET  /v1/rates?office=&year=&as_of=&as_at=              supervision rates
//   GET  /v1/plan?plan=&office=&quarter=&as_of=&as_at=      inspection plan progress {rows, next_cursor}
//   GET  /v1/enterprises/{code}/dossier?as_of=&as_at=       监管档案 {register, cases, next_cursor}
//   GET  /v1/openapi.yaml, /healthz, /metrics (no token)
//
// The reports' JSON is that of `xiaohao report ... --format json`, built by
// the same code (adapters/reports.h), with the same filters and errors: a
// bad filter value is 400 naming the parameter in "field" and saying what
// is accepted; an unknown query parameter of a report is 400
// "unknown_parameter". as_of is record time (what the system knew), as_at
// business time (what had happened): YYYY-MM-DD (end of that day, CST) or
// RFC 3339.
//
// Lists are paged: ?limit=1..1000 (default 100) and ?cursor=<next_cursor of
// the page before>; next_cursor is null on the last page. Cursors are keyed
// on the list's own order (case id, log position, due instant), so paging
// while new items arrive neither repeats nor skips an item already passed;
// a cursor this endpoint did not give out is 400 "invalid_cursor".
//
// Authentication: "Authorization: Bearer <token>" (adapters/users.h).
// Authorization: a user sees and acts on cases whose unit (facts.office) is
// within its unit's subtree (JurisdictionTree::IsWithin); an enterprise only
// on cases whose facts.enterprise is its own; an auditor never writes; an
// admin everywhere. Reports: the risk list, quarterly report, rates and plan
// are for regulators and auditors (an enterprise gets 403); they cover the
// caller's unit unless ?office= names another, which must be in the
// caller's subtree (403 "outside_jurisdiction" otherwise, 404 for a unit not
// in the tree); plan rows are those of offices in the covered subtree. A
// dossier: an enterprise reads its own only (403 for another's); a regulator
// or auditor gets the cases of its subtree naming the enterprise and the
// register record when the enterprise's office is in its subtree, and 403
// when neither is. The audit trail and past states are visible as the case
// is now. The engine checks roles and jurisdiction again on every
// command (engine/workflow.cc), so the service's checks are a first gate,
// not the only one.
//
// Errors: {"error": {"code", "message", "field"}} with a stable snake_case
// code: 400 malformed, 401 token, 403 role or jurisdiction, 404 unknown case
// or route, 405, 409 version conflict (+ "current_version"), 413 body over
// max_body_bytes, 422 the workflow refuses (code = the engine's rejection
// code) or an idempotency key reused with another body, 503 read-only store,
// a store that went read-only after a fault, or a draining server.
//
// Idempotency: POSTs may carry "Idempotency-Key" (1..200 bytes). The key is
// scoped to the caller. Its record (SHA-256 of method, path and body, and the
// first 2xx answer) is kept in the store's aux keyspace under "svc/idem/";
// the command id given to the store is derived from caller and key, so a
// crash between the append and the record still writes nothing twice. The
// key is checked before expected_version.
//
// Thread safety: Handle may be called from many threads at once. Commands on
// one case are serialized inside the service, so expected_version is checked
// and the command appended without another command of this service between
// them (the store's lock on the data directory keeps other processes out).
#ifndef XIAOHAO_ADAPTERS_SERVICE_H_
#define XIAOHAO_ADAPTERS_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/clock.h"
#include "store/status.h"

namespace xiaohao {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as received, e.g. "/v1/cases/x/events?limit=10"
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

struct ServiceOptions {
  std::string data_dir;       // the store; users.json lives here too
  std::string workflows_dir;  // definitions/, calendars/, jurisdictions/
  std::string openapi_path;   // served at /v1/openapi.yaml; default <workflows_dir>/../doc/openapi.yaml
  // Open the store read-only and refuse commands (503). Also the way to
  // serve reads from a data directory whose chain fails verification.
  bool read_only = false;
  // Bodies over this are answered 413. The HTTP layer must accept somewhat
  // more than this, or a large body is cut off without an answer.
  size_t max_body_bytes = 1 << 20;
  Clock* clock = nullptr;  // defaults to SystemClock::Default()
  // Deadlines and alerts (engine/deadline_timer.h, adapters/alerts.h).
  bool run_scheduler = true;  // tests turn the timer off and drive time themselves
  std::string alert_outbox;   // JSONL file; default <data_dir>/alerts-outbox.jsonl
  std::string alert_webhook;  // http(s) URL; empty = no webhook
  // One line per refused or failed request (status >= 400): method, path,
  // status, error code, caller. Empty = no log. Called from Handle's thread.
  std::function<void(const std::string&)> log;
};

class Service {
 public:
  // Loads the workflows, calendars and jurisdictions, opens the store,
  // verifies the hash chain (refusing a broken chain unless read_only), and
  // records the loaded workflow versions in the store.
  static Result<std::unique_ptr<Service>> Open(const ServiceOptions& options);
  ~Service();  // closes the store; every acknowledged command is already durable

  // Answers one request. Never throws.
  HttpResponse Handle(const HttpRequest& request);

  // Graceful stop: requests that arrive from now on are answered 503
  // "shutting_down", except /healthz, which answers 503 with status
  // "draining"; those already in Handle finish.
  void BeginDrain();
  // Requests inside Handle right now.
  size_t InFlight() const;

  // The verification done at Open (for logs).
  std::string StartupReport() const;

 private:
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xiaohao

#endif  // XIAOHAO_ADAPTERS_SERVICE_H_
