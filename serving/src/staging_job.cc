// JOB.json parsing and the stage-result record. Parsing checks every type before reading a
// value, so nlohmann::json never throws here; unknown keys are errors so a misspelt limit is
// caught instead of turning into "no limit".
#include <fstream>
#include <set>
#include <sstream>

#include "edgefarm/serving/inference_server.h"
#include "edgefarm/serving/staging_checks.h"

namespace edgefarm::serving {

using Json = nlohmann::json;

namespace {

Status CheckKeys(const Json& obj, const std::string& where, const std::set<std::string>& allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!allowed.count(it.key()))
      return InvalidArgument(where + ": unknown key \"" + it.key() + "\"");
  }
  return Status::Ok();
}

Result<std::string> GetString(const Json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return InvalidArgument("\"" + key + "\" must be a non-empty string");
  }
  return it->get<std::string>();
}

// An integer in [lo, hi]; `fallback` when absent (nullopt = required).
Result<int64_t> GetInt(const Json& obj, const std::string& where, const std::string& key,
                       int64_t lo, int64_t hi, std::optional<int64_t> fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (fallback) return *fallback;
    return InvalidArgument(where + "." + key + " is required");
  }
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi) {
    return InvalidArgument(where + "." + key + " must be an integer in [" + std::to_string(lo) +
                           ", " + std::to_string(hi) + "]");
  }
  return it->get<int64_t>();
}

Result<std::optional<double>> GetLimit(const Json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::optional<double>();
  if (!it->is_number() || it->get<double>() < 0) {
    return InvalidArgument("load." + key + " must be a non-negative number");
  }
  return std::optional<double>(it->get<double>());
}

Result<const Json*> GetObject(const Json& j, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object())
    return InvalidArgument("\"" + key + "\" must be an object");
  return &*it;
}

Status ParseLoad(const Json& load, StageJob* job) {
  EF_RETURN_IF_ERROR(CheckKeys(load, "load",
                               {"concurrency", "requests", "duration_s", "max_tokens",
                                "max_error_rate", "max_p95_ms", "min_throughput_rps"}));
  EF_ASSIGN_OR_RETURN(int64_t c, GetInt(load, "load", "concurrency", 1, 256, 2));
  EF_ASSIGN_OR_RETURN(job->load_requests, GetInt(load, "load", "requests", 1, 1'000'000, 0));
  EF_ASSIGN_OR_RETURN(int64_t m, GetInt(load, "load", "max_tokens", 0, 512, 8));
  job->load_concurrency = static_cast<int>(c);
  job->load_max_tokens = static_cast<int>(m);
  if (auto it = load.find("duration_s"); it != load.end()) {
    if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 3600) {
      return InvalidArgument("load.duration_s must be a number in (0, 3600]");
    }
    job->load_duration_s = it->get<double>();
  }
  if ((job->load_requests > 0) == (job->load_duration_s > 0)) {
    return InvalidArgument("load needs exactly one of \"requests\" or \"duration_s\"");
  }
  EF_ASSIGN_OR_RETURN(job->max_error_rate, GetLimit(load, "max_error_rate"));
  EF_ASSIGN_OR_RETURN(job->max_p95_ms, GetLimit(load, "max_p95_ms"));
  EF_ASSIGN_OR_RETURN(job->min_throughput_rps, GetLimit(load, "min_throughput_rps"));
  return Status::Ok();
}

Status ParseSections(const Json& j, StageJob* job) {
  EF_ASSIGN_OR_RETURN(const Json* integration, GetObject(j, "integration"));
  EF_RETURN_IF_ERROR(CheckKeys(*integration, "integration", {"requests", "max_tokens"}));
  EF_ASSIGN_OR_RETURN(int64_t n, GetInt(*integration, "integration", "requests", 1, 10000, {}));
  EF_ASSIGN_OR_RETURN(int64_t m, GetInt(*integration, "integration", "max_tokens", 1, 512, 16));
  job->integration_requests = static_cast<int>(n);
  job->integration_max_tokens = static_cast<int>(m);
  EF_ASSIGN_OR_RETURN(const Json* load, GetObject(j, "load"));
  EF_RETURN_IF_ERROR(ParseLoad(*load, job));
  EF_ASSIGN_OR_RETURN(const Json* security, GetObject(j, "security"));
  EF_RETURN_IF_ERROR(CheckKeys(*security, "security", {"max_bytes"}));
  EF_ASSIGN_OR_RETURN(int64_t b, GetInt(*security, "security", "max_bytes", 1, INT64_MAX, {}));
  job->max_bytes = static_cast<uint64_t>(b);
  return Status::Ok();
}

// The worker adds "inputs" (name -> local cached path) to the jobs it runs, as for engine jobs;
// a local copy of the model there wins over the "model" path the coordinator wrote.
Result<std::filesystem::path> ModelPath(const Json& j) {
  if (auto inputs = j.find("inputs"); inputs != j.end()) {
    if (!inputs->is_object()) return InvalidArgument("\"inputs\" must be an object");
    if (auto m = inputs->find("model"); m != inputs->end()) {
      if (!m->is_string() || m->get_ref<const std::string&>().empty()) {
        return InvalidArgument("\"inputs.model\" must be a non-empty string");
      }
      return std::filesystem::path(m->get<std::string>());
    }
  }
  EF_ASSIGN_OR_RETURN(std::string model, GetString(j, "model"));
  return std::filesystem::path(model);
}

}  // namespace

Result<StageJob> ParseStageJob(const std::string& json_text) {
  const Json j = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("stage job is not a JSON object");
  EF_RETURN_IF_ERROR(CheckKeys(j, "stage job",
                               {"schema", "model", "expected_digest", "signature", "public_key",
                                "integration", "load", "security", "inputs"}));
  auto schema = j.find("schema");
  if (schema == j.end() || *schema != "edgefarm.stage/v1") {
    return InvalidArgument("\"schema\" must be \"edgefarm.stage/v1\"");
  }
  StageJob job;
  EF_ASSIGN_OR_RETURN(job.model, ModelPath(j));
  EF_ASSIGN_OR_RETURN(job.expected_digest, GetString(j, "expected_digest"));
  EF_ASSIGN_OR_RETURN(job.signature, GetString(j, "signature"));
  EF_ASSIGN_OR_RETURN(job.public_key, GetString(j, "public_key"));
  EF_RETURN_IF_ERROR(ParseSections(j, &job));
  return job;
}

Result<StageJob> LoadStageJob(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read stage job " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  auto job = ParseStageJob(text.str());
  if (!job.ok()) return job.status().WithContext(path.string());
  return job;
}

const CheckResult* StageReport::Find(std::string_view name) const {
  for (const CheckResult& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Json StageReport::ToJson() const {
  Json checks_json = Json::array();
  for (const CheckResult& c : checks) {
    checks_json.push_back({{"name", c.name},
                           {"passed", c.passed},
                           {"measurements", c.measurements},
                           {"limits", c.limits},
                           {"reason", c.reason}});
  }
  return Json{{"schema", "edgefarm.stage-result/v1"}, {"passed", passed}, {"checks", checks_json}};
}

Status WriteStageResult(const StageReport& report, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message());
  return WriteFileAtomically(
      dir / "stage-result.json",
      report.ToJson().dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
}

}  // namespace edgefarm::serving
