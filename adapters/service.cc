#include "adapters/service.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "adapters/alerts.h"
#include "adapters/event_json.h"
#include "adapters/metrics.h"
#include "adapters/reports.h"
#include "adapters/tabular.h"
#include "adapters/users.h"
#include "engine/audit_trail.h"
#include "engine/calendar.h"
#include "engine/command_handler.h"
#include "engine/deadline_index.h"
#include "engine/deadline_scheduler.h"
#include "engine/deadline_timer.h"
#include "engine/risk_list.h"
#include "engine/risk_projection.h"
#include "engine/supervision_rates.h"
#include "engine/view_reader.h"
#include "engine/jurisdiction.h"
#include "engine/rejection.h"
#include "engine/workflow_registry.h"
#include "store/event_store.h"
#include "store/time_format.h"
#include "store/sha256.h"
#include "store/utf8.h"

namespace xiaohao {

using nlohmann::json;

namespace {

constexpr size_t kDefaultPageSize = 100;
constexpr size_t kMaxPageSize = 1000;
constexpr size_t kMaxIdempotencyKey = 200;
constexpr char kIdempotencyPrefix[] = "svc/idem/";

// An answer that is not a success, before it becomes JSON.
struct ApiError {
  int status = 500;
  std::string code;
  std::string message;
  std::string field;
  std::optional<uint64_t> current_version;
};

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  // Replace, not throw, on bytes that are not UTF-8: Dispatch refuses such
  // paths and queries, but a 500 for text we echo back would still be wrong.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse ErrorResponse(const ApiError& e) {
  json err{{"code", e.code}, {"message", e.message}, {"field", e.field.empty() ? json(nullptr) : json(e.field)}};
  if (e.current_version) err["current_version"] = *e.current_version;
  HttpResponse r = JsonResponse(e.status, json{{"error", err}});
  if (e.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

// The engine's "<code>: <zh> | <en>" without its code.
std::string WithoutCode(const std::string& message, const std::string& code) {
  if (!code.empty() && message.rfind(code + ": ", 0) == 0) return message.substr(code.size() + 2);
  return message;
}

// Status codes to HTTP (service.h lists the contract).
ApiError FromStatus(const Status& s) {
  ApiError e;
  e.message = s.message();
  e.field = s.field();
  std::string rc = RejectionCode(s);
  switch (s.code()) {
    case StatusCode::kInvalidArgument: e.status = 400; e.code = "invalid_argument"; break;
    case StatusCode::kUnauthenticated: e.status = 401; e.code = "unauthenticated"; break;
    case StatusCode::kPermissionDenied:
      e.status = 403;
      e.code = rc.empty() ? "permission_denied" : rc;
      e.message = WithoutCode(s.message(), rc);
      break;
    case StatusCode::kNotFound: e.status = 404; e.code = "not_found"; break;
    case StatusCode::kVersionConflict:
      e.status = 409;
      e.code = "version_conflict";
      e.current_version = s.actual_version();
      break;
    case StatusCode::kAlreadyExists: e.status = 409; e.code = "already_exists"; break;
    case StatusCode::kRejected:
      e.status = 422;
      e.code = rc.empty() ? "rejected" : rc;
      e.message = WithoutCode(s.message(), rc);
      break;
    // A calendar year not yet published, a workflow version not loaded: the
    // command cannot be decided now (DOMAIN.md: never guessed).
    case StatusCode::kFailedPrecondition: e.status = 422; e.code = "failed_precondition"; break;
    case StatusCode::kReadOnly: e.status = 503; e.code = "read_only"; break;
    case StatusCode::kIOError: e.status = 503; e.code = "store_failed"; break;
    case StatusCode::kCorruption: e.status = 500; e.code = "corruption"; break;
    default: e.status = 500; e.code = "internal"; break;
  }
  return e;
}


std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    // Only uniqueness matters here, not secrecy: fall back to time and a counter.
    static std::atomic<uint64_t> counter{0};
    raw = std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "/" +
          std::to_string(counter.fetch_add(1));
  }
  return Sha256Hex(raw).substr(0, bytes * 2);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(const std::string& s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    parts.push_back(PercentDecode(path.substr(i, j - i), false));
    i = j;
  }
  return parts;
}

std::map<std::string, std::string> ParseQuery(const std::string& q) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < q.size()) {
    size_t amp = q.find('&', i);
    if (amp == std::string::npos) amp = q.size();
    std::string kv = q.substr(i, amp - i);
    size_t eq = kv.find('=');
    if (!kv.empty())
      out[PercentDecode(kv.substr(0, eq), true)] =
          eq == std::string::npos ? "" : PercentDecode(kv.substr(eq + 1), true);
    i = amp + 1;
  }
  return out;
}

// One lock per key (a case id, an idempotency scope), held while a command
// goes from check to durable append.
class KeyedMutex {
 public:
  class Guard {
   public:
    Guard(KeyedMutex* m, std::string key) : m_(m), key_(std::move(key)) {}
    Guard(Guard&& o) noexcept : m_(o.m_), key_(std::move(o.key_)) { o.m_ = nullptr; }
    Guard(const Guard&) = delete;
    ~Guard() {
      if (m_ != nullptr) m_->Unlock(key_);
    }

   private:
    KeyedMutex* m_;
    std::string key_;
  };
  Guard Lock(const std::string& key) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return held_.count(key) == 0; });
    held_.insert(key);
    return Guard(this, key);
  }

 private:
  void Unlock(const std::string& key) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_.erase(key);
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> held_;  // GUARDED_BY(mu_)
};

// The unique part of a new case id: its UTC date, for people reading ids,
// then 48 random bits, e.g. "20250926-3f9a0c12be47".
std::string NewCaseUnique(UnixMicros now) {
  std::string date = FormatRfc3339Utc(now).substr(0, 10);  // YYYY-MM-DD
  return date.substr(0, 4) + date.substr(5, 2) + date.substr(8, 2) + "-" + RandomHex(6);
}

bool Is2xx(int status) { return status >= 200 && status < 300; }

