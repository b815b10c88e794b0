#include "edgefarm/cli/matrix_table.h"

#include <gtest/gtest.h>

#include <sstream>

#include "edgefarm/cli/status_printer.h"
#include "edgefarm/pipelines/gates.h"

namespace edgefarm::cli {
namespace {

// A run as GET /api/v1/runs/{id} returns it (docs: coordinator HTTP API).
nlohmann::json SampleRun() {
  return nlohmann::json::parse(R"({
    "id": "run-1", "name": "demo", "state": "succeeded",
    "jobs": [
      {"id": "j1", "name": "llama_cpp/intel-x86", "kind": "engine", "target": "intel-x86",
       "state": "succeeded", "worker": "w-abc",
       "attempts": [{"attempt": 1, "worker": "w-abc", "state": "succeeded"}],
       "result": {"schema": "edgefarm.result/v1", "metrics": {
          "model_bytes": 1153434, "tg_tps_mean": 812.345, "pp_tps_mean": 2048.0,
          "accuracy_retention": 0.9871, "speedup": 2.5, "memory_reduction": 0.7,
          "latency_cv": 0.05}}},
      {"id": "j2", "name": "openvino/intel-x86", "kind": "engine", "target": "intel-x86",
       "state": "succeeded", "worker": "w-def",
       "attempts": [{"attempt": 1}, {"attempt": 2, "reason": "worker lost"}],
       "result": {"metrics": {"model_bytes": 2000000, "tg_tps_mean": 400,
          "accuracy_retention": 0.999, "speedup": 1.25, "memory_reduction": 0.5}}},
      {"id": "j3", "name": "host-info", "kind": "command", "state": "failed", "worker": "",
       "attempts": [{"attempt": 1, "reason": "exited with status 3"}], "result": null}
    ]})");
}

TEST(MatrixTableTest, RowsCarryFiguresAndWorkerNames) {
  const auto rows = BuildMatrixRows(SampleRun(), nullptr, {{"w-abc", "worker-1"}});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].cell, "llama_cpp/intel-x86");
  EXPECT_EQ(rows[0].worker, "worker-1");
  EXPECT_EQ(rows[0].model_size, "1.1 MiB");
  EXPECT_EQ(rows[0].tg_tps, "812.3");
  EXPECT_EQ(rows[0].pp_tps, "2048.0");
  EXPECT_EQ(rows[0].retention, "0.987");
  EXPECT_EQ(rows[0].verdict, "n/a");
  EXPECT_EQ(rows[1].worker, "w-def");
  EXPECT_EQ(rows[1].pp_tps, "-");
  EXPECT_EQ(rows[2].worker, "-");
  EXPECT_EQ(rows[2].model_size, "-");
  EXPECT_EQ(rows[2].verdict, "-");
}

TEST(MatrixTableTest, VerdictsComeFromThePipelineGates) {
  pipelines::GatesSpec gates;  // the seed defaults
  const auto rows = BuildMatrixRows(SampleRun(), &gates);
  EXPECT_EQ(rows[0].verdict, "pass");
  // Second cell: speedup 1.25 < 2 and latency_cv missing under no_data: fail.
  EXPECT_EQ(rows[1].verdict.rfind("FAIL: ", 0), 0u) << rows[1].verdict;
  EXPECT_NE(rows[1].verdict.find("speedup"), std::string::npos);
  EXPECT_NE(rows[1].verdict.find("latency_cv"), std::string::npos);
  EXPECT_EQ(rows[2].verdict, "-");
}

TEST(MatrixTableTest, TableAlignsColumns) {
  const std::string table = FormatTable({"a", "long header"}, {{"wide cell", "x"}, {"b", "y"}});
  std::istringstream in(table);
  std::string header, rule, first, second;
  std::getline(in, header);
  std::getline(in, rule);
  std::getline(in, first);
  std::getline(in, second);
  EXPECT_EQ(header, "a          long header");
  EXPECT_EQ(rule, std::string(header.size(), '-'));
  EXPECT_EQ(first, "wide cell  x");
  EXPECT_EQ(second, "b          y");
}

TEST(MatrixTableTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3.0 * 1024 * 1024 * 1024), "3.0 GiB");
}

class RecordingPrinter : public StatusPrinter {
 public:
  void Message(std::string_view line) override { lines.emplace_back(line); }
  void JobChanged(const JobView& job, size_t done, size_t total) override {
    lines.push_back(job.name + " " + job.state + " " + job.worker + " " + std::to_string(done) +
                    "/" + std::to_string(total));
  }
  void Block(std::string_view text) override { lines.emplace_back(text); }
  std::vector<std::string> lines;
};

TEST(RunProgressTest, ReportsOnlyChangedJobs) {
  RecordingPrinter printer;
  RunProgress progress(printer);
  nlohmann::json run = SampleRun();
  run["jobs"][0]["state"] = "running";
  progress.Update(run, {{"w-abc", "worker-1"}});
  ASSERT_EQ(printer.lines.size(), 3u);
  EXPECT_EQ(printer.lines[0], "llama_cpp/intel-x86 running worker-1 2/3");
  progress.Update(run);
  EXPECT_EQ(printer.lines.size(), 3u);  // nothing changed
  run["jobs"][0]["state"] = "succeeded";
  progress.Update(run, {{"w-abc", "worker-1"}});
  ASSERT_EQ(printer.lines.size(), 4u);
  EXPECT_EQ(printer.lines[3], "llama_cpp/intel-x86 succeeded worker-1 3/3");
}

TEST(RunProgressTest, ConsoleLinesNameStateWorkerAndReason) {
  std::ostringstream out;
  ConsoleStatusPrinter printer(out);
  JobView job;
  job.name = "host-info";
  job.state = "failed";
  job.worker = "worker-2";
  job.attempts = 2;
  job.reason = "exited with status 3";
  printer.JobChanged(job, 1, 4);
  EXPECT_EQ(out.str(),
            "[1/4] host-info                failed        on worker-2 (attempt 2): exited with "
            "status 3\n");
  EXPECT_TRUE(IsFinalRunState("succeeded"));
  EXPECT_FALSE(IsFinalRunState("running"));
}

}  // namespace
}  // namespace edgefarm::cli
