// Gate verdicts over engine result records and the Pareto choice per target.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/gate_verdicts.h"
#include "edgefarm/coordinator/pareto.h"
#include "edgefarm/coordinator/pareto_report.h"

namespace edgefarm::coordinator {
namespace {

JobRecord Cell(std::string name, std::string target, std::string scheme, double speedup,
               double retention, double reduction, double cv = 0.05, double bytes = 1000) {
  JobRecord job;
  job.id = "j-" + name;
  job.name = name;
  job.framework = "llama_cpp";
  job.target = std::move(target);
  job.state = JobState::kSucceeded;
  nlohmann::json r = {{"schema", "edgefarm.result/v1"},
                      {"scheme", scheme},
                      {"metrics",
                       {{"speedup", speedup},
                        {"accuracy_retention", retention},
                        {"memory_reduction", reduction},
                        {"latency_cv", cv},
                        {"model_bytes", bytes}}}};
  job.result_json = r.dump();
  return job;
}

std::vector<const JobRecord*> Ptrs(const std::vector<JobRecord>& jobs) {
  std::vector<const JobRecord*> out;
  for (const auto& j : jobs) out.push_back(&j);
  return out;
}

TEST(GateVerdicts, RecordsMetricValueThresholdAndReason) {
  std::vector<JobRecord> jobs = {Cell("q4", "x86", "q4_0", 2.5, 0.97, 0.7),
                                 Cell("q8", "x86", "q8_0", 1.4, 0.99, 0.45)};
  auto cells = JudgeCells(pipelines::GatesSpec{}, Ptrs(jobs));
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].outcome, CellOutcome::kPassed);
  EXPECT_EQ(cells[0].scheme, "q4_0");
  ASSERT_EQ(cells[0].gates.size(), 4u);
  EXPECT_EQ(cells[0].gates[1].metric, "speedup");
  EXPECT_DOUBLE_EQ(*cells[0].gates[1].value, 2.5);
  EXPECT_DOUBLE_EQ(cells[0].gates[1].threshold, 2.0);
  EXPECT_EQ(cells[1].outcome, CellOutcome::kFailed);
  EXPECT_NE(cells[1].reason.find("speedup"), std::string::npos) << cells[1].reason;
  EXPECT_NE(cells[1].reason.find("memory_reduction"), std::string::npos) << cells[1].reason;
  auto json = CellVerdictJson(cells[1]);
  EXPECT_EQ(json["outcome"], "failed");
  EXPECT_EQ(json["gates"][1]["op"], ">=");
  EXPECT_FALSE(json["gates"][1]["passed"].get<bool>());
}

TEST(GateVerdicts, MissingMetricFailsByDefaultAndFollowsPolicy) {
  JobRecord job = Cell("q4", "x86", "q4_0", 2.5, 0.97, 0.7);
  auto r = nlohmann::json::parse(job.result_json);
  r["metrics"].erase("latency_cv");
  job.result_json = r.dump();
  pipelines::GatesSpec spec;
  auto cells = JudgeCells(spec, {&job});
  EXPECT_EQ(cells[0].outcome, CellOutcome::kFailed);
  EXPECT_NE(cells[0].reason.find("latency_cv"), std::string::npos);
  spec.no_data = pipelines::NoDataPolicy::kSkip;
  cells = JudgeCells(spec, {&job});
  EXPECT_EQ(cells[0].outcome, CellOutcome::kPassed);
  EXPECT_TRUE(cells[0].gates[3].skipped);
}

TEST(GateVerdicts, GarbageResultFailsNeverPasses) {
  JobRecord job = Cell("q4", "x86", "q4_0", 2.5, 0.97, 0.7);
  job.result_json = "{not json";
  auto cells = JudgeCells(pipelines::GatesSpec{}, {&job});
  EXPECT_EQ(cells[0].outcome, CellOutcome::kFailed);
  EXPECT_NE(cells[0].reason.find("no readable result"), std::string::npos);
}

TEST(GateVerdicts, FailedAndUnfinishedJobsAreNotJudged) {
  JobRecord failed = Cell("a", "x86", "q4_0", 9, 1, 1);
  failed.state = JobState::kFailed;
  JobRecord running = Cell("b", "x86", "q4_0", 9, 1, 1);
  running.state = JobState::kRunning;
  JobRecord command;
  command.is_engine = false;
  auto cells = JudgeCells(pipelines::GatesSpec{}, {&failed, &running, &command});
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].outcome, CellOutcome::kNotJudged);
  EXPECT_TRUE(cells[0].gates.empty());
  EXPECT_EQ(cells[1].outcome, CellOutcome::kNotJudged);
  EXPECT_NE(cells[1].reason.find("running"), std::string::npos);
}