std::string HexOf(const std::string& s) {
  static const char* kHex = "0123456789abcdef";
  std::string h;
  h.reserve(s.size() * 2);
  for (unsigned char c : s) {
    h.push_back(kHex[c >> 4]);
    h.push_back(kHex[c & 15]);
  }
  return h;
}
bool FromHex(const std::string& h, std::string* out) {
  if (h.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < h.size(); i += 2) {
    int hi = HexValue(h[i]), lo = HexValue(h[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

// A page cursor: "<kind>.<hex of the last key given out>". The kind names
// the list, so a cursor of one list is refused by another. Opaque to clients.
std::string MakeCursor(const std::string& kind, const std::string& key) { return kind + "." + HexOf(key); }

// Keeps, of `arr` (sorted by `key` ascending), the `limit` elements after
// the key `after` ("" = from the first); returns the cursor of the next
// page, or null when this page is the last. Keys are the list's own (a case
// id, a position), so a page read after new items appeared neither repeats
// nor skips one it already passed.
json TakePage(json* arr, const std::function<std::string(const json&)>& key, const std::string& after, size_t limit,
              const std::string& kind) {
  json page = json::array();
  json next = nullptr;
  for (auto& e : *arr) {
    if (!after.empty() && key(e) <= after) continue;
    if (page.size() == limit) {
      next = MakeCursor(kind, key(page.back()));
      break;
    }
    page.push_back(std::move(e));
  }
  *arr = std::move(page);
  return next;
}

// Keys that sort as numbers do.
std::string PaddedKey(uint64_t n) {
  char b[24];
  std::snprintf(b, sizeof b, "%020llu", static_cast<unsigned long long>(n));
  return b;
}

// Only [A-Za-z0-9_-] of a unit id goes into a download's file name.
std::string FileNamePart(const std::string& s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') out.push_back(c);
  return out.substr(0, 64);
}

}  // namespace

struct Service::Impl {
  // One request on its way through a route.
  struct Call {
    const HttpRequest& req;
    std::string path;
    std::map<std::string, std::string> query;
    std::vector<std::string> params;  // the {placeholders} of the route, in order
    User user;
  };
  using Handler = HttpResponse (Impl::*)(Call&);
  struct Route {
    const char* method;
    std::vector<std::string> pattern;  // "{}" matches one segment
    std::string name;                  // for metrics: "GET /v1/cases/{id}"
    bool needs_token;
    Handler handler;
  };

  ServiceOptions options;
  Clock* clock = nullptr;
  BusinessCalendar calendar;
  JurisdictionTree tree;
  WorkflowRegistry registry;
  // The deadline index is a commit hook of the store: created before it,
  // destroyed after it.
  std::unique_ptr<DeadlineIndex> deadline_index = std::make_unique<DeadlineIndex>();
  std::unique_ptr<EventStore> store;
  std::unique_ptr<CommandHandler> commands;
  // Destroyed before the store: the timer and the alert sinks use it.
  std::unique_ptr<DeadlineScheduler> scheduler;
  std::unique_ptr<DeadlineTimer> timer;
  std::unique_ptr<OutboxSink> outbox;
  std::unique_ptr<WebhookSink> webhook;
  std::unique_ptr<RiskListProjection> projection;
  std::unique_ptr<Authenticator> auth;
  ServiceMetrics metrics;
  KeyedMutex case_locks;
  KeyedMutex idempotency_locks;
  std::vector<Route> routes;
  std::atomic<bool> draining{false};
  std::atomic<size_t> in_flight{0};
  std::atomic<uint64_t> scheduler_errors{0};  // failed scheduler runs since start
  std::string startup_report;

  ~Impl() {
    // Stop the timer's pokes before the timer goes; the store outlives both.
    deadline_index->SetOnScheduled(nullptr);
    projection.reset();
    webhook.reset();
    outbox.reset();
    timer.reset();
  }

  // The deadline scheduler and the alert sinks run inside the service
  // (engine/deadline_timer.h, adapters/alerts.h).
  Status StartDeadlinesAndAlerts() {
    scheduler = std::make_unique<DeadlineScheduler>(
        SchedulerDeps{store.get(), deadline_index.get(), commands.get(), &registry, &calendar, &tree});
    // A calendar file added or amended since the last start: recompute the
    // open deadlines it affects, visibly, on their cases.
    // The scan parses every open deadline, so it runs only when the loaded
    // calendar versions differ from those of the last start.
    json loaded_versions = json::object();
    for (int y : calendar.Years()) loaded_versions[std::to_string(y)] = calendar.VersionOf(y);
    auto seen = store->GetAux("svc/calendar_versions");
    if (!seen.ok()) return seen.status();
    if (!seen->has_value() || **seen != loaded_versions.dump()) {
      auto recomputed = scheduler->RecomputeForCalendar(clock->Now());
      if (!recomputed.ok()) return recomputed.status().WithContext("recomputing deadlines for the calendar");
      if (*recomputed > 0)
        startup_report += "; " + std::to_string(*recomputed) + " deadlines recomputed for a changed calendar";
      AuxBatch b;
      b.Put("svc/calendar_versions", loaded_versions.dump());
      RETURN_IF_ERROR(store->WriteAux(b, true));
    }
    if (options.run_scheduler) {
      DeadlineTimerOptions to;
      to.on_error = [this](const Status& s) {
        scheduler_errors.fetch_add(1);
        std::fprintf(stderr, "deadline scheduler: %s\n", s.ToString().c_str());
      };
      to.on_run = [](const RunReport& r) {
        std::fprintf(stderr, "deadline scheduler: %zu warnings, %zu overdue, %zu escalations written\n", r.warnings,
                     r.overdue, r.escalations);
      };
      timer = std::make_unique<DeadlineTimer>(store.get(), scheduler.get(), deadline_index.get(), clock, to);
      DeadlineTimer* t = timer.get();
      deadline_index->SetOnScheduled([t](UnixMicros at, uint64_t position) { t->Poke(at, position); });
      timer->Start();
    }
    // The risk-list projection follows the log (engine/risk_projection.h).
    projection = std::make_unique<RiskListProjection>(store.get(), &registry);
    RETURN_IF_ERROR(projection->Start().WithContext("starting the risk-list projection"));
    std::string outbox_path = options.alert_outbox.empty() ? options.data_dir + "/alerts-outbox.jsonl" : options.alert_outbox;
    auto ob = OutboxSink::Start(store.get(), outbox_path);
    if (!ob.ok()) return ob.status();
    outbox = std::move(*ob);
    if (!options.alert_webhook.empty()) {
      WebhookOptions wo;
      wo.url = options.alert_webhook;
      auto wh = WebhookSink::Start(store.get(), wo);
      if (!wh.ok()) return wh.status();
      webhook = std::move(*wh);
    }
    return Status::OK();
  }

  void BuildRoutes() {
    // The routing table: each endpoint with its handler below and its
    // entry in doc/openapi.yaml and in the list at the top of service.h.
    routes = {
        {"GET", {"healthz"}, "GET /healthz", false, &Impl::Healthz},
        {"GET", {"metrics"}, "GET /metrics", false, &Impl::Metrics},
        {"GET", {"v1", "openapi.yaml"}, "GET /v1/openapi.yaml", false, &Impl::OpenApi},
        {"POST", {"v1", "cases"}, "POST /v1/cases", true, &Impl::OpenCase},
        {"GET", {"v1", "cases", "{}"}, "GET /v1/cases/{id}", true, &Impl::GetCase},
        {"POST", {"v1", "cases", "{}", "commands"}, "POST /v1/cases/{id}/commands", true, &Impl::SendCommand},
        {"GET", {"v1", "cases", "{}", "events"}, "GET /v1/cases/{id}/events", true, &Impl::ListEvents},
        {"GET", {"v1", "verify"}, "GET /v1/verify", true, &Impl::VerifyChain},
        {"GET", {"v1", "deadlines"}, "GET /v1/deadlines", true, &Impl::ListDeadlines},
        {"GET", {"v1", "risk-list"}, "GET /v1/risk-list", true, &Impl::RiskList},
        {"GET", {"v1", "cases", "{}", "audit"}, "GET /v1/cases/{id}/audit", true, &Impl::CaseAudit},
        {"GET", {"v1", "rates"}, "GET /v1/rates", true, &Impl::Rates},
        {"GET", {"v1", "plan"}, "GET /v1/plan", true, &Impl::PlanProgress},
        {"GET", {"v1", "enterprises", "{}", "dossier"}, "GET /v1/enterprises/{code}/dossier", true, &Impl::Dossier},
        {"GET", {"v1", "reports", "quarterly"}, "GET /v1/reports/quarterly", true, &Impl::QuarterlyReport},
    };
  }

  static bool Match(const Route& r, const std::vector<std::string>& segs, std::vector<std::string>* params) {
    if (r.pattern.size() != segs.size()) return false;
    params->clear();
    for (size_t i = 0; i < segs.size(); ++i) {
      if (r.pattern[i] == "{}") {
        if (segs[i].empty()) return false;
        params->push_back(segs[i]);
      } else if (r.pattern[i] != segs[i]) {
        return false;
      }
    }
    return true;
  }

  HttpResponse Dispatch(const HttpRequest& req, std::string* route_name, std::string* caller) {
    std::string target = req.target;
    size_t q = target.find('?');
    std::string path = target.substr(0, q);
    std::string query = q == std::string::npos ? "" : target.substr(q + 1);
    std::vector<std::string> segs = SplitPath(path);
    // Ids and filter values are echoed in answers and may end up in the
    // store: text that is not UTF-8 is refused here, before routing.
    bool path_ok = IsValidUtf8(path);
    for (const auto& s : segs) path_ok = path_ok && IsValidUtf8(s);
    if (!path_ok) {
      *route_name = "unmatched";
      return ErrorResponse({400, "invalid_utf8",
                            "the path is not valid UTF-8 (also after percent-decoding); send ids as UTF-8, "
                            "percent-encoded",
                            "path", {}});
    }
    std::map<std::string, std::string> query_params = ParseQuery(query);
    for (const auto& [k, v] : query_params) {
      if (!IsValidUtf8(k) || !IsValidUtf8(v)) {
        *route_name = "unmatched";
        return ErrorResponse({400, "invalid_utf8",
                              "a query parameter is not valid UTF-8 (also after percent-decoding); send values as "
                              "UTF-8, percent-encoded",
                              IsValidUtf8(k) ? k : "query", {}});
      }
    }

    const Route* route = nullptr;
    std::vector<std::string> params;
    bool path_known = false;
    for (const auto& r : routes) {
      if (!Match(r, segs, &params)) continue;
      path_known = true;
      if (req.method == r.method) {
        route = &r;
        break;
      }
    }
    if (route == nullptr) {
      *route_name = "unmatched";
      if (path_known) {
        HttpResponse r = ErrorResponse({405, "method_not_allowed", req.method + " is not allowed on " + path, "", {}});
        return r;
      }
      return ErrorResponse({404, "no_route", "no endpoint " + path + " (see /v1/openapi.yaml)", "", {}});
    }
    *route_name = route->name;
    // /healthz still answers while draining, so that a probe or a load
    // balancer sees why (its status is "draining", with HTTP 503).
    if (draining.load() && route->handler != &Impl::Healthz)
      return ErrorResponse({503, "shutting_down", "the server is shutting down; retry", "", {}});
    if (req.body.size() > options.max_body_bytes)
      return ErrorResponse({413, "body_too_large",
                            "the body has " + std::to_string(req.body.size()) + " bytes; the limit is " +
                                std::to_string(options.max_body_bytes),
                            "", {}});
    Call call{req, path, std::move(query_params), params, User{}};
    if (route->needs_token) {
      auto it = req.headers.find("authorization");
      std::string token;
      if (it != req.headers.end()) {
        const std::string& h = it->second;
        if (h.size() > 7 && (h.compare(0, 7, "Bearer ") == 0 || h.compare(0, 7, "bearer ") == 0)) token = h.substr(7);
        else return ErrorResponse({401, "unauthenticated", "the Authorization header is not \"Bearer <token>\"", "", {}});
      }
      auto user = auth->Authenticate(token, clock->Now());
      if (!user.ok()) return ErrorResponse(FromStatus(user.status()));
      call.user = std::move(*user);
      *caller = call.user.id;
    }
    return (this->*(route->handler))(call);
  }

  // --- helpers -------------------------------------------------------------

  // "refused GET "/v1/cases/x" 403 outside_jurisdiction user=insp-1": the
  // path goes through JSON string escaping, so hostile bytes (CR, LF, not
  // UTF-8) cannot forge or break log lines; the query is left out because
  // it is the caller's data, not ours to copy into logs.
  void LogRefused(const HttpRequest& req, const HttpResponse& r, const std::string& caller) const {
    std::string path = req.target.substr(0, req.target.find('?'));
    if (path.size() > 200) path = path.substr(0, 200) + "...";
    std::string code;
    auto body = json::parse(r.body, nullptr, false);
    if (body.is_object() && body.contains("error") && body["error"].is_object())
      code = body["error"].value("code", "");
    std::string method = req.method.size() > 16 ? req.method.substr(0, 16) : req.method;
    options.log((r.status >= 500 ? "failed " : "refused ") +
                json(method).dump(-1, ' ', true, json::error_handler_t::replace) + " " +
                json(path).dump(-1, ' ', true, json::error_handler_t::replace) + " " + std::to_string(r.status) +
                " " + (code.empty() ? "-" : code) + " user=" + (caller.empty() ? "-" : caller));
  }

  // May the user see this case? (service.h: jurisdiction subtree, own
  // enterprise, admin everywhere.)
  std::optional<ApiError> CheckVisible(const User& u, const CaseState& s) const {
    return CheckVisible(u, s.case_id, s.office(), s.enterprise());
  }
  std::optional<ApiError> CheckVisible(const User& u, const std::string& case_id, const std::string& office,
                                       const std::string& enterprise) const {
    if (u.role == "admin") return std::nullopt;
    if (u.role == "enterprise") {
      if (!u.enterprise.empty() && enterprise == u.enterprise) return std::nullopt;
      return ApiError{403, "outside_jurisdiction", "an enterprise may see its own cases only", "", {}};
    }
    if (!u.unit.empty() && !office.empty() && tree.IsWithin(office, u.unit)) return std::nullopt;
    return ApiError{403, "outside_jurisdiction",
                    "case " + case_id + " belongs to " + (office.empty() ? "no unit" : office) +
                        ", outside the jurisdiction of " + u.unit,
                    "", {}};
  }

  std::optional<ApiError> CheckWritable(const User& u) const {
    if (options.read_only)
      return ApiError{503, "read_only", "this server was started with --read-only: commands are refused", "", {}};
    Status bg = store->BackgroundError();
    if (!bg.ok())
      return ApiError{503, "store_failed",
                      "the store refuses writes after a fault (" + bg.message() + "); an operator must restart it",
                      "", {}};
    if (u.role == "auditor")
      return ApiError{403, "role_not_allowed", "an auditor reads and never writes", "", {}};
    return std::nullopt;
  }

  // Deeper bodies are refused while parsing, before a document exists:
  // nlohmann copies and compares documents recursively, so a 60 KB body of
  // nested arrays would otherwise exhaust a server thread's stack (found by
  // the hostile-input test under ASan). Payloads are held to the same limit
  // by the store.
  static constexpr int kMaxBodyDepth = 64;

  // Errors carry field "" (not JSON, not an object) or "depth" (too deep).
  static Result<json> ParseBodyObject(const std::string& body) {
    bool too_deep = false;
    json j = json::parse(
        body,
        [&](int depth, json::parse_event_t, json&) {
          if (depth > kMaxBodyDepth) too_deep = true;
          return !too_deep;
        },
        /*allow_exceptions=*/false);
    if (too_deep)
      return Status::InvalidArgument(
          "the body nests deeper than " + std::to_string(kMaxBodyDepth) + " levels of objects and arrays", "depth");
    if (j.is_discarded()) return Status::InvalidArgument("the body is not valid JSON", "");
    if (!j.is_object()) return Status::InvalidArgument("the body must be a JSON object", "");
    return j;
  }

  static HttpResponse BadRequest(const std::string& code, const std::string& message, const std::string& field) {
    return ErrorResponse({400, code, message, field, {}});
  }

  // The page size of a list: ?limit=1..kMaxPageSize, else the default.
  static std::optional<HttpResponse> ParseLimit(const Call& c, size_t* limit) {
    auto it = c.query.find("limit");
    if (it == c.query.end()) return std::nullopt;
    char* end = nullptr;
    unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 1 || v > kMaxPageSize)
      return BadRequest("invalid_argument", "limit must be 1.." + std::to_string(kMaxPageSize), "limit");
    *limit = static_cast<size_t>(v);
    return std::nullopt;
  }

  // A page cursor of list `kind` (see MakeCursor): *after = its key, or
  // "" without one.
  static std::optional<HttpResponse> ParseCursor(const Call& c, const std::string& kind, std::string* after) {
    after->clear();
    auto it = c.query.find("cursor");
    if (it == c.query.end()) return std::nullopt;
    const std::string& cur = it->second;
    if (cur.size() <= kind.size() + 1 || cur.compare(0, kind.size() + 1, kind + ".") != 0 ||
        !FromHex(cur.substr(kind.size() + 1), after) || after->empty())
      return BadRequest("invalid_cursor",
                        "cursor is not one this endpoint gave out; pass next_cursor from the previous page unchanged, "
                        "or leave it out to start from the first page",
                        "cursor");
    return std::nullopt;
  }

  // Refuses query parameters the endpoint does not know: a misspelt filter
  // would otherwise widen the answer without a word.
  static std::optional<HttpResponse> OnlyParams(const Call& c, std::initializer_list<const char*> known) {
    for (const auto& [name, value] : c.query) {
      bool ok = false;
      for (const char* k : known) ok = ok || name == k;
      if (!ok) {
        std::string list;
        for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        return BadRequest("unknown_parameter", "unknown query parameter '" + name + "'; this endpoint accepts: " + list,
                          name);
      }
    }
    return std::nullopt;
  }

  static std::string Param(const Call& c, const char* name) {
    auto it = c.query.find(name);
    return it == c.query.end() ? std::string() : it->second;
  }

  // as_of (record time) and as_at (business time): YYYY-MM-DD (end of that
  // day, CST) or RFC 3339 (adapters/reports.h ParseViewInstant).
  static std::optional<HttpResponse> ParseViewTime(const Call& c, ViewTime* time) {
    for (auto [name, slot] : {std::pair{"as_of", &time->as_of}, {"as_at", &time->as_at}}) {
      std::string text = Param(c, name);
      if (text.empty()) continue;
      auto t = ParseViewInstant(text, name);
      if (!t.ok()) return BadRequest("invalid_argument", t.status().message(), name);
      *slot = *t;
    }
    return std::nullopt;
  }

  // Reports are for regulators and auditors.
  static std::optional<HttpResponse> RegulatorsOnly(const Call& c, const std::string& what) {
    if (c.user.role == "enterprise")
      return ErrorResponse({403, "role_not_allowed", what + " is for regulators and auditors", "", {}});
    return std::nullopt;
  }

  // The unit a report covers: "office" (or its older name "unit") when
  // given, else the caller's own. 404 for a unit not in the tree, 403 for
  // one outside the caller's subtree (an admin may ask for any; an admin
  // without a unit and without the parameter gets "" = every root).
  std::optional<HttpResponse> ReportUnit(const Call& c, std::string* unit) const {
    std::string office = Param(c, "office"), old = Param(c, "unit");
    if (!office.empty() && !old.empty() && office != old)
      return BadRequest("invalid_argument", "office and unit name the same filter; give one of them", "office");
    std::string field = old.empty() ? "office" : "unit";
    *unit = !office.empty() ? office : !old.empty() ? old : c.user.unit;
    if (!unit->empty() && tree.Find(*unit) == nullptr)
      return ErrorResponse({404, "unknown_unit",
                            "no jurisdiction unit '" + *unit + "'; use a unit id of the jurisdiction tree", field, {}});
    if (c.user.role != "admin" && (unit->empty() || c.user.unit.empty() || !tree.IsWithin(*unit, c.user.unit)))
      return ErrorResponse({403, "outside_jurisdiction",
                            "unit '" + *unit + "' is outside the jurisdiction of " + c.user.unit, field, {}});
    return std::nullopt;
  }

  // A report's own error: a bad filter is 400 naming it.
  static HttpResponse ReportError(const Status& s) {
    if (s.code() == StatusCode::kInvalidArgument) return BadRequest("invalid_argument", s.message(), s.field());
    return ErrorResponse(FromStatus(s));
  }

  json EventsJson(const std::vector<RecordedEvent>& events) const {
    json arr = json::array();
    for (const auto& e : events) {
      json j = EventToJson(e);
      j.erase("payload_json");
      j.erase("recorded_at_us");
      arr.push_back(std::move(j));
    }
    return arr;
  }

  Result<json> WrittenEvents(const CommandOutcome& out) {
    if (out.first_version == 0) return json::array();
    ASSIGN_OR_RETURN(auto events,
                     store->ReadStream(out.case_id, out.first_version, out.last_version - out.first_version + 1));
    return EventsJson(events);
  }

  // Runs `run` under the caller's Idempotency-Key, if any (service.h).
  // `run` gets the command id to use.
  HttpResponse WithIdempotency(Call& c, const std::function<HttpResponse(const std::string&)>& run) {
    auto it = c.req.headers.find("idempotency-key");
    if (it == c.req.headers.end()) return run("req-" + RandomHex(16));
    const std::string& key = it->second;
    if (key.empty() || key.size() > kMaxIdempotencyKey)
      return BadRequest("invalid_idempotency_key", "Idempotency-Key must be 1..200 bytes", "Idempotency-Key");
    std::string scope = Sha256Hex(c.user.id + "\n" + key);
    std::string aux_key = kIdempotencyPrefix + scope;
    std::string fingerprint = Sha256Hex(c.req.method + " " + c.path + "\n" + c.req.body);
    std::string command_id = "idem-" + scope;

    auto guard = idempotency_locks.Lock(aux_key);
    auto stored = store->GetAux(aux_key);
    if (!stored.ok()) return ErrorResponse(FromStatus(stored.status()));
    if (stored->has_value()) {
      json rec = json::parse(**stored, nullptr, false);
      if (rec.is_object() && rec.value("fingerprint", "") != fingerprint)
        return ErrorResponse({422, "idempotency_key_reused",
                              "this Idempotency-Key was used with a different request; use a new key",
                              "Idempotency-Key", {}});
      if (rec.is_object() && rec.contains("status") && rec.contains("body")) {
        HttpResponse r;
        r.status = rec["status"].get<int>();
        r.body = rec["body"].get<std::string>();
        r.headers.emplace_back("Idempotency-Replayed", "true");
        return r;
      }
      // A pending record: an earlier attempt stopped between its record and
      // its answer. Running again with the same command id is safe: the
      // store returns what that attempt wrote, if anything.
    } else {
      if (auto w = CheckWritable(c.user)) return ErrorResponse(*w);
      AuxBatch b;
      b.Put(aux_key, json{{"fingerprint", fingerprint}, {"user", c.user.id}}.dump());
      Status s = store->WriteAux(b, /*sync=*/true);
      if (!s.ok()) return ErrorResponse(FromStatus(s));
    }
    HttpResponse r = run(command_id);
    AuxBatch b;
    if (Is2xx(r.status)) {
      b.Put(aux_key, json{{"fingerprint", fingerprint}, {"user", c.user.id}, {"status", r.status}, {"body", r.body}}
                         .dump());
    } else {
      b.Delete(aux_key);  // nothing was written: the key may be used again
    }
    Status s = store->WriteAux(b, /*sync=*/true);
    (void)s;  // the answer stands; a lost record only means a retry re-runs by command id
    return r;
  }

  // Executes one command and times it.
  Result<CommandOutcome> Execute(const Command& cmd, const User& u) {
    auto start = std::chrono::steady_clock::now();
    auto out = commands->Execute(cmd, u.ToActor());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string outcome = "ok";
    uint64_t appended = 0;
    if (!out.ok()) {
      switch (out.status().code()) {
        case StatusCode::kRejected: outcome = "rejected"; break;
        case StatusCode::kPermissionDenied: outcome = "denied"; break;
        case StatusCode::kVersionConflict: outcome = "conflict"; break;
        case StatusCode::kInvalidArgument: outcome = "invalid"; break;
        default: outcome = "error"; break;
      }
    } else if (out->duplicate) {
      outcome = "duplicate";
    } else {
      appended = out->last_version - out->first_version + 1;
    }
    metrics.CountCommand(outcome, appended, secs);
    return out;
  }

  // Common fields of a command body: occurred_at and payload.
  static std::optional<HttpResponse> ReadCommandFields(const json& body, Command* cmd) {
    if (body.contains("occurred_at") && !body["occurred_at"].is_null()) {
      if (!body["occurred_at"].is_string())
        return BadRequest("invalid_argument", "occurred_at must be an RFC 3339 string", "/occurred_at");
      cmd->occurred_at = body["occurred_at"].get<std::string>();
    }
    if (body.contains("payload") && !body["payload"].is_null()) {
      if (!body["payload"].is_object())
        return BadRequest("invalid_argument", "payload must be a JSON object", "/payload");
      cmd->payload = body["payload"];
    }
    return std::nullopt;
  }

  // --- endpoints -----------------------------------------------------------

  // What follows the log inside the service. A subscription whose read,
  // handler or checkpoint failed is held at its checkpoint and retries with
  // a growing wait (store/event_store.h Subscription::status): nothing it
  // has not handled is lost, but nothing after it is handled either (no
  // alerts, a risk list folded from an ever longer tail) until a retry
  // passes. The deadline scheduler is not a subscription: a failed run is
  // retried (engine/deadline_timer.h), but while runs fail no deadline
  // fires. Reported by /healthz and /metrics so that it is not silent.
  struct FollowerState {
    const char* name;    // for people
    const char* metric;  // the label value in /metrics
    std::optional<uint64_t> checkpoint;  // subscriptions only
    Status status;       // not OK: the latest attempt (a subscription) or run (the scheduler) failed
    uint64_t failures = 0;               // in a row; subscriptions only
    std::string remedy;  // what happens next, when not OK
    const char* not_ok_state = "retrying";
  };
  std::vector<FollowerState> Followers() const {
    std::vector<FollowerState> out;
    auto subscription = [&](const char* name, const char* metric, uint64_t cp, Status status, uint64_t failures) {
      out.push_back({name, metric, cp, std::move(status), failures,
                     "held after position " + std::to_string(cp) + " since " + std::to_string(failures) +
                         " attempt(s) in a row failed; it retries by itself, waiting longer each time (up to a "
                         "minute), and catches up once the cause is removed"});
    };
    if (projection)
      subscription("risk-list projection", "risk_list", projection->Checkpoint(), projection->status(),
                   projection->failures());
    for (auto [name, metric, sub] : {std::tuple{"alert outbox", "alert_outbox", outbox ? outbox->subscription() : nullptr},
                                     {"alert webhook", "alert_webhook", webhook ? webhook->subscription() : nullptr}})
      if (sub) subscription(name, metric, sub->Checkpoint(), sub->status(), sub->failures());
    if (timer)
      out.push_back({"deadline scheduler", "deadline_scheduler", std::nullopt, timer->last_error(), 0,
                     "its runs are retried every few seconds, and no deadline fires until one succeeds",
                     "failing"});
    return out;
  }

  HttpResponse Healthz(Call&) {
    Status bg = options.read_only ? Status::OK() : store->BackgroundError();
    json followers = json::array();
    bool stopped = false;
    for (const FollowerState& f : Followers()) {
      json one{{"name", f.name}, {"state", f.status.ok() ? "running" : f.not_ok_state}};
      if (f.checkpoint) {
        one["checkpoint"] = *f.checkpoint;
        one["failures"] = f.failures;
      }
      if (!f.status.ok()) {
        stopped = true;
        one["error"] = f.status.message() + "; " + f.remedy;
      }
      followers.push_back(std::move(one));
    }
    const char* status = draining.load() ? "draining" : !bg.ok() ? "store_failed" : stopped ? "degraded" : "ok";
    json j{{"status", status},
           {"read_only", options.read_only},
           {"head", store->DurableHead()},
           {"followers", std::move(followers)}};
    // Degraded is still 200: the node serves commands and reads, and a
    // probe that restarted it on a scheduler that fails on one case would
    // restart it for ever. Monitoring watches the status or
    // xiaohao_follower_running.
    // Draining is 503 too: the node takes no new commands, so a load
    // balancer should send them elsewhere.
    return JsonResponse(bg.ok() && !draining.load() ? 200 : 503, j);
  }

  HttpResponse Metrics(Call&) {
    std::ostringstream extra;
    extra << "# HELP xiaohao_store_head_position The last durable global position.\n"
             "# TYPE xiaohao_store_head_position gauge\n"
             "xiaohao_store_head_position "
          << store->DurableHead() << "\n";
    extra << "# HELP xiaohao_store_writable 1 when the store accepts writes.\n"
             "# TYPE xiaohao_store_writable gauge\n"
             "xiaohao_store_writable "
          << ((options.read_only || !store->BackgroundError().ok()) ? 0 : 1) << "\n";
    extra << "# HELP xiaohao_http_requests_in_flight Requests being handled.\n"
             "# TYPE xiaohao_http_requests_in_flight gauge\n"
             "xiaohao_http_requests_in_flight "
          << in_flight.load() << "\n";
    {
      const auto followers = Followers();
      if (!followers.empty())
        extra << "# HELP xiaohao_follower_running 1 while a follower of the log runs; 0 while it retries after an "
                 "error, or while the scheduler's runs fail (see /healthz).\n"
                 "# TYPE xiaohao_follower_running gauge\n";
      for (const FollowerState& f : followers)
        extra << "xiaohao_follower_running{follower=\"" << f.metric << "\"} " << (f.status.ok() ? 1 : 0) << "\n";
      bool any_subscription = false;
      for (const FollowerState& f : followers) {
        if (!f.checkpoint) continue;
        if (!any_subscription)
          extra << "# HELP xiaohao_follower_failures Attempts in a row that failed, of a subscription that follows "
                   "the log; 0 while it runs.\n"
                   "# TYPE xiaohao_follower_failures gauge\n";
        any_subscription = true;
        extra << "xiaohao_follower_failures{follower=\"" << f.metric << "\"} " << f.failures << "\n";
      }
    }
    if (outbox) {
      uint64_t head = store->DurableHead(), cp = outbox->subscription()->Checkpoint();
      extra << "# HELP xiaohao_alert_outbox_backlog Log positions not yet examined for alerts by the outbox.\n"
               "# TYPE xiaohao_alert_outbox_backlog gauge\n"
               "xiaohao_alert_outbox_backlog "
            << (head > cp ? head - cp : 0) << "\n";
    }
    if (webhook) {
      uint64_t head = store->DurableHead(), cp = webhook->subscription()->Checkpoint();
      extra << "# HELP xiaohao_alert_webhook_backlog Log positions not yet delivered to the webhook.\n"
               "# TYPE xiaohao_alert_webhook_backlog gauge\n"
               "xiaohao_alert_webhook_backlog "
            << (head > cp ? head - cp : 0) << "\n"
            << "# TYPE xiaohao_alert_webhook_failures_total counter\n"
               "xiaohao_alert_webhook_failures_total "
            << webhook->failures() << "\n";
    }
    if (timer) {
      auto overdue = deadline_index->DueBetween(0, clock->Now(), 100000);
      if (overdue.ok())
        extra << "# HELP xiaohao_deadlines_overdue Open deadlines past their due instant (capped at 100000).\n"
                 "# TYPE xiaohao_deadlines_overdue gauge\n"
                 "xiaohao_deadlines_overdue "
              << overdue->size() << "\n";
      extra << "# TYPE xiaohao_scheduler_runs_total counter\nxiaohao_scheduler_runs_total " << timer->runs()
            << "\n# HELP xiaohao_scheduler_errors_total Scheduler runs that failed (each is retried).\n"
               "# TYPE xiaohao_scheduler_errors_total counter\nxiaohao_scheduler_errors_total "
            << scheduler_errors.load() << "\n";
    }
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics.Render(extra.str());
    return r;
  }

  HttpResponse OpenApi(Call&) {
    std::ifstream in(options.openapi_path, std::ios::binary);
    if (!in) return ErrorResponse({404, "not_found", "no OpenAPI file at " + options.openapi_path, "", {}});
    std::stringstream ss;
    ss << in.rdbuf();
    HttpResponse r;
    r.content_type = "application/yaml; charset=utf-8";
    r.body = ss.str();
    return r;
  }

  HttpResponse OpenCase(Call& c) {
    if (auto w = CheckWritable(c.user)) return ErrorResponse(*w);
    auto body = ParseBodyObject(c.req.body);
    if (!body.ok())
      return BadRequest(body.status().field() == "depth" ? "too_deep" : "malformed_json", body.status().message(), "");
    if (!body->contains("workflow") || !(*body)["workflow"].is_string())
      return BadRequest("invalid_argument", "workflow (a workflow id) is required", "/workflow");
    std::string wf = (*body)["workflow"].get<std::string>();
    const WorkflowDefinition* def = registry.Latest(wf);
    if (def == nullptr)
      return ErrorResponse({422, "unknown_workflow", "no workflow \"" + wf + "\" is loaded", "/workflow", {}});
    // The opening command: the one named, or the workflow's first opening
    // transition (engine/workflow_definition.h: Transition::opens).
    std::string opening;
    if (body->contains("command")) {
      if (!(*body)["command"].is_string())
        return BadRequest("invalid_argument", "command must be a string", "/command");
      opening = (*body)["command"].get<std::string>();
      const CommandSpec* spec = def->FindCommand(opening);
      if (spec == nullptr || !spec->opens_case)
        return ErrorResponse({422, "not_an_opening_command", opening + " does not open a " + wf + " case", "/command", {}});
    } else {
      for (const auto& t : def->transitions)
        if (t.opens) {
          opening = t.command;
          break;
        }
      if (opening.empty())
        return ErrorResponse({422, "unknown_workflow", "workflow " + wf + " has no opening command", "/workflow", {}});
    }
    Command cmd;
    cmd.name = opening;
    if (auto bad = ReadCommandFields(*body, &cmd)) return *bad;

    return WithIdempotency(c, [&](const std::string& command_id) {
      if (auto w = CheckWritable(c.user)) return ErrorResponse(*w);
      // With an Idempotency-Key the case id is derived from it, so a retry
      // finds the case the first attempt opened.
      bool keyed = command_id.rfind("idem-", 0) == 0;
      cmd.case_id = wf + "-" + (keyed ? command_id.substr(5, 24) : NewCaseUnique(clock->Now()));
      cmd.command_id = command_id;
      auto guard = case_locks.Lock(cmd.case_id);
      auto out = Execute(cmd, c.user);
      if (!out.ok()) return ErrorResponse(FromStatus(out.status()));
      auto events = WrittenEvents(*out);
      if (!events.ok()) return ErrorResponse(FromStatus(events.status()));
      return JsonResponse(201, json{{"case_id", out->case_id},
                                    {"version", out->state.version},
                                    {"state", out->state.state},
                                    {"events", *events}});
    });
  }

  HttpResponse SendCommand(Call& c) {
    if (auto w = CheckWritable(c.user)) return ErrorResponse(*w);
    const std::string& case_id = c.params[0];
    auto body = ParseBodyObject(c.req.body);
    if (!body.ok())
      return BadRequest(body.status().field() == "depth" ? "too_deep" : "malformed_json", body.status().message(), "");
    if (!body->contains("command") || !(*body)["command"].is_string())
      return BadRequest("invalid_argument", "command (a command name) is required", "/command");
    Command cmd;
    cmd.case_id = case_id;
    cmd.name = (*body)["command"].get<std::string>();
    if (auto bad = ReadCommandFields(*body, &cmd)) return *bad;
    std::optional<uint64_t> expected;
    if (body->contains("expected_version") && !(*body)["expected_version"].is_null()) {
      const json& ev = (*body)["expected_version"];
      if (!ev.is_number_unsigned() && !(ev.is_number_integer() && ev.get<int64_t>() >= 0))
        return BadRequest("invalid_argument", "expected_version must be a non-negative integer", "/expected_version");
      expected = ev.get<uint64_t>();
    }
    auto wf = WorkflowOfCaseId(case_id);
    if (!wf.ok()) return ErrorResponse(FromStatus(wf.status()));

    return WithIdempotency(c, [&](const std::string& command_id) {
      if (auto w = CheckWritable(c.user)) return ErrorResponse(*w);
      cmd.command_id = command_id;
      auto guard = case_locks.Lock(case_id);
      auto state = commands->LoadCase(case_id);
      if (!state.ok()) {
        if (state.status().code() == StatusCode::kNotFound)
          return ErrorResponse({404, "case_not_found", "no case " + case_id, "", {}});
        return ErrorResponse(FromStatus(state.status()));
      }
      if (auto denied = CheckVisible(c.user, *state)) return ErrorResponse(*denied);
      if (expected && *expected != state->version)
        return ErrorResponse({409, "version_conflict",
                              "case " + case_id + " is at version " + std::to_string(state->version) +
                                  ", not the expected " + std::to_string(*expected) + "; reload and retry",
                              "/expected_version", state->version});
      auto out = Execute(cmd, c.user);
      // Without an expected version the caller asked for "the case as it is":
      // a system event (the deadline scheduler) that got in first is not the
      // caller's conflict. Decide again against the new state.
      for (int retry = 0; retry < 50 && !expected && !out.ok() &&
                          out.status().code() == StatusCode::kVersionConflict;
           ++retry) {
        // The scheduler writes a few events in a row (overdue, escalations).
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + retry));
        out = Execute(cmd, c.user);
      }
      if (!out.ok()) return ErrorResponse(FromStatus(out.status()));
      auto events = WrittenEvents(*out);
      if (!events.ok()) return ErrorResponse(FromStatus(events.status()));
      return JsonResponse(200, json{{"case_id", out->case_id},
                                    {"version", out->state.version},
                                    {"first_version", out->first_version},
                                    {"state", out->state.state},
                                    {"duplicate", out->duplicate},
                                    {"events", *events}});
    });
  }

  // Loads a case the caller may see, or the error to answer.
  Result<CaseState> LoadVisible(const User& u, const std::string& case_id, std::optional<ApiError>* err) {
    auto wf = WorkflowOfCaseId(case_id);
    if (!wf.ok()) {
      *err = FromStatus(wf.status());
      return wf.status();
    }
    auto state = commands->LoadCase(case_id);
    if (!state.ok()) {
      *err = state.status().code() == StatusCode::kNotFound
                 ? ApiError{404, "case_not_found", "no case " + case_id, "", {}}
                 : FromStatus(state.status());
      return state.status();
    }
    if (auto denied = CheckVisible(u, *state)) {
      *err = denied;
      return Status(StatusCode::kPermissionDenied, denied->message);
    }
    return state;
  }

  // A case's state in the service's shape (GET /v1/cases/{id}).
  static json CaseJson(const CaseState& state) {
    json full = state.ToJson();
    json deadlines = json::array();
    for (auto& [name, d] : full["deadlines"].items()) {
      json x = d;
      x["name"] = name;
      deadlines.push_back(std::move(x));
    }
    return json{{"case_id", state.case_id},
                {"workflow", state.workflow_id},
                {"workflow_version", state.workflow_version},
                {"state", state.state},
                {"version", state.version},
                {"deadlines", deadlines},
                {"facts", full["facts"]},
                {"opened_at", state.opened_at},
                {"last_occurred_at", state.last_occurred_at},
                {"corrections", full["corrections"]}};
  }

  // GET /v1/cases/{id}?as_of=&as_at=: the case now, or as it stood. Who may
  // see it is decided on the case as it is now.
  HttpResponse GetCase(Call& c) {
    ViewTime time;
    if (auto bad = ParseViewTime(c, &time)) return *bad;
    std::optional<ApiError> err;
    auto state = LoadVisible(c.user, c.params[0], &err);
    if (!state.ok()) return ErrorResponse(*err);
    if (!time.now()) {
      auto past = CaseAsOf(*store, registry, c.params[0], time);
      if (!past.ok()) {
        if (past.status().code() == StatusCode::kNotFound)
          return ErrorResponse({404, "case_not_found",
                                "case " + c.params[0] + " had no event yet at the time asked for (as_of/as_at)", "",
                                {}});
        return ErrorResponse(FromStatus(past.status()));
      }
      *state = std::move(*past);
    }
    json j = CaseJson(*state);
    j.update(ViewTimeJson(time));
    return JsonResponse(200, j);
  }

  HttpResponse ListEvents(Call& c) {
    size_t limit = kDefaultPageSize;
    uint64_t from = 1;
    if (auto bad = ParseLimit(c, &limit)) return *bad;
    if (auto it = c.query.find("cursor"); it != c.query.end()) {
      // The cursor is the next version to read, "v<N>"; opaque to clients.
      const std::string& cur = it->second;
      char* end = nullptr;
      unsigned long long v = cur.size() > 1 && cur[0] == 'v' ? std::strtoull(cur.c_str() + 1, &end, 10) : 0;
      if (v < 1 || end == nullptr || *end != '\0')
        return BadRequest("invalid_argument", "cursor is not one this server gave out", "cursor");
      from = v;
    }
    std::optional<ApiError> err;
    auto state = LoadVisible(c.user, c.params[0], &err);
    if (!state.ok()) return ErrorResponse(*err);
    auto events = store->ReadStream(c.params[0], from, limit + 1);
    if (!events.ok()) return ErrorResponse(FromStatus(events.status()));
    json next = nullptr;
    if (events->size() > limit) {
      next = "v" + std::to_string((*events)[limit].version);
      events->resize(limit);
    }
    return JsonResponse(200, json{{"case_id", c.params[0]}, {"events", EventsJson(*events)}, {"next_cursor", next}});
  }

  // The risk-list query of GET /v1/risk-list and /v1/reports/quarterly:
  // unit, quarter, filters and the view's time, checked.
  std::optional<HttpResponse> RiskQuery(const Call& c, RiskListQuery* query, ViewTime* time) const {
    if (auto bad = ReportUnit(c, &query->unit)) return *bad;
    query->quarter = Param(c, "quarter");
    query->filter.source = Param(c, "source");
    query->filter.product_category = Param(c, "product_category");
    query->filter.enterprise = Param(c, "enterprise");
    query->filter.risk_level = Param(c, "risk_level");
    query->filter.state = Param(c, "state");
    if (auto bad = ParseViewTime(c, time)) return *bad;
    Status s = CheckRiskListQuery(registry, tree, query);
    if (!s.ok()) return ReportError(s);
    return std::nullopt;
  }

  // GET /v1/risk-list?office=&quarter=2025Q3&source=&product_category=&enterprise=
  //   &risk_level=&state=&items=1&as_of=&as_at=&limit=&cursor= : the risk list
  // (风险清单) by unit and quarter, rolled up along the jurisdiction tree,
  // limited to the caller's subtree. `rows` (bounded by the tree and the
  // quarters) come whole; `items` are paged by case id.
  HttpResponse RiskList(Call& c) {
    if (auto bad = RegulatorsOnly(c, "the risk list")) return *bad;
    if (auto bad = OnlyParams(c, {"office", "unit", "quarter", "source", "product_category", "enterprise",
                                  "risk_level", "state", "items", "as_of", "as_at", "limit", "cursor"}))
      return *bad;
    RiskListQuery query;
    ViewTime time;
    if (auto bad = RiskQuery(c, &query, &time)) return *bad;
    std::string items = Param(c, "items");
    if (!items.empty() && items != "0" && items != "1" && items != "true" && items != "false")
      return BadRequest("invalid_argument", "items must be 1 (list the matching items) or 0", "items");
    query.include_items = items == "1" || items == "true";
    size_t limit = kDefaultPageSize;
    if (auto bad = ParseLimit(c, &limit)) return *bad;
    std::string after;
    if (auto bad = ParseCursor(c, "i", &after)) return *bad;
    auto view = ViewReader::Open(store.get(), &registry, time);
    if (!view.ok()) return ErrorResponse(FromStatus(view.status()));
    auto doc = RiskListDoc(**view, tree, query, time);
    if (!doc.ok()) return ReportError(doc.status());
    json& j = doc->json;
    j["next_cursor"] = nullptr;
    if (query.include_items)
      j["next_cursor"] =
          TakePage(&j["items"], [](const json& e) { return e["case_id"].get<std::string>(); }, after, limit, "i");
    return JsonResponse(200, j);
  }

  // GET /v1/reports/quarterly?quarter=2025Q3&format=json|csv|xlsx&office=&<risk-list filters>:
  // seed 002's quarterly table (风险清单季度统计). CSV and XLSX are downloads
  // under a file name this server makes up from the unit id and the quarter.
  HttpResponse QuarterlyReport(Call& c) {
    if (auto bad = RegulatorsOnly(c, "the quarterly report")) return *bad;
    if (auto bad = OnlyParams(c, {"office", "unit", "quarter", "source", "product_category", "enterprise",
                                  "risk_level", "state", "format", "as_of", "as_at"}))
      return *bad;
    std::string format = c.query.count("format") ? c.query["format"] : "json";
    if (format != "json" && format != "csv" && format != "xlsx")
      return BadRequest("invalid_argument", "format must be json, csv or xlsx", "format");
    if (Param(c, "quarter").empty())
      return BadRequest("invalid_argument", "quarter is required; use YYYYQn like 2025Q3", "quarter");
    RiskListQuery query;
    ViewTime time;
    if (auto bad = RiskQuery(c, &query, &time)) return *bad;
    auto view = ViewReader::Open(store.get(), &registry, time);
    if (!view.ok()) return ErrorResponse(FromStatus(view.status()));
    auto doc = RiskListDoc(**view, tree, query, time);
    if (!doc.ok()) return ReportError(doc.status());
    doc->json["quarter"] = query.quarter;
    if (format == "json") return JsonResponse(200, doc->json);

    // Built here, never from the request: a unit id the tree knows (only its
    // [A-Za-z0-9_-]) and the normalized quarter.
    std::string unit = FileNamePart(query.unit.empty() ? "all" : query.unit);
    std::string filename = "risk-list-" + (unit.empty() ? "unit" : unit) + "-" + query.quarter + "." + format;
    HttpResponse r;
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + filename + "\"");
    if (format == "csv") {
      std::ostringstream out;
      WriteCsv(doc->tables[0], out);
      r.content_type = "text/csv; charset=utf-8";
      r.body = out.str();
      return r;
    }
    auto bytes = XlsxBytes({doc->tables[0]});
    if (!bytes.ok()) return ErrorResponse(FromStatus(bytes.status()));
    r.content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    r.body = std::move(*bytes);
    return r;
  }

  // libxlsxwriter writes files only: a private temporary file, read back and removed.
  static Result<std::string> XlsxBytes(const std::vector<Table>& tables) {
    std::error_code ec;
    std::string dir = std::filesystem::temp_directory_path(ec).string();
    if (ec) dir = "/tmp";
    std::string path = dir + "/xiaohao-report-XXXXXX";
    int fd = ::mkstemp(path.data());
    if (fd < 0) return Status::IOError("cannot create a temporary file for the XLSX report in " + dir);
    ::close(fd);
    Status s = WriteXlsx(tables, path);
    std::string bytes;
    if (s.ok()) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      bytes = ss.str();
      if (!in || bytes.empty()) s = Status::IOError("the XLSX report could not be read back");
    }
    std::remove(path.c_str());
    if (!s.ok()) return s;
    return bytes;
  }

  // GET /v1/rates?office=&year=&as_of=&as_at=: the supervision rates of a
  // unit's subtree (engine/supervision_rates.h). Not a list: no paging.
  HttpResponse Rates(Call& c) {
    if (auto bad = RegulatorsOnly(c, "the supervision rates")) return *bad;
    if (auto bad = OnlyParams(c, {"office", "unit", "year", "as_of", "as_at"})) return *bad;
    std::string unit;
    if (auto bad = ReportUnit(c, &unit)) return *bad;
    int year = std::stoi(DayText(CstDayOf(clock->Now())).substr(0, 4));  // default: this year (CST)
    if (std::string y = Param(c, "year"); !y.empty()) {
      bool digits = y.size() == 4;
      for (char ch : y) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
      if (!digits) return BadRequest("invalid_argument", "year must be a year like 2025", "year");
      year = std::stoi(y);
    }
    ViewTime time;
    if (auto bad = ParseViewTime(c, &time)) return *bad;
    auto view = ViewReader::Open(store.get(), &registry, time);
    if (!view.ok()) return ErrorResponse(FromStatus(view.status()));
    auto doc = RatesDoc(**view, tree, unit, year, time);
    if (!doc.ok()) return ReportError(doc.status());
    return JsonResponse(200, doc->json);
  }

  // GET /v1/plan?plan=&office=&quarter=&as_of=&as_at=&limit=&cursor=: the
  // inspection plan's progress, planned against done per office and quarter,
  // for the offices in the caller's subtree. `plan` names a file of
  // <workflows>/plans/ without ".json" (default: the first by name).
  HttpResponse PlanProgress(Call& c) {
    if (auto bad = RegulatorsOnly(c, "plan progress")) return *bad;
    if (auto bad = OnlyParams(c, {"plan", "office", "unit", "quarter", "as_of", "as_at", "limit", "cursor"}))
      return *bad;
    std::string plans_dir = options.workflows_dir + "/plans";
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(plans_dir, ec))
      if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    std::string name = Param(c, "plan");
    if (name.empty() && !names.empty()) name = names.front();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      return ErrorResponse({404, "unknown_plan",
                            "no inspection plan '" + name + "'; the plans are: " + (list.empty() ? "none" : list),
                            "plan", {}});
    }
    // The name matched a file listed from the plans directory, so it
    // cannot point anywhere else.
    auto plan = LoadInspectionPlan(plans_dir + "/" + name + ".json", tree);
    if (!plan.ok()) return ErrorResponse(FromStatus(plan.status()));
    std::string scope;
    bool explicit_unit = c.query.count("office") || c.query.count("unit");
    if (explicit_unit || c.user.role != "admin") {
      if (auto bad = ReportUnit(c, &scope)) return *bad;
    }
    int quarter = 0;
    Status qs = ParsePlanQuarter(Param(c, "quarter"), *plan, &quarter);
    if (!qs.ok()) return ReportError(qs);
    size_t limit = kDefaultPageSize;
    if (auto bad = ParseLimit(c, &limit)) return *bad;
    std::string after;
    if (auto bad = ParseCursor(c, "p", &after)) return *bad;
    ViewTime time;
    if (auto bad = ParseViewTime(c, &time)) return *bad;
    auto view = ViewReader::Open(store.get(), &registry, time);
    if (!view.ok()) return ErrorResponse(FromStatus(view.status()));
    auto doc = PlanDoc(**view, *plan, quarter, time, [&](const std::string& office) {
      return scope.empty() || tree.IsWithin(office, scope);
    });
    if (!doc.ok()) return ReportError(doc.status());
    json& j = doc->json;
    j["plan"] = name;
    // Rows keep the plan's order; the key is a row's place in it.
    size_t n = 0;
    for (auto& row : j["rows"]) row["_key"] = PaddedKey(n++);
    j["next_cursor"] =
        TakePage(&j["rows"], [](const json& e) { return e["_key"].get<std::string>(); }, after, limit, "p");
    for (auto& row : j["rows"]) row.erase("_key");
    return JsonResponse(200, j);
  }

  // GET /v1/enterprises/{code}/dossier?as_of=&as_at=&limit=&cursor=: 监管档案.
  // An enterprise reads its own only. A regulator or auditor reads the cases
  // of its subtree naming the enterprise, and the register record when the
  // enterprise's supervising office is in its subtree; 403 when neither is.
  HttpResponse Dossier(Call& c) {
    if (auto bad = OnlyParams(c, {"as_of", "as_at", "limit", "cursor"})) return *bad;
    const std::string& code = c.params[0];
    if (c.user.role == "enterprise" && code != c.user.enterprise)
      return ErrorResponse({403, "outside_jurisdiction", "an enterprise may read its own dossier only", "", {}});
    ViewTime time;
    if (auto bad = ParseViewTime(c, &time)) return *bad;
    size_t limit = kDefaultPageSize;
    if (auto bad = ParseLimit(c, &limit)) return *bad;
    std::string after;
    if (auto bad = ParseCursor(c, "c", &after)) return *bad;
    auto view = ViewReader::Open(store.get(), &registry, time);
    if (!view.ok()) return ErrorResponse(FromStatus(view.status()));
    auto dossier = LoadDossier(**view, code);
    if (!dossier.ok()) {
      if (dossier.status().code() == StatusCode::kNotFound)
        return ErrorResponse({404, "enterprise_not_found", dossier.status().message(), "", {}});
      return ErrorResponse(FromStatus(dossier.status()));
    }
    if (c.user.role != "admin" && c.user.role != "enterprise") {
      auto within = [&](const std::string& office) {
        return !c.user.unit.empty() && !office.empty() && tree.IsWithin(office, c.user.unit);
      };
      bool register_visible = false;
      if (dossier->register_record && dossier->register_record->is_object()) {
        register_visible = within(dossier->register_record->value("office", std::string()));
        if (!register_visible) dossier->register_record.reset();
      }
      std::vector<CaseSummary> kept;
      for (auto& s : dossier->cases)
        if (within(s.office)) kept.push_back(std::move(s));
      dossier->cases = std::move(kept);
      if (!register_visible && dossier->cases.empty())
        return ErrorResponse({403, "outside_jurisdiction",
                              "enterprise " + code + " is supervised outside the jurisdiction of " + c.user.unit +
                                  " and has no case there",
                              "", {}});
    }
    json j = DossierDoc(*dossier, time).json;
    j["next_cursor"] =
        TakePage(&j["cases"], [](const json& e) { return e["case_id"].get<std::string>(); }, after, limit, "c");
    return JsonResponse(200, j);
  }

  // GET /v1/cases/{id}/audit?late_days=3&limit=&cursor=: the case's history,
  // each event checked against the hash chain (chain_ok covers the whole
  // trail, not only the page), events recorded more than late_days after
  // they occurred flagged "late". Visible as the case is.
  HttpResponse CaseAudit(Call& c) {
    if (auto bad = OnlyParams(c, {"late_days", "limit", "cursor"})) return *bad;
    double late_days = 3;
    if (std::string t = Param(c, "late_days"); !t.empty()) {
      char* end = nullptr;
      late_days = std::strtod(t.c_str(), &end);
      if (*end != '\0' || !(late_days >= 0 && late_days <= 3650))
        return BadRequest("invalid_argument", "late_days must be a number of days from 0 to 3650, like 3 or 0.5",
                          "late_days");
    }
    size_t limit = kDefaultPageSize;
    if (auto bad = ParseLimit(c, &limit)) return *bad;
    std::string after;
    if (auto bad = ParseCursor(c, "a", &after)) return *bad;
    std::optional<ApiError> err;
    auto state = LoadVisible(c.user, c.params[0], &err);
    if (!state.ok()) return ErrorResponse(*err);
    auto trail = BuildAuditTrail(*store, c.params[0], static_cast<int64_t>(late_days * kMicrosPerDay));
    if (!trail.ok()) return ErrorResponse(FromStatus(trail.status()));
    json j = AuditDoc(*trail, late_days).json;
    j["next_cursor"] = TakePage(
        &j["entries"], [](const json& e) { return PaddedKey(e["position"].get<uint64_t>()); }, after, limit, "a");
    return JsonResponse(200, j);
  }

  // GET /v1/deadlines?status=overdue|upcoming&within=7d&limit=N&cursor=:
  // open deadlines of cases the caller may see, earliest due first. Each
  // case's workflow, state and unit come from the risk-list projection's
  // case summary (engine/view_reader.h), not from replaying the case.
  HttpResponse ListDeadlines(Call& c) {
    std::string status = c.query.count("status") ? c.query["status"] : "upcoming";
    if (status != "overdue" && status != "upcoming")
      return BadRequest("invalid_argument", "status must be overdue or upcoming", "status");
    size_t limit = kDefaultPageSize;
    if (auto bad = ParseLimit(c, &limit)) return *bad;
    std::string after;
    if (auto bad = ParseCursor(c, "d", &after)) return *bad;
    if (!after.empty() && after.size() <= 8)
      return BadRequest("invalid_cursor", "cursor is not one this endpoint gave out", "cursor");
    int64_t within_days = 7;
    if (auto it = c.query.find("within"); it != c.query.end()) {
      auto p = Period::Parse(it->second);
      if (!p.ok() || p->unit != Period::Unit::kDays)
        return BadRequest("invalid_argument", "within must be a number of days like 7d", "within");
      within_days = p->count;
    }
    UnixMicros now = clock->Now();
    UnixMicros from = status == "overdue" ? 0 : now;
    UnixMicros to = status == "overdue" ? now : now + within_days * kMicrosPerDay;
    auto view = ViewReader::Open(store.get(), &registry, ViewTime{});
    if (!view.ok()) return ErrorResponse(FromStatus(view.status()));
    // Entries the caller may not see are skipped; one request examines at
    // most kScanBudget of them, so a page may come short of `limit` with a
    // next_cursor (only a null next_cursor means the end).
    constexpr size_t kBatch = 256, kScanBudget = 20000;
    json out = json::array();
    json next = nullptr;
    std::string last_given;
    size_t scanned = 0;
    bool done = false;
    while (!done) {
      auto found = deadline_index->DueBetweenAfter(from, to, after, kBatch);
      if (!found.ok()) return ErrorResponse(FromStatus(found.status()));
      for (const IndexedDeadline& d : *found) {
        after = DeadlineIndex::DueOrderKey(d);
        ++scanned;
        auto s = view->get()->Case(d.case_id);
        if (!s.ok()) return ErrorResponse(FromStatus(s.status()));
        if (!*s || CheckVisible(c.user, d.case_id, (*s)->office, (*s)->enterprise)) continue;
        if (out.size() == limit) {
          next = MakeCursor("d", last_given);
          done = true;
          break;
        }
        last_given = after;
        out.push_back({{"case_id", d.case_id},
                       {"workflow", (*s)->workflow},
                       {"state", (*s)->state},
                       {"office", (*s)->office},
                       {"deadline", d.name},
                       {"generation", d.generation},
                       {"due_date", d.due_date},
                       {"due_at", FormatRfc3339Cst(d.due_at)},
                       {"stage", StageName(d.stage)},
                       {"provisional", d.provisional}});
      }
      if (done) break;
      if (found->size() < kBatch) break;
      if (scanned >= kScanBudget) {
        next = MakeCursor("d", after);
        break;
      }
    }
    return JsonResponse(200, json{{"status", status}, {"deadlines", out}, {"next_cursor", next}});
  }

  HttpResponse VerifyChain(Call& c) {
    if (c.user.role == "enterprise")
      return ErrorResponse({403, "role_not_allowed", "chain verification is for regulators and auditors", "", {}});
    auto report = store->Verify();
    if (!report.ok()) return ErrorResponse(FromStatus(report.status()));
    json j{{"ok", report->ok}, {"events", report->events}, {"head", HashToHex(report->head)}};
    if (!report->ok) {
      j["bad_position"] = report->bad_position;
      j["reason"] = report->reason;
    }
    return JsonResponse(200, j);
  }
};

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() = default;

