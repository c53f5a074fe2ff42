// The risk-list projection: exact counts per office and quarter, rolled up
// the tree; resumed after a restart without a replay; rebuilt from position
// 1 to the very same keys; and as-of / as-at views that differ when a
// closure is recorded late.
#include "engine/risk_projection.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <thread>
#include <tuple>

#include "engine/audit_trail.h"
#include "engine/command_handler.h"
#include "engine/risk_list.h"
#include "engine/view_reader.h"
#include "store/fault_injection.h"
#include "tests/engine/workflow_fixture.h"
#include "tests/store/store_test_util.h"

namespace xiaohao::testing {
namespace {

using nlohmann::json;

struct ViewsFixture : WorkflowFixture {
  std::unique_ptr<FaultInjectionEnv> fs = FaultInjectionEnv::Create(/*in_memory=*/true);
  ManualClock clock{At("2025-07-01T00:00:00+08:00")};
  std::unique_ptr<EventStore> store;
  std::unique_ptr<CommandHandler> handler;
  std::unique_ptr<RiskListProjection> projection;
  size_t scan_readahead = StoreOptions().log_scan_readahead_bytes;

  ViewsFixture() { Open(); }
  void Open(bool start = true) {
    projection.reset();
    handler.reset();
    store.reset();
    StoreOptions o;
    o.path = "/mem/db";
    o.env = fs->env();
    o.clock = &clock;
    o.log_scan_readahead_bytes = scan_readahead;
    auto s = EventStore::Open(o);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    store = std::move(s).value();
    handler = std::make_unique<CommandHandler>(store.get(), &registry, &calendar, &tree, &clock);
    projection = std::make_unique<RiskListProjection>(store.get(), &registry);
    if (start) REQUIRE_OK(projection->Start());
  }
  // Runs a command recorded at `recorded` (the store clock) that happened at `occurred`.
  void Run(const std::string& id, const std::string& name, const json& payload, const Actor& actor,
           const std::string& occurred, const std::string& recorded = "") {
    clock.Set(std::max(clock.Now(), At(recorded.empty() ? occurred : recorded)));
    Command c;
    c.case_id = id;
    c.name = name;
    c.payload = payload;
    c.occurred_at = occurred;
    c.command_id = id + "/" + name + "/" + occurred;
    auto r = handler->Execute(c, actor);
    INFO(id << " " << name << ": " << r.status().ToString());
    REQUIRE(r.ok());
  }
  void OpenItem(const std::string& id, const std::string& office, const std::string& day,
                const std::string& source = "inspection", const std::string& level = "medium") {
    Run(id, "open",
        {{"source", source}, {"office", office}, {"enterprise", "ENT-" + id}, {"product_category", "体外诊断试剂"},
         {"risk_level", level}, {"found_on", day}, {"description", "未按规定储存"}},
        Inspector(office), day + "T10:00:00+08:00");
  }
  // open -> assign -> notice (rectify_by) -> report -> pass -> close on close_day.
  void CloseItem(const std::string& id, const std::string& office, const std::string& open_day,
                 const std::string& close_day, const std::string& recorded = "") {
    OpenItem(id, office, open_day);
    Run(id, "assign", {{"assignee", "张三"}}, Inspector(office), open_day + "T11:00:00+08:00");
    Run(id, "issue_rectification_notice", {{"notice_no", "整改-" + id}, {"rectify_by", close_day}, {"content", "整改"}},
        Inspector(office), open_day + "T12:00:00+08:00");
    Run(id, "report_rectification", {{"report", "已整改"}}, Inspector(office), open_day + "T13:00:00+08:00");
    Run(id, "pass_verification", {{"method", "on_site"}, {"verified_on", open_day}, {"findings", "整改到位"}},
        Inspector(office), open_day + "T14:00:00+08:00");
    Run(id, "close", {{"basis", "跟踪检查通过"}}, Inspector(office), close_day + "T09:00:00+08:00", recorded);
  }
  // Appends the scheduler's overdue fact for the case's open rectification deadline.
  void MarkOverdue(const std::string& id, const std::string& when) {
    clock.Set(std::max(clock.Now(), At(when)));
    auto v = store->StreamVersion(id);
    REQUIRE(v.ok());
    AppendRequest r;
    r.command_id = "overdue/" + id;
    r.events.push_back({id, "deadline.overdue", when, {"scheduler", "system", ""},
                        json{{"deadline", "rectification"}, {"generation", 1}}.dump()});
    r.expectations.push_back({id, ExpectedVersion::Exact(*v)});
    REQUIRE(store->Append(r).ok());
  }
  void Sync() { REQUIRE(projection->WaitFor(store->DurableHead(), 10'000'000)); }

