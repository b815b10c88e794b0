// Parsers for `staging` and `promotion`: shapes and ranges only; the stage runner executes them.
// A traffic ramp must rise strictly and end at 100 % so that a promotion always completes the
// switch or rolls back, never parks at a partial weight.
#include "sections.h"

namespace edgefarm::pipelines::internal {

namespace {

void ParseLoadStage(YamlReader& reader, const YAML::Node& n, LoadStage* s) {
  reader.CheckKeys(n, InSection("staging.load"),
                   {"concurrency", "duration", "max_error_rate", "max_p95_ms"});
  if (n["concurrency"]) {
    if (auto v = reader.Int(n["concurrency"], "staging.load.concurrency", 1, 10000)) {
      s->concurrency = int(*v);
    }
  }
  if (n["duration"]) {
    if (auto v = reader.Duration(n["duration"], "staging.load.duration", 1)) {
      s->duration_seconds = int(*v);
    }
  }
  if (n["max_error_rate"]) {
    if (auto v = reader.Number(n["max_error_rate"], "staging.load.max_error_rate", 0, 1)) {
      s->max_error_rate = *v;
    }
  }
  if (n["max_p95_ms"]) {
    if (auto v = reader.Number(n["max_p95_ms"], "staging.load.max_p95_ms", 0, 1e9)) {
      s->max_p95_ms = *v;
    }
  }
}

}  // namespace

void ParseStaging(YamlReader& reader, const YAML::Node& node, StagingSpec* staging) {
  if (!reader.ExpectMap(node, "staging")) return;
  reader.CheckKeys(node, InSection("staging"), {"integration", "load", "security"});
  if (const YAML::Node n = node["integration"]; n && reader.ExpectMap(n, "staging.integration")) {
    reader.CheckKeys(n, InSection("staging.integration"), {"requests"});
    IntegrationStage& s = staging->integration.emplace();
    if (n["requests"]) {
      if (auto v = reader.Int(n["requests"], "staging.integration.requests", 1, 100000)) {
        s.requests = int(*v);
      }
    }
  }
  if (const YAML::Node n = node["load"]; n && reader.ExpectMap(n, "staging.load")) {
    ParseLoadStage(reader, n, &staging->load.emplace());
  }
  if (const YAML::Node n = node["security"]; n && reader.ExpectMap(n, "staging.security")) {
    reader.CheckKeys(n, InSection("staging.security"), {"max_bytes"});
    SecurityStage& s = staging->security.emplace();
    if (n["max_bytes"]) {
      if (auto v = reader.Int(n["max_bytes"], "staging.security.max_bytes", 0, INT64_MAX)) {
        s.max_bytes = uint64_t(*v);
      }
    }
  }
}

namespace {

void ParseTraffic(YamlReader& reader, const YAML::Node& node, PromotionSpec* p) {
  if (!reader.ExpectList(node, "promotion.traffic")) return;
  int last_weight = 0;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string what = "promotion.traffic[" + std::to_string(i) + "]";
    if (!reader.ExpectMap(item, what)) continue;
    reader.CheckKeys(item, InSection(what), {"weight", "hold"});
    TrafficStep step;
    if (!item["weight"]) {
      reader.Error(item, "missing key 'weight' in '" + what + "'");
      continue;
    }
    auto weight = reader.Int(item["weight"], what + ".weight", 1, 100);
    if (!weight) continue;
    step.weight = int(*weight);
    if (step.weight <= last_weight) {
      reader.Error(item["weight"], "'" + what + ".weight' must be greater than the step " +
                                       "before it (" + std::to_string(last_weight) + ")");
    }
    last_weight = step.weight;
    if (item["hold"]) {
      if (auto v = reader.Duration(item["hold"], what + ".hold", 0)) step.hold_seconds = int(*v);
    }
    p->traffic.push_back(step);
  }
  if (node.size() == 0 || last_weight != 100) {
    reader.Error(node, "'promotion.traffic' must end with weight 100");
  }
}

void ParseApproval(YamlReader& reader, const YAML::Node& node, ApprovalSpec* a) {
  if (!reader.ExpectMap(node, "promotion.approval")) return;
  reader.CheckKeys(node, InSection("promotion.approval"),
                   {"required", "role", "count", "timeout", "on_timeout"});
  if (node["required"]) {
    if (auto v = reader.Bool(node["required"], "promotion.approval.required")) a->required = *v;
  }
  if (node["role"]) {
    if (auto v = reader.String(node["role"], "promotion.approval.role")) {
      if (v->empty()) reader.Error(node["role"], "'promotion.approval.role' must not be empty");
      a->role = *v;
    }
  }
  if (node["count"]) {
    if (auto v = reader.Int(node["count"], "promotion.approval.count", 1, 100)) a->count = int(*v);
  }
  if (node["timeout"]) {
    if (auto v = reader.Duration(node["timeout"], "promotion.approval.timeout", 1)) {
      a->timeout_seconds = int(*v);
    }
  }
  if (node["on_timeout"]) {
    if (auto v = reader.OneOf(node["on_timeout"], "promotion.approval.on_timeout", "action",
                              {"reject", "approve"})) {
      a->on_timeout = *v;
    }
  }
}

void ParseAnalysis(YamlReader& reader, const YAML::Node& node, AnalysisSpec* a) {
  if (!reader.ExpectMap(node, "promotion.analysis")) return;
  reader.CheckKeys(node, InSection("promotion.analysis"),
                   {"max_error_rate", "max_p95_ratio", "min_requests"});
  if (node["max_error_rate"]) {
    a->max_error_rate =
        reader.Number(node["max_error_rate"], "promotion.analysis.max_error_rate", 0, 1);
  }
  if (node["max_p95_ratio"]) {
    a->max_p95_ratio =
        reader.Number(node["max_p95_ratio"], "promotion.analysis.max_p95_ratio", 1, 1000);
  }
  if (node["min_requests"]) {
    if (auto v = reader.Int(node["min_requests"], "promotion.analysis.min_requests", 1, 1000000)) {
      a->min_requests = int(*v);
    }
  }
}

}  // namespace

void ParsePromotion(YamlReader& reader, const YAML::Node& node, PromotionSpec* p) {
  if (!reader.ExpectMap(node, "promotion")) return;
  reader.CheckKeys(node, InSection("promotion"),
                   {"environment", "traffic", "failure_limit", "approval", "analysis"});
  if (node["environment"]) {
    if (auto v = reader.String(node["environment"], "promotion.environment")) {
      if (v->empty())
        reader.Error(node["environment"], "'promotion.environment' must not be empty");
      p->environment = *v;
    }
  }
  if (node["traffic"]) {
    ParseTraffic(reader, node["traffic"], p);
  } else {
    p->traffic = {TrafficStep{100, 0}};
  }
  if (node["failure_limit"]) {
    if (auto v = reader.Int(node["failure_limit"], "promotion.failure_limit", 0, 1000)) {
      p->failure_limit = int(*v);
    }
  }
  if (node["approval"]) ParseApproval(reader, node["approval"], &p->approval);
  if (node["analysis"]) ParseAnalysis(reader, node["analysis"], &p->analysis);
}

}  // namespace edgefarm::pipelines::internal
