// xiaohao append | read | verify: the event store from the command line.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <openssl/rand.h>

#include <iostream>
#include <iterator>

#include "adapters/cli.h"
#include "adapters/event_json.h"
#include "store/event_store.h"
#include "store/time_format.h"

namespace xiaohao {
namespace {

std::string RandomCommandId() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  static const char* kHex = "0123456789abcdef";
  std::string s = "cli-";
  for (unsigned char c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

int Fail(const std::string& what) {
  std::cerr << "xiaohao: " << what << "\n";
  return 2;
}

Result<ExpectedVersion> ParseExpected(const std::string& text) {
  if (text == "any") return ExpectedVersion::Any();
  if (text == "none") return ExpectedVersion::NoStream();
  try {
    size_t used = 0;
    unsigned long long v = std::stoull(text, &used);
    if (used == text.size() && text[0] != '-') return ExpectedVersion::Exact(v);
  } catch (...) {
  }
  return Status::InvalidArgument("--expected-version must be 'any', 'none' or a version number, not '" +
                                 text + "'");
}

struct AppendArgs {
  std::string data, stream, type, occurred_at, user = "cli", role = "admin", office, payload = "{}",
      command_id, expected = "any";
};

int RunAppend(const AppendArgs& a) {
  std::string payload = a.payload;
  if (payload == "-") payload.assign(std::istreambuf_iterator<char>(std::cin), {});
  auto expected = ParseExpected(a.expected);
  if (!expected.ok()) return Fail(expected.status().message());
  StoreOptions o;
  o.path = a.data;
  auto store = EventStore::Open(o);
  if (!store.ok()) return Fail(store.status().message());
  AppendRequest req;
  req.command_id = a.command_id.empty() ? RandomCommandId() : a.command_id;
  NewEvent e;
  e.stream_id = a.stream;
  e.type = a.type;
  e.occurred_at = a.occurred_at.empty() ? FormatRfc3339Cst(SystemClock::Default()->Now()) : a.occurred_at;
  e.actor = {a.user, a.role, a.office};
  e.payload_json = payload;
  req.events.push_back(std::move(e));
  req.expectations.push_back({a.stream, *expected});
  auto r = (*store)->Append(std::move(req));
  if (!r.ok()) return Fail("append refused, nothing written: " + r.status().message());
  nlohmann::json out = {{"position", r->first_position},
                        {"version", r->streams.empty() ? 0 : r->streams[0].version},
                        {"duplicate", r->duplicate}};
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

void RegisterStoreCommands(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<AppendArgs>();
  CLI::App* append = app.add_subcommand(
      "append",
      "Append one event to a stream, durably, and print its position.\n"
      "Example:\n  xiaohao append --data ./var --stream demo-1 --type demo.noted \\\n"
      "    --payload '{\"note\":\"现场检查\"}' --expected-version none");
  append->add_option("--data", args->data, "Data directory")->required();
  append->add_option("--stream", args->stream, "Stream id")->required();
  append->add_option("--type", args->type, "Event type, like risk_item.opened")->required();
  append->add_option("--occurred-at", args->occurred_at,
                     "Business time, RFC 3339 (default: now, in CST)");
  append->add_option("--payload", args->payload, "JSON object, or - to read it from stdin");
  append->add_option("--user", args->user, "Actor user id");
  append->add_option("--role", args->role, "Actor role");
  append->add_option("--office", args->office, "Actor office id");
  append->add_option("--command-id", args->command_id,
                     "Idempotency key: a repeat writes nothing (default: random)");
  append->add_option("--expected-version", args->expected, "any | none | N (default any)");
  append->callback([args, exit_code] { *exit_code = RunAppend(*args); });

  auto rdata = std::make_shared<std::string>();
  auto rstream = std::make_shared<std::string>();
  auto rfrom = std::make_shared<uint64_t>(1);
  auto rlimit = std::make_shared<size_t>(SIZE_MAX);
  CLI::App* read = app.add_subcommand(
      "read",
      "Print events as JSON lines: one stream, or the global log. Opens the store read-only,\n"
      "so it works while another process writes.\n"
      "Example:\n  xiaohao read --data ./var --stream demo-1\n  xiaohao read --data ./var --from 100 --limit 10");
  read->add_option("--data", *rdata, "Data directory")->required();
  read->add_option("--stream", *rstream, "Stream id (default: the global log)");
  read->add_option("--from", *rfrom, "First version (of the stream) or position (of the log)");
  read->add_option("--limit", *rlimit, "At most this many events");
  read->callback([=] {
    StoreOptions o;
    o.path = *rdata;
    o.read_only = true;
    auto store = EventStore::Open(o);
    if (!store.ok()) {
      *exit_code = Fail(store.status().message());
      return;
    }
    if (!rstream->empty()) {
      auto events = (*store)->ReadStream(*rstream, *rfrom, *rlimit);
      if (!events.ok()) {
        *exit_code = Fail(events.status().message());
        return;
      }
      for (const auto& e : *events) std::cout << EventToJson(e).dump() << "\n";
    } else {
      size_t n = 0;
      Status s = (*store)->ScanLog(*rfrom, [&](const RecordedEvent& e) {
        std::cout << EventToJson(e).dump() << "\n";
        return ++n < *rlimit;
      });
      if (!s.ok()) *exit_code = Fail(s.message());
    }
  });

  auto vdata = std::make_shared<std::string>();
  auto vhead = std::make_shared<std::string>();
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Walk the hash chain of the whole log. Prints 'ok <count> events, head <hash>' (exit 0)\n"
      "or 'broken at position <P>: <reason>' (exit 1). Keep the head elsewhere and pass it\n"
      "back with --expect-head to detect truncation.\n"
      "Example:\n  xiaohao verify --data ./var --expect-head 1200:3f5a...");
  verify->add_option("--data", *vdata, "Data directory")->required();
  verify->add_option("--expect-head", *vhead, "POSITION:HASH kept from an earlier verify");
  verify->callback([=] {
    std::optional<std::pair<uint64_t, Hash>> expected;
    if (!vhead->empty()) {
      auto colon = vhead->find(':');
      Hash h;
      uint64_t pos = 0;
      bool ok = colon != std::string::npos && HashFromHex(vhead->substr(colon + 1), &h);
      try {
        if (ok) pos = std::stoull(vhead->substr(0, colon));
      } catch (...) {
        ok = false;
      }
      if (!ok) {
        *exit_code = Fail("--expect-head must be POSITION:HASH (64 hex digits), as printed by verify");
        return;
      }
      expected = std::make_pair(pos, h);
    }
    StoreOptions o;
    o.path = *vdata;
    o.read_only = true;
    auto store = EventStore::Open(o);
    if (!store.ok()) {
      *exit_code = Fail(store.status().message());
      return;
    }
    auto report = (*store)->Verify(expected);
    if (!report.ok()) {
      *exit_code = Fail(report.status().message());
      return;
    }
    if (report->ok) {
      std::cout << "ok " << report->events << " events";
      if (report->events > 0) std::cout << ", head " << HashToHex(report->head);
      std::cout << "\n";
      *exit_code = 0;
    } else {
      std::cout << "broken at position " << report->bad_position << ": " << report->reason << "\n";
      *exit_code = 1;
    }
  });
}

}  // namespace xiaohao
