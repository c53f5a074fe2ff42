#include "engine/workflow_registry.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/time_format.h"

namespace xiaohao {

using nlohmann::json;

namespace {
// A stable hash (std::hash is not guaranteed to be) for idempotency keys.
std::string Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
}  // namespace

Status WorkflowRegistry::Add(WorkflowDefinition def) {
  auto key = std::make_pair(def.id, def.version);
  auto it = defs_.find(key);
  if (it != defs_.end()) {
    if (it->second->raw == def.raw) return Status::OK();
    return Status::FailedPrecondition("workflow " + def.id + " version " + std::to_string(def.version) + " from " +
                                      def.file + " differs from the version already loaded (" + it->second->file +
                                      "); a changed definition needs a new version number");
  }
  defs_[key] = std::make_shared<const WorkflowDefinition>(std::move(def));
  return Status::OK();
}

Status WorkflowRegistry::LoadDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("no workflow definition directory " + dir);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) return Status::IOError("cannot read " + f);
    ASSIGN_OR_RETURN(WorkflowDefinition d, ParseWorkflowDefinition(ss.str(), f));
    RETURN_IF_ERROR(Add(std::move(d)));
  }
  return Status::OK();
}

const WorkflowDefinition* WorkflowRegistry::Find(const std::string& id, int version) const {
  auto it = defs_.find({id, version});
  return it == defs_.end() ? nullptr : it->second.get();
}

const WorkflowDefinition* WorkflowRegistry::Latest(const std::string& id) const {
  const WorkflowDefinition* best = nullptr;
  for (auto it = defs_.lower_bound({id, 0}); it != defs_.end() && it->first.first == id; ++it)
    best = it->second.get();
  return best;
}

std::vector<const WorkflowDefinition*> WorkflowRegistry::All() const {
  std::vector<const WorkflowDefinition*> out;
  for (const auto& [k, d] : defs_) out.push_back(d.get());
  return out;
}

std::vector<const WorkflowDefinition*> WorkflowRegistry::LatestOfEach() const {
  std::vector<const WorkflowDefinition*> out;
  for (const auto& [k, d] : defs_) {
    if (!out.empty() && out.back()->id == k.first) out.back() = d.get();
    else out.push_back(d.get());
  }
  return out;
}

Status WorkflowRegistry::LoadFromStore(EventStore& store) {
  ASSIGN_OR_RETURN(auto events, store.ReadStream(kWorkflowsStream));
  for (const auto& e : events) {
    if (e.type != kWorkflowVersionLoaded) continue;
    json p;
    try {
      p = json::parse(e.payload_json);
    } catch (const json::exception&) {
      return Status::Corruption("$workflows event " + std::to_string(e.version) + ": payload is not JSON");
    }
    if (!p.contains("definition")) return Status::Corruption("$workflows event lacks its definition");
    std::string origin = std::string(kWorkflowsStream) + "@" + std::to_string(e.version);
    auto d = ParseWorkflowDefinition(p["definition"].dump(), origin);
    if (!d.ok()) return Status::Corruption("recorded definition does not parse: " + d.status().message());
    RETURN_IF_ERROR(Add(std::move(d).value()));
  }
  return Status::OK();
}

Status WorkflowRegistry::RecordInStore(EventStore& store, UnixMicros now) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(auto events, store.ReadStream(kWorkflowsStream));
    std::map<std::pair<std::string, int>, json> recorded;
    for (const auto& e : events) {
      if (e.type != kWorkflowVersionLoaded) continue;
      try {
        json p = json::parse(e.payload_json);
        recorded[{p.at("id").get<std::string>(), p.at("version").get<int>()}] = p.at("definition");
      } catch (const json::exception&) {
        return Status::Corruption("$workflows event " + std::to_string(e.version) + " is malformed");
      }
    }
    AppendRequest req;
    std::string ids;
    for (const auto& [key, d] : defs_) {
      auto it = recorded.find(key);
      if (it != recorded.end()) {
        if (it->second != d->raw)
          return Status::FailedPrecondition("workflow " + d->id + " version " + std::to_string(d->version) +
                                            " in " + d->file + " differs from the version recorded in " +
                                            kWorkflowsStream + "; give the changed definition a new version");
        continue;
      }
      NewEvent ev;
      ev.stream_id = kWorkflowsStream;
      ev.type = kWorkflowVersionLoaded;
      ev.occurred_at = FormatRfc3339Cst(now);
      ev.actor = {"xiaohao", "system", ""};
      ev.payload_json = json{{"id", d->id}, {"version", d->version}, {"definition", d->raw}}.dump();
      req.events.push_back(std::move(ev));
      ids += d->id + "@" + std::to_string(d->version) + ";";
    }
    if (req.events.empty()) return Status::OK();
    // Same set of versions on top of the same stream version -> same id, so a
    // retry after a crash writes nothing twice.
    req.command_id = "workflows-load:" + std::to_string(events.size()) + ":" +
                     Fnv1a(ids);
    req.expectations.push_back({kWorkflowsStream, events.empty() ? ExpectedVersion::NoStream()
                                                                 : ExpectedVersion::Exact(events.back().version)});
    auto r = store.Append(std::move(req));
    if (r.ok()) return Status::OK();
    if (r.status().code() != StatusCode::kVersionConflict) return r.status();
    // Another process recorded versions meanwhile: read again and re-check.
  }
  return Status::FailedPrecondition("could not record workflow versions: the $workflows stream kept changing");
}

}  // namespace xiaohao