  // Five Q3 items and one Q4 item over nanbin and wanan (see the first test).
  void Scenario() {
    CloseItem("risk_item-a", "nanbin", "2025-07-10", "2025-07-25");  // 15 days
    OpenItem("risk_item-b", "nanbin", "2025-08-01");
    Run("risk_item-b", "assign", {{"assignee", "李四"}}, Inspector(), "2025-08-01T11:00:00+08:00");
    Run("risk_item-b", "issue_rectification_notice",
        {{"notice_no", "整改-b"}, {"rectify_by", "2025-08-05"}, {"content", "整改"}}, Inspector(),
        "2025-08-01T12:00:00+08:00");
    MarkOverdue("risk_item-b", "2025-08-06T00:00:00+08:00");
    CloseItem("risk_item-c", "wanan", "2025-09-30", "2025-10-09");  // 9 days, counted in Q3 (opened)
    OpenItem("risk_item-d", "wanan", "2025-10-02", "complaint", "high");
    Run("risk_item-d", "refer", {{"to", "police"}, {"reason", "涉嫌犯罪"}}, Inspector("wanan"),
        "2025-10-03T10:00:00+08:00");
    OpenItem("risk_item-e", "xialu", "2025-08-15");
    Run("risk_item-e", "void", {{"reason", "误立"}}, Supervisor(), "2025-08-16T10:00:00+08:00");
    OpenItem("risk_item-f", "nanbin", "2025-09-01", "sampling", "high");
    Run("risk_item-f", "reassign", {{"office", "wanan"}, {"reason", "属地调整"}}, Supervisor(),
        "2025-09-02T10:00:00+08:00");
  }