TEST(GateVerdicts, PerTargetOverrideApplies) {
  pipelines::GatesSpec spec;
  spec.overrides["arm"] = {{"speedup", pipelines::GateOp::kGe, 1.2, "arm", {}}};
  std::vector<JobRecord> jobs = {Cell("x", "x86", "q4_0", 1.5, 0.97, 0.7),
                                 Cell("a", "arm", "q4_0", 1.5, 0.97, 0.7)};
  auto cells = JudgeCells(spec, Ptrs(jobs));
  EXPECT_EQ(cells[0].outcome, CellOutcome::kFailed);
  EXPECT_EQ(cells[1].outcome, CellOutcome::kPassed);
}

TEST(Pareto, FrontierScoreAndExplanationPerTarget) {
  std::vector<JobRecord> jobs = {
      Cell("fast", "x86", "q4_0", 3.0, 0.96, 0.70, 0.05, 700),
      Cell("accurate", "x86", "q8_0", 2.1, 0.99, 0.52, 0.05, 1000),
      Cell("dominated", "x86", "q4_k_m", 2.0, 0.955, 0.51, 0.05, 990),
      Cell("slow", "x86", "q8_0", 1.0, 1.0, 0.5),  // fails speedup
      Cell("arm-only", "arm", "q4_0", 2.2, 0.97, 0.6),
  };
  auto cells = JudgeCells(pipelines::GatesSpec{}, Ptrs(jobs));
  auto recs = Recommend(cells, pipelines::OliveWeights{});
  ASSERT_EQ(recs.size(), 2u);
  const Recommendation& x86 = recs.at("x86");
  ASSERT_EQ(x86.cells.size(), 3u);
  EXPECT_EQ(x86.job_name, "fast");
  for (const auto& c : x86.cells) {
    EXPECT_EQ(c.on_frontier, c.job_name != "dominated") << c.job_name;
  }
  EXPECT_NE(x86.why.find("fast"), std::string::npos);
  ASSERT_EQ(x86.beat.size(), 3u);
  std::string all;
  for (const auto& line : x86.beat) all += line + "\n";
  EXPECT_NE(all.find("dominated: score"), std::string::npos) << all;
  EXPECT_NE(all.find("dominated by"), std::string::npos) << all;
  EXPECT_NE(all.find("slow: failed"), std::string::npos) << all;
  EXPECT_EQ(recs.at("arm").job_name, "arm-only");

  // Weights decide between frontier cells: accuracy only picks the accurate one.
  auto acc = Recommend(cells, pipelines::OliveWeights{0, 1, 0});
  EXPECT_EQ(acc.at("x86").job_name, "accurate");
  auto json = RecommendationJson(acc.at("x86"));
  EXPECT_EQ(json["job_name"], "accurate");
  EXPECT_EQ(json["cells"].size(), 3u);
}

TEST(Pareto, NoPassingCellRecommendsNothing) {
  std::vector<JobRecord> jobs = {Cell("slow", "x86", "q8_0", 1.0, 1.0, 0.5)};
  auto recs = Recommend(JudgeCells(pipelines::GatesSpec{}, Ptrs(jobs)), {});
  EXPECT_TRUE(recs.at("x86").job_id.empty());
  EXPECT_EQ(recs.at("x86").why, "no cell passed its gates");
}

TEST(ParetoReport, FromTheApiRunJson) {
  JobRecord fast = Cell("fast", "x86", "q4_0", 3.0, 0.96, 0.70);
  JobRecord slow = Cell("slow", "x86", "q8_0", 1.0, 1.0, 0.5);
  nlohmann::json run = {
      {"id", "r1"},
      {"jobs",
       {{{"id", "j1"},
         {"name", "fast"},
         {"kind", "engine"},
         {"framework", "llama_cpp"},
         {"target", "x86"},
         {"state", "succeeded"},
         {"result", nlohmann::json::parse(fast.result_json)}},
        {{"id", "j2"},
         {"name", "slow"},
         {"kind", "engine"},
         {"framework", "llama_cpp"},
         {"target", "x86"},
         {"state", "succeeded"},
         {"result", nlohmann::json::parse(slow.result_json)}},
        {{"id", "j3"}, {"name", "lint"}, {"kind", "command"}, {"state", "succeeded"}},
        {{"id", "j4"},
         {"name", "lost"},
         {"kind", "engine"},
         {"target", "x86"},
         {"state", "failed"},
         {"result", nullptr}},
        "garbage"}}};
  auto jobs = EngineJobsFromRunJson(run);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].state, JobState::kSucceeded);
  EXPECT_EQ(jobs[2].state, JobState::kFailed);
  auto recs = Recommend(JudgeCells(pipelines::GatesSpec{}, Ptrs(jobs)), {});
  std::string text = FormatChoiceReport(recs);
  EXPECT_NE(text.find("x86: fast (q4_0)"), std::string::npos) << text;
  EXPECT_NE(text.find("beat slow: failed"), std::string::npos) << text;
  EXPECT_NE(text.find("beat lost: not_judged"), std::string::npos) << text;
  EXPECT_TRUE(EngineJobsFromRunJson(nlohmann::json("x")).empty());
}

}  // namespace
}  // namespace edgefarm::coordinator
