// JOB.json parsing (schema edgefarm.job/v1). nlohmann::json exceptions stay inside this file:
// every lookup goes through typed helpers that turn a wrong type into a Status naming the field.
#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "edgefarm/engine/cell_job.h"

namespace edgefarm::engine {
namespace {

using nlohmann::json;

const std::vector<std::string> kLlamaCpp = {"q8_0", "q4_0", "q4_k_m"};
const std::vector<std::string> kOpenVino = {"int8_sym_pc", "int4_sym_g128"};
const std::vector<std::string> kMlx = {"int4_affine_g64"};
const std::vector<std::string> kAll = {"q8_0",        "q4_0",          "q4_k_m",
                                       "int8_sym_pc", "int4_sym_g128", "int4_affine_g64"};
const std::vector<std::string> kNone;

// Reads an optional member of `obj` into `out`; absent keeps the default.
template <typename T>
Status Get(const json& obj, const char* section, const char* key, T* out) {
  if (!obj.contains(key) || obj[key].is_null()) return Status::Ok();
  const json& v = obj[key];
  const std::string where = std::string(section) + "." + key;
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return InvalidArgument(where + " must be a boolean");
    *out = v.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return InvalidArgument(where + " must be a string");
    *out = v.get<std::string>();
  } else if constexpr (std::is_integral_v<T>) {
    constexpr uint64_t kMax =
        std::min<uint64_t>(std::numeric_limits<T>::max(), std::numeric_limits<int64_t>::max());
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        static_cast<uint64_t>(v.get<int64_t>()) > kMax) {
      return InvalidArgument(where + " must be a non-negative integer");
    }
    *out = static_cast<T>(v.get<int64_t>());
  } else {
    if (!v.is_number() || v.get<double>() < 0)
      return InvalidArgument(where + " must be a number >= 0");
    *out = v.get<double>();
  }
  return Status::Ok();
}

const json& Section(const json& root, const char* key) {
  static const json kEmpty = json::object();
  return root.contains(key) && root[key].is_object() ? root[key] : kEmpty;
}

Status CheckSections(const json& root) {
  for (const char* key : {"recipe", "benchmark", "eval", "constraints", "inputs"}) {
    if (root.contains(key) && !root[key].is_object()) {
      return InvalidArgument(std::string(key) + " must be an object");
    }
  }
  return Status::Ok();
}

Status ParseRecipe(const json& recipe, CellJob* job) {
  const std::vector<std::string>& allowed = FrameworkSchemes(job->framework);
  auto known = [&](const std::string& s) {
    return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
  };
  if (job->framework == "olive") {
    if (recipe.contains("candidates")) {
      const json& c = recipe["candidates"];
      if (!c.is_array() || c.empty())
        return InvalidArgument("recipe.candidates must be a non-empty array");
      for (const json& s : c) {
        if (!s.is_string() || !known(s.get<std::string>())) {
          return InvalidArgument("recipe.candidates: unknown scheme " + s.dump());
        }
        job->candidates.push_back(s.get<std::string>());
      }
    } else {
      job->candidates = kAll;
    }
    const json& w = Section(recipe, "weights");
    EF_RETURN_IF_ERROR(Get(w, "recipe.weights", "speed", &job->weight_speed));
    EF_RETURN_IF_ERROR(Get(w, "recipe.weights", "accuracy", &job->weight_accuracy));
    EF_RETURN_IF_ERROR(Get(w, "recipe.weights", "memory", &job->weight_memory));
    if (job->weight_speed + job->weight_accuracy + job->weight_memory <= 0) {
      return InvalidArgument("recipe.weights must not all be zero");
    }
    job->scheme = "olive";
  } else {
    EF_RETURN_IF_ERROR(Get(recipe, "recipe", "scheme", &job->scheme));
    if (!known(job->scheme)) {
      return InvalidArgument("recipe.scheme '" + job->scheme + "' is not a " + job->framework +
                             " scheme");
    }
  }
  return Get(recipe, "recipe", "pure", &job->pure);
}

Status ParseRoot(const json& root, CellJob* job) {
  if (!root.is_object()) return InvalidArgument("JOB.json must be an object");
  std::string schema;
  EF_RETURN_IF_ERROR(Get(root, "job", "schema", &schema));
  if (schema != "edgefarm.job/v1") {
    return InvalidArgument("schema is '" + schema + "', expected 'edgefarm.job/v1'");
  }
  EF_RETURN_IF_ERROR(CheckSections(root));
  EF_RETURN_IF_ERROR(Get(root, "job", "framework", &job->framework));
  if (FrameworkSchemes(job->framework).empty()) {
    return InvalidArgument("unknown framework '" + job->framework +
                           "' (llama_cpp, openvino, mlx, olive)");
  }
  EF_RETURN_IF_ERROR(Get(root, "job", "target", &job->target));
  EF_RETURN_IF_ERROR(ParseRecipe(Section(root, "recipe"), job));
  const json& b = Section(root, "benchmark");
  EF_RETURN_IF_ERROR(Get(b, "benchmark", "prompt_tokens", &job->prompt_tokens));
  EF_RETURN_IF_ERROR(Get(b, "benchmark", "gen_tokens", &job->gen_tokens));
  EF_RETURN_IF_ERROR(Get(b, "benchmark", "repetitions", &job->repetitions));
  EF_RETURN_IF_ERROR(Get(b, "benchmark", "threads", &job->threads));
  if (job->prompt_tokens + job->gen_tokens == 0 || job->repetitions < 1 || job->threads < 1 ||
      job->threads > 1024 || job->prompt_tokens > 65536 || job->gen_tokens > 65536) {
    return InvalidArgument("benchmark needs tokens, repetitions >= 1 and 1..1024 threads");
  }
  const json& e = Section(root, "eval");
  EF_RETURN_IF_ERROR(Get(e, "eval", "ctx", &job->eval_ctx));
  EF_RETURN_IF_ERROR(Get(e, "eval", "max_chunks", &job->eval_max_chunks));
  if (job->eval_ctx < 4 || job->eval_ctx > 65536)
    return InvalidArgument("eval.ctx must be 4..65536");
  const json& c = Section(root, "constraints");
  EF_RETURN_IF_ERROR(Get(c, "constraints", "min_accuracy_retention", &job->min_accuracy_retention));
  EF_RETURN_IF_ERROR(Get(c, "constraints", "max_model_bytes", &job->max_model_bytes));
  const json& in = Section(root, "inputs");
  std::string model, text;
  EF_RETURN_IF_ERROR(Get(in, "inputs", "model", &model));
  EF_RETURN_IF_ERROR(Get(in, "inputs", "eval_text", &text));
  if (model.empty()) return InvalidArgument("inputs.model is missing");
  if (text.empty()) return InvalidArgument("inputs.eval_text is missing");
  job->model_path = model;
  job->eval_text_path = text;
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& FrameworkSchemes(std::string_view framework) {
  if (framework == "llama_cpp") return kLlamaCpp;
  if (framework == "openvino") return kOpenVino;
  if (framework == "mlx") return kMlx;
  if (framework == "olive") return kAll;
  return kNone;
}

Result<CellJob> ParseCellJob(std::string_view json_text) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return InvalidArgument("JOB.json is not valid JSON");
  CellJob job;
  try {
    EF_RETURN_IF_ERROR(ParseRoot(root, &job));
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("JOB.json: ") + e.what());
  }
  return job;
}

}  // namespace edgefarm::engine