  RiskListReport Report(const RiskListQuery& q, const ViewTime& t = {}) {
    auto view = ViewReader::Open(store.get(), &registry, t);
    INFO(view.status().ToString());
    REQUIRE(view.ok());
    auto r = BuildRiskList(**view, tree, q);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }
  static const RiskListRow* Row(const RiskListReport& r, const std::string& unit, const std::string& quarter) {
    for (const auto& row : r.rows)
      if (row.unit == unit && row.quarter == quarter) return &row;
    return nullptr;
  }
  std::map<std::string, std::string> ProjectionKeys() {
    std::map<std::string, std::string> out;
    REQUIRE(store
                ->ScanAux(kProjectionPrefix,
                          [&](const std::string& k, const std::string& v) {
                            out[k] = v;
                            return true;
                          })
                .ok());
    return out;
  }
};

void CheckScenarioCounts(const RiskListReport& r) {
  const RiskListRow* nanbin = ViewsFixture::Row(r, "nanbin", "2025Q3");
  REQUIRE(nanbin != nullptr);
  CHECK(nanbin->counts.opened == 2);  // a, b (f was reassigned away)
  CHECK(nanbin->counts.closed == 1);
  CHECK(nanbin->counts.open == 1);
  CHECK(nanbin->counts.overdue == 1);
  CHECK(nanbin->counts.closure_rate() == Approx(0.5));
  CHECK(*nanbin->counts.median_days_to_close() == 15.0);
  const RiskListRow* wanan = ViewsFixture::Row(r, "wanan", "2025Q3");
  REQUIRE(wanan != nullptr);
  CHECK(wanan->counts.opened == 2);  // c, f
  CHECK(wanan->counts.closed == 1);
  CHECK(wanan->counts.open == 1);
  CHECK(wanan->counts.overdue == 0);
  CHECK(*wanan->counts.median_days_to_close() == 9.0);
  const RiskListRow* county = ViewsFixture::Row(r, "shizhu", "2025Q3");
  REQUIRE(county != nullptr);
  CHECK(county->counts.opened == 4);  // e (voided) is not counted
  CHECK(county->counts.closed == 2);
  CHECK(county->counts.open == 2);
  CHECK(county->counts.overdue == 1);
  CHECK(*county->counts.median_days_to_close() == 12.0);
  const RiskListRow* province = ViewsFixture::Row(r, "chongqing", "2025Q3");
  REQUIRE(province != nullptr);
  CHECK(province->counts == county->counts);
  const RiskListRow* q4 = ViewsFixture::Row(r, "wanan", "2025Q4");
  REQUIRE(q4 != nullptr);
  CHECK(q4->counts.opened == 1);
  CHECK(q4->counts.referred == 1);
  CHECK(q4->counts.open == 0);
  CHECK_FALSE(q4->counts.median_days_to_close().has_value());
}

TEST_CASE("risk list: exact counts per office and quarter, rolled up the tree", "[views]") {
  ViewsFixture f;
  f.Scenario();
  f.Sync();
  auto r = f.Report({});
  CHECK(r.basis == "projection");
  CheckScenarioCounts(r);
  // xialu's only item was voided: no row without a quarter asked for ...
  CHECK(ViewsFixture::Row(r, "xialu", "2025Q3") == nullptr);
  // ... and a zero row with one, as the quarterly table lists every office.
  RiskListQuery q;
  q.unit = "shizhu";
  q.quarter = "2025Q3";
  auto r3 = f.Report(q);
  REQUIRE(r3.rows.size() == 11);  // the county and its ten offices
  CHECK(r3.rows[0].unit == "shizhu");
  const RiskListRow* xialu = ViewsFixture::Row(r3, "xialu", "2025Q3");
  REQUIRE(xialu != nullptr);
  CHECK(xialu->counts.opened == 0);
}

TEST_CASE("risk list: filters read the case summaries", "[views]") {
  ViewsFixture f;
  f.Scenario();
  f.Sync();
  RiskListQuery q;
  q.filter.risk_level = "high";
  q.include_items = true;
  auto r = f.Report(q);
  REQUIRE(r.items.size() == 2);  // d, f
  CHECK(r.items[0].case_id == "risk_item-d");
  CHECK(r.items[1].case_id == "risk_item-f");
  CHECK(r.items[1].office == "wanan");
  CHECK(ViewsFixture::Row(r, "shizhu", "2025Q3")->counts.opened == 1);
  q = {};
  q.filter.state = "overdue";
  q.include_items = true;
  r = f.Report(q);
  REQUIRE(r.items.size() == 1);
  CHECK(r.items[0].case_id == "risk_item-b");
  q = {};
  q.filter.source = "sampling";
  r = f.Report(q);
  CHECK(ViewsFixture::Row(r, "wanan", "2025Q3")->counts.opened == 1);
  CHECK(ViewsFixture::Row(r, "nanbin", "2025Q3") == nullptr);
  q = {};
  q.unit = "nowhere";
  auto view = ViewReader::Open(f.store.get(), &f.registry, {});
  REQUIRE(view.ok());
  CHECK(BuildRiskList(**view, f.tree, q).status().code() == StatusCode::kInvalidArgument);
}

// Rows as a comparable list: (unit, quarter, counts).
std::vector<std::tuple<std::string, std::string, std::string>> RowsOf(const RiskListReport& r) {
  std::vector<std::tuple<std::string, std::string, std::string>> out;
  for (const auto& row : r.rows) out.emplace_back(row.unit, row.quarter, row.counts.Encode());
  return out;
}

TEST_CASE("risk list: a filter on source, risk level or category reads its buckets and agrees with the summaries",
          "[views]") {
  ViewsFixture f;
  f.Scenario();
  // A second category, so that the filter has something to tell apart.
  f.Run("risk_item-g", "open",
        {{"source", "online_sales"}, {"office", "wanan"}, {"enterprise", "ENT-g"}, {"product_category", "隐形眼镜"},
         {"risk_level", "low"}, {"found_on", "2025-09-10"}, {"description", "网售隐形眼镜无证"}},
        Inspector("wanan"), "2025-09-10T10:00:00+08:00");
  f.Sync();
  // The buckets are there, one set per field and value.
  auto keys = f.ProjectionKeys();
  CHECK(keys.count(std::string(kDimensionBucketKeyPrefix) + DimensionBucketKey("risk_level", "high", "2025Q3/wanan")) == 1);
  CHECK(keys.count(std::string(kDimensionBucketKeyPrefix) + DimensionBucketKey("product_category", "隐形眼镜", "2025Q3/wanan")) == 1);
  CHECK(keys.at(kProjectionFormatKey) == kProjectionFormat);
  // For every value (and one no item has), with and without a unit and a
  // quarter, now and as of a past record time (a view folded from the log):
  // the rows read from the buckets equal the rows summed over the matching
  // summaries (the include_items path reads every summary).
  const std::map<std::string, std::vector<std::string>> values = {
      {"source", {"inspection", "sampling", "complaint", "online_sales", "public_opinion"}},
      {"risk_level", {"low", "medium", "high"}},
      {"product_category", {"体外诊断试剂", "隐形眼镜", "无此类别"}}};
  std::vector<ViewTime> times(2);
  times[1].as_of = At("2025-09-05T00:00:00+08:00");
  int nonempty = 0;
  for (const ViewTime& t : times)
    for (const auto& [dim, vs] : values)
      for (const std::string& v : vs)
        for (const std::string unit : {"", "shizhu", "wanan"})
          for (const std::string quarter : {"", "2025Q3"}) {
            INFO(dim << "=" << v << " unit=" << unit << " quarter=" << quarter << " as_of=" << t.as_of.has_value());
            RiskListQuery q;
            q.unit = unit;
            q.quarter = quarter;
            (dim == "source" ? q.filter.source : dim == "risk_level" ? q.filter.risk_level : q.filter.product_category) = v;
            auto from_buckets = f.Report(q, t);
            q.include_items = true;
            auto from_summaries = f.Report(q, t);
            CHECK(RowsOf(from_buckets) == RowsOf(from_summaries));
            if (!from_summaries.items.empty()) ++nonempty;
          }
  CHECK(nonempty > 20);  // the comparison was not all empty reports
  // A value split: the high items are d and f; f moved to wanan.
  RiskListQuery high;
  high.filter.risk_level = "high";
  auto r = f.Report(high);
  CHECK(ViewsFixture::Row(r, "wanan", "2025Q3")->counts.opened == 1);
  CHECK(ViewsFixture::Row(r, "wanan", "2025Q4")->counts.referred == 1);
  CHECK(ViewsFixture::Row(r, "nanbin", "2025Q3") == nullptr);
}

TEST_CASE("views: a projection written by an older build (no dimension buckets) is rebuilt on start", "[views]") {
  ViewsFixture f;
  f.Scenario();
  f.Sync();
  auto current = f.ProjectionKeys();
  f.projection->Stop();
  // What the previous format left: no rl/format, no rl/d/ keys.
  AuxBatch old_format;
  old_format.Delete(kProjectionFormatKey);
  for (const auto& [k, v] : current)
    if (k.rfind(kDimensionBucketKeyPrefix, 0) == 0) old_format.Delete(k);
  REQUIRE_OK(f.store->WriteAux(old_format, true));
  // Readers do not trust it: a filtered report folds the log and is right.
  RiskListQuery high;
  high.filter.risk_level = "high";
  auto r = f.Report(high);
  CHECK(r.basis == "log");
  CHECK(ViewsFixture::Row(r, "wanan", "2025Q3")->counts.opened == 1);
  // The next start rebuilds it to exactly what a current build writes.
  f.Open(/*start=*/false);
  auto st = ReadProjectionStatus(*f.store);
  REQUIRE(st.ok());
  CHECK(st->rebuilding);
  CHECK_FALSE(st->format_current);
  REQUIRE_OK(f.projection->Start());
  f.Sync();
  CHECK(f.ProjectionKeys() == current);
  CHECK(f.Report(high).basis == "projection");
}

TEST_CASE("risk list: a restart resumes from the checkpoint, rebuild gives identical keys", "[views]") {
  ViewsFixture f;
  f.CloseItem("risk_item-a", "nanbin", "2025-07-10", "2025-07-25");
  f.Sync();
  uint64_t cp = f.projection->Checkpoint();
  CHECK(cp == f.store->DurableHead());
  // Events appended while no projection runs (e.g. by another process) ...
  f.projection->Stop();
  f.OpenItem("risk_item-b", "nanbin", "2025-08-01");
  f.Run("risk_item-b", "assign", {{"assignee", "李四"}}, Inspector(), "2025-08-01T11:00:00+08:00");
  // ... are seen by a read-only style read (stored keys + the log's tail) ...
  auto r = f.Report({});
  CHECK(r.basis == "projection");
  CHECK(r.position == f.store->DurableHead());
  CHECK(ViewsFixture::Row(r, "nanbin", "2025Q3")->counts.opened == 2);
  // ... and folded on the next start, from the checkpoint, not from position 1.
  f.Open(/*start=*/false);
  auto st = ReadProjectionStatus(*f.store);
  REQUIRE(st.ok());
  CHECK(st->checkpoint == cp);
  REQUIRE_OK(f.projection->Start());
  CHECK(f.projection->Checkpoint() == f.store->DurableHead());
  f.CloseItem("risk_item-c", "wanan", "2025-09-30", "2025-10-09");
  f.OpenItem("risk_item-d", "wanan", "2025-10-02", "complaint", "high");
  f.Run("risk_item-d", "refer", {{"to", "police"}, {"reason", "涉嫌犯罪"}}, Inspector("wanan"),
        "2025-10-03T10:00:00+08:00");
  f.Sync();
  auto incremental = f.ProjectionKeys();
  CHECK(incremental.count("rl/c/risk_item-a") == 1);
  CHECK(incremental.at("rl/checkpoint") == std::to_string(f.store->DurableHead()));

  f.projection->Stop();
  auto events = f.projection->Rebuild();
  REQUIRE(events.ok());
  CHECK(*events == f.store->DurableHead());
  auto rebuilt = f.ProjectionKeys();
  CHECK(rebuilt.size() == incremental.size());
  CHECK(rebuilt == incremental);
  // Started again, the subscription's redelivery of folded events changes nothing.
  REQUIRE_OK(f.projection->Start());
  f.Sync();
  CHECK(f.ProjectionKeys() == incremental);
}

TEST_CASE("views: rebuild equals incremental over the full scenario", "[views]") {
  ViewsFixture f;
  f.Scenario();
  f.Sync();
  auto incremental = f.ProjectionKeys();
  f.projection->Stop();
  REQUIRE(f.projection->Rebuild().ok());
  CHECK(f.ProjectionKeys() == incremental);
  CheckScenarioCounts(f.Report({}));
  // Folded in partitions by stream id on several threads, the buckets added
  // up: the very same keys, over an existing projection or over none.
  for (int threads : {1, 2, 3, 7}) {
    INFO("threads " << threads);
    auto events = f.projection->Rebuild(threads);
    REQUIRE(events.ok());
    CHECK(*events == f.store->DurableHead());
    CHECK(f.ProjectionKeys() == incremental);
  }
  AuxBatch wipe;
  for (const auto& [k, v] : incremental) wipe.Delete(k);
  REQUIRE_OK(f.store->WriteAux(wipe, true));
  REQUIRE(f.projection->Rebuild(2).ok());
  CHECK(f.ProjectionKeys() == incremental);
}

TEST_CASE("views: a rebuild over a log many batches long equals incremental", "[views]") {
  // The rebuild's one scan hands each partition batches of copied events, at
  // most kRebuildBatches of them at a time: when a partition's large events
  // alone hold more bytes than all its batches, the scan must fill, send and
  // reuse emptied batches for it. Checked below for every partition of every
  // partition count.
  ViewsFixture f;
  std::string long_text;
  while (long_text.size() < 200 * 1024) long_text += "现场检查发现未按规定储存、运输体外诊断试剂，冷链记录缺失。";
  const size_t cases = 240;
  std::vector<std::string> ids;
  for (size_t i = 0; i < cases; ++i) {
    const std::string id = "risk_item-big" + std::to_string(i);
    ids.push_back(id);
    const std::string office = i % 2 ? "nanbin" : "wanan";
    f.Run(id, "open",
          {{"source", "inspection"}, {"office", office}, {"enterprise", "ENT-" + id},
           {"product_category", "体外诊断试剂"}, {"risk_level", i % 3 ? "medium" : "high"},
           {"found_on", "2025-07-10"}, {"description", long_text + std::to_string(i)}},
          Inspector(office), "2025-07-10T10:00:00+08:00");
    if (i % 4 == 0)
      f.Run(id, "assign", {{"assignee", "张三"}}, Inspector(office), "2025-07-10T11:00:00+08:00");
  }
  f.Scenario();  // small events after the large ones
  f.Sync();
  auto incremental = f.ProjectionKeys();
  f.projection->Stop();
  for (int threads : {1, 2, 3}) {
    INFO("threads " << threads);
    std::vector<size_t> share(static_cast<size_t>(threads), 0);
    for (const auto& id : ids) ++share[RiskListProjection::RebuildPartitionOf(id, share.size())];
    for (size_t k = 0; k < share.size(); ++k) {
      INFO("partition " << k << ": " << share[k] << " large events");
      REQUIRE(share[k] * long_text.size() >
              RiskListProjection::kRebuildBatches * RiskListProjection::kRebuildBatchBytes);
    }
    auto events = f.projection->Rebuild(threads);
    REQUIRE(events.ok());
    CHECK(*events == f.store->DurableHead());
    CHECK(f.ProjectionKeys() == incremental);
  }
}

TEST_CASE("views: a rebuild cut short is not taken for a projection, and is redone on start", "[views]") {
  ViewsFixture f;
  f.Scenario();
  f.Sync();
  auto incremental = f.ProjectionKeys();
  f.projection->Stop();
  // What a crash in the middle of a rebuild leaves: the marker, some keys of
  // the old projection gone, a stale one, a checkpoint that looks complete.
  AuxBatch torn;
  torn.Put(kProjectionRebuildingKey, "1");
  int n = 0;
  for (const auto& [k, v] : incremental)
    if (k.rfind(kCaseKeyPrefix, 0) == 0 && n++ % 2 == 0) torn.Delete(k);
  torn.Put(std::string(kCaseKeyPrefix) + "risk_item-stale", "garbage");
  torn.Put(std::string(kBucketKeyPrefix) + "2020Q1/nowhere", "{}");
  REQUIRE_OK(f.store->WriteAux(torn, true));
  // Readers fold the log instead of trusting the keys ...
  auto r = f.Report({});
  CHECK(r.basis == "log");
  CheckScenarioCounts(r);
  // ... and the next start rebuilds before following the log.
  f.Open(/*start=*/false);
  auto st = ReadProjectionStatus(*f.store);
  REQUIRE(st.ok());
  CHECK(st->rebuilding);
  REQUIRE_OK(f.projection->Start());
  f.Sync();
  CHECK(f.ProjectionKeys() == incremental);
  CHECK(f.Report({}).basis == "projection");
}

// The scenario and 120 more items with long descriptions, all read back from
// table files: the store reopened (recovery flushes the memtables) with a
// small read-ahead, so that one pass over the log takes dozens of reads.
// Returns the reads of one clean pass, checked to be many.
int64_t LogOnDiskInManyReads(ViewsFixture& f, bool projection_running = true) {
  f.Scenario();
  for (int i = 0; i < 120; ++i) {
    const std::string id = "risk_item-long" + std::to_string(i);
    f.Run(id, "open",
          {{"source", "inspection"}, {"office", i % 2 ? "nanbin" : "wanan"}, {"enterprise", "ENT-" + id},
           {"product_category", "体外诊断试剂"}, {"risk_level", "medium"}, {"found_on", "2025-01-20"},
           {"description", IncompressibleText(3000, static_cast<uint32_t>(i))}},
          Inspector(i % 2 ? "nanbin" : "wanan"), "2025-01-20T10:00:00+08:00");
  }
  if (projection_running) f.Sync();
  f.scan_readahead = 16 << 10;
  f.Open(/*start=*/false);
  const int64_t before = f.fs->reads();
  uint64_t seen = 0;
  REQUIRE_OK(f.store->ScanLogRaw(1, [&](const EventView&) { return ++seen > 0; }));
  REQUIRE(seen == f.store->DurableHead());
  const int64_t reads = f.fs->reads() - before;
  INFO("one pass over the log took " << reads << " reads");
  REQUIRE(reads >= 20);  // else a fault "midway" would not be midway
  return reads;
}

TEST_CASE("views: a rebuild whose scan of the log fails midway says so, writes only its marker, and is redone",
          "[views][faults]") {
  ViewsFixture f;
  const int64_t reads = LogOnDiskInManyReads(f);
  auto keys = f.ProjectionKeys();
  auto before = f.Report({});
  REQUIRE(before.basis == "projection");
  for (int threads : {1, 3}) {
    INFO("threads " << threads);
    // A bad sector half-way through the log: every read after it fails.
    f.fs->SetReadsFailAfter(reads / 2);
    auto r = f.projection->Rebuild(threads);
    f.fs->SetReadsFailAfter(-1);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().ToString());
    CHECK(r.status().code() == StatusCode::kIOError);
    CHECK(r.status().message().find("scanning the log") != std::string::npos);
    CHECK(r.status().message().find("injected: read failed") != std::string::npos);
    // The scan failed before any partition wrote: the old keys are all
    // there, with the marker, which stays until a rebuild completes ...
    auto now = f.ProjectionKeys();
    CHECK(now.erase(kProjectionRebuildingKey) == 1);
    CHECK(now == keys);
    // ... so readers fold the log (a half-built projection is never read:
    // see "a rebuild cut short"), and get what the projection said.
    auto st = ReadProjectionStatus(*f.store);
    REQUIRE(st.ok());
    CHECK(st->rebuilding);
    auto during = f.Report({});
    CHECK(during.basis == "log");
    REQUIRE(during.rows.size() == before.rows.size());
    for (size_t i = 0; i < before.rows.size(); ++i) {
      INFO(before.rows[i].unit << " " << before.rows[i].quarter);
      CHECK(during.rows[i].unit == before.rows[i].unit);
      CHECK(during.rows[i].quarter == before.rows[i].quarter);
      CHECK(during.rows[i].counts == before.rows[i].counts);
    }
    CheckScenarioCounts(during);
  }
  // With the disk readable again, the next start finishes the rebuild.
  REQUIRE_OK(f.projection->Start());
  f.Sync();
  CHECK(f.ProjectionKeys() == keys);
  CHECK(f.Report({}).basis == "projection");
}

TEST_CASE("views: a catch-up whose scan fails midway writes nothing, and the next start resumes",
          "[views][faults]") {
  ViewsFixture f;
  f.CloseItem("risk_item-first", "nanbin", "2025-06-20", "2025-06-25");
  f.Sync();
  const uint64_t cp = f.projection->Checkpoint();
  auto kept = f.ProjectionKeys();
  // Everything else is appended while no projection runs.
  f.projection->Stop();
  const int64_t reads = LogOnDiskInManyReads(f, /*projection_running=*/false);
  f.fs->SetReadsFailAfter(reads / 2);
  Status started = f.projection->Start();
  f.fs->SetReadsFailAfter(-1);
  INFO(started.ToString());
  REQUIRE_FALSE(started.ok());
  CHECK(started.code() == StatusCode::kIOError);
  CHECK(started.message().find("(the scan began at " + std::to_string(cp + 1) + ")") != std::string::npos);
  // The keys and the checkpoint are those before the catch-up: nothing of
  // the folded half was written.
  CHECK(f.ProjectionKeys() == kept);
  auto st = ReadProjectionStatus(*f.store);
  REQUIRE(st.ok());
  CHECK(st->checkpoint == cp);
  CHECK_FALSE(st->rebuilding);
  // Readers still see every event: the stored keys and the log's tail.
  auto r = f.Report({});
  CHECK(r.basis == "projection");
  CheckScenarioCounts(r);
  // The next start resumes from the checkpoint, to what a rebuild gives.
  REQUIRE_OK(f.projection->Start());
  f.Sync();
  auto resumed = f.ProjectionKeys();
  CHECK(resumed.at("rl/checkpoint") == std::to_string(f.store->DurableHead()));
  f.projection->Stop();
  REQUIRE(f.projection->Rebuild().ok());
  CHECK(f.ProjectionKeys() == resumed);
}

TEST_CASE("views: as of a record time and as at a business time differ for a late closure", "[views]") {
  ViewsFixture f;
  // Closed on 2025-09-28 (business time) but recorded only on 2025-10-20.
  f.CloseItem("risk_item-late", "nanbin", "2025-09-10", "2025-09-28", "2025-10-20T09:00:00+08:00");
  f.Sync();
  ViewTime as_of;
  as_of.as_of = At("2025-10-01T00:00:00+08:00");
  ViewTime as_at;
  as_at.as_at = At("2025-10-01T00:00:00+08:00");
  // What the system knew on 1 October: the item was still open.
  auto known = f.Report({}, as_of);
  CHECK(known.basis == "log");
  CHECK(ViewsFixture::Row(known, "nanbin", "2025Q3")->counts.closed == 0);
  CHECK(ViewsFixture::Row(known, "nanbin", "2025Q3")->counts.open == 1);
  // What had happened by 1 October: it was closed, after 18 days.
  auto happened = f.Report({}, as_at);
  CHECK(ViewsFixture::Row(happened, "nanbin", "2025Q3")->counts.closed == 1);
  CHECK(*ViewsFixture::Row(happened, "nanbin", "2025Q3")->counts.median_days_to_close() == 18.0);

  auto c1 = CaseAsOf(*f.store, f.registry, "risk_item-late", as_of);
  REQUIRE(c1.ok());
  CHECK(c1->state == "verified");
  auto c2 = CaseAsOf(*f.store, f.registry, "risk_item-late", as_at);
  REQUIRE(c2.ok());
  CHECK(c2->state == "closed");
  ViewTime early;
  early.as_of = At("2025-09-01T00:00:00+08:00");
  CHECK(CaseAsOf(*f.store, f.registry, "risk_item-late", early).status().code() == StatusCode::kNotFound);

  // The audit trail shows both times and flags the late record.
  auto trail = BuildAuditTrail(*f.store, "risk_item-late", 3 * kMicrosPerDay);
  REQUIRE(trail.ok());
  REQUIRE(trail->entries.size() == 8);  // 6 commands + the deadline's start and clear
  CHECK(trail->chain_ok);
  int late = 0;
  for (const auto& e : trail->entries) {
    CHECK(e.hash_ok);
    CHECK(e.link_ok);
    if (e.late) {
      ++late;
      CHECK(e.type == "risk_item.closed");
      CHECK(e.actor.office == "nanbin");
      CHECK(e.lag_micros == At("2025-10-20T09:00:00+08:00") - At("2025-09-28T09:00:00+08:00"));
    }
  }
  CHECK(late == 1);
}


// A report "now" reads the stored projection plus the log's tail past its
// checkpoint. If the subscription commits a batch in between, that batch
// must not be counted in the stored keys and again in the tail (seen in CI
// under ASan: one risk item counted as two "opened").
TEST_CASE("risk list now: items opened while it is read are counted once", "[views]") {
  ViewsFixture f;
  f.clock.Set(At("2025-08-01T10:00:00+08:00"));
  constexpr int kItems = 400;
  std::atomic<int> acked{0};
  std::atomic<bool> failed{false};
  // Catch2 v2 assertions are not thread-safe: the writer only counts.
  std::thread writer([&] {
    for (int i = 0; i < kItems && !failed.load(); ++i) {
      Command c;
      c.case_id = "risk_item-race" + std::to_string(i);
      c.name = "open";
      c.payload = {{"source", "inspection"}, {"office", "nanbin"}, {"enterprise", "ENT-race"},
                   {"product_category", "体外诊断试剂"}, {"risk_level", "medium"}, {"found_on", "2025-08-01"},
                   {"description", "未按规定储存"}};
      c.occurred_at = "2025-08-01T10:00:00+08:00";
      c.command_id = c.case_id + "/open";
      if (f.handler->Execute(c, Inspector("nanbin")).ok()) acked.fetch_add(1);
      else failed = true;
    }
  });
  int reads = 0, outside = 0, first_low = -1, first_high = -1, first_seen = -1;
  while (acked.load() < kItems && !failed.load()) {
    const int before = acked.load();
    auto view = ViewReader::Open(f.store.get(), &f.registry, {});
    REQUIRE(view.ok());
    auto buckets = (*view)->Buckets();
    REQUIRE(buckets.ok());
    const int after = acked.load();
    auto it = buckets->find("2025Q3/nanbin");
    const int opened = it == buckets->end() ? 0 : static_cast<int>(it->second.opened);
    // Every acknowledged item is durable, so in the view; the one open in
    // flight may be durable before its Execute returns; nothing counts twice.
    if (opened < before || opened > after + 1) {
      if (outside++ == 0) {
        first_low = before;
        first_high = after;
        first_seen = opened;
      }
    }
    ++reads;
  }
  writer.join();
  REQUIRE_FALSE(failed.load());
  INFO(reads << " reads; first outside: opened " << first_seen << " with " << first_low << ".." << first_high
             << " acknowledged, one more in flight");
  CHECK(outside == 0);
  CHECK(reads > 0);
  f.Sync();
  CHECK(ViewsFixture::Row(f.Report({}), "nanbin", "2025Q3")->counts.opened == kItems);
}

}  // namespace
}  // namespace xiaohao::testing