Result<std::unique_ptr<Service>> Service::Open(const ServiceOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = options.clock != nullptr ? options.clock : SystemClock::Default();
  if (impl->options.openapi_path.empty()) impl->options.openapi_path = options.workflows_dir + "/../doc/openapi.yaml";

  auto cal = BusinessCalendar::LoadDir(options.workflows_dir + "/calendars");
  if (!cal.ok()) return cal.status().WithContext("loading calendars");
  impl->calendar = std::move(*cal);
  auto tree = JurisdictionTree::LoadDir(options.workflows_dir + "/jurisdictions");
  if (!tree.ok()) return tree.status().WithContext("loading jurisdictions");
  impl->tree = std::move(*tree);
  RETURN_IF_ERROR(impl->registry.LoadDir(options.workflows_dir + "/definitions").WithContext("loading workflows"));

  StoreOptions so;
  so.path = options.data_dir;
  so.read_only = options.read_only;
  so.clock = impl->clock;
  so.hooks = {impl->deadline_index.get()};
  auto store = EventStore::Open(so);
  if (!store.ok()) return store.status().WithContext("opening " + options.data_dir);
  impl->store = std::move(*store);

  // The chain is verified from the last position verified at an earlier
  // start (kept in aux as "svc/verified" = "<position>:<hash>"), after
  // checking that event still has its hash; the first start walks it all.
  // Someone able to rewrite the data directory could rewrite that record too:
  // the full check against a head kept elsewhere is `xiaohao verify
  // --expect-head` (SECURITY in doc/event_format.md).
  std::optional<std::pair<uint64_t, Hash>> verified;
  if (auto kept = impl->store->GetAux("svc/verified"); kept.ok() && kept->has_value()) {
    const std::string& v = **kept;
    Hash h;
    auto colon = v.find(':');
    if (colon != std::string::npos && HashFromHex(v.substr(colon + 1), &h))
      verified = std::make_pair(std::stoull(v.substr(0, colon)), h);
  }
  auto report = verified ? impl->store->VerifyFrom(verified->first, verified->second) : impl->store->Verify();
  if (!report.ok()) return report.status().WithContext("verifying the chain");
  if (!report->ok) {
    std::string what = "the hash chain is broken at position " + std::to_string(report->bad_position) + ": " +
                       report->reason;
    if (!options.read_only)
      return Status::Corruption(what + "; refusing to serve (start with --read-only to serve reads)");
    impl->startup_report = "WARNING: " + what + " (serving read-only)";
  } else {
    impl->startup_report = "chain verified" +
                           (verified ? " from position " + std::to_string(verified->first + 1) : std::string()) +
                           ": " + std::to_string(report->events) + " events, head " + HashToHex(report->head);
    if (!options.read_only && report->events > 0) {
      AuxBatch b;
      b.Put("svc/verified", std::to_string(report->events) + ":" + HashToHex(report->head));
      RETURN_IF_ERROR(impl->store->WriteAux(b, true));
    }
  }

  RETURN_IF_ERROR(impl->registry.LoadFromStore(*impl->store).WithContext("loading recorded workflow versions"));
  if (!options.read_only)
    RETURN_IF_ERROR(impl->registry.RecordInStore(*impl->store, impl->clock->Now())
                        .WithContext("recording workflow versions"));

  impl->commands = std::make_unique<CommandHandler>(impl->store.get(), &impl->registry, &impl->calendar,
                                                    &impl->tree, impl->clock);
  impl->auth = std::make_unique<Authenticator>(UsersFilePath(options.data_dir));
  if (!options.read_only) RETURN_IF_ERROR(impl->StartDeadlinesAndAlerts());
  impl->BuildRoutes();
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

HttpResponse Service::Handle(const HttpRequest& request) {
  impl_->in_flight.fetch_add(1);
  std::string route = "unmatched";
  std::string caller;
  HttpResponse r;
  try {
    r = impl_->Dispatch(request, &route, &caller);
  } catch (const std::exception& e) {
    r = ErrorResponse({500, "internal", std::string("internal error: ") + e.what(), "", {}});
  }
  impl_->metrics.CountRequest(route, r.status);
  if (r.status >= 400 && impl_->options.log) impl_->LogRefused(request, r, caller);
  impl_->in_flight.fetch_sub(1);
  return r;
}

void Service::BeginDrain() { impl_->draining.store(true); }
size_t Service::InFlight() const { return impl_->in_flight.load(); }
std::string Service::StartupReport() const { return impl_->startup_report; }

}  // namespace xiaohao
