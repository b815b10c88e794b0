// Promotion verbs and the text form of a run's promotion. The text is built only from the API's
// JSON, so `edgefarm status RUN`, `edgefarm up` and these verbs show the same thing.
#include "edgefarm/cli/promotion_commands.h"

#include <ctime>
#include <iomanip>
#include <sstream>
#include <vector>

#include "edgefarm/cli/api_client.h"
#include "edgefarm/cli/client_commands.h"

namespace edgefarm::cli {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return "";
}

std::string Number(const json& v) {
  if (!v.is_number()) return v.is_null() ? "n/a" : v.dump();
  std::ostringstream out;
  out << std::setprecision(4) << v.get<double>();
  return out.str();
}

std::string Short(const std::string& digest) {
  return digest.size() > 12 ? digest.substr(0, 12) : digest;
}

// "k=v, k=v" of a flat JSON object of numbers and strings.
std::string Pairs(const json& object) {
  std::string out;
  if (!object.is_object()) return out;
  for (const auto& [key, value] : object.items()) {
    if (!out.empty()) out += ", ";
    out += key + "=" + (value.is_string() ? value.get<std::string>() : Number(value));
  }
  return out;
}

void Verdicts(const json& promotion, std::ostringstream& out) {
  out << "Gate verdicts:\n";
  for (const auto& v : promotion.value("verdicts", json::array())) {
    out << "  " << Str(v, "job_name") << ": " << Str(v, "outcome");
    const std::string reason = Str(v, "reason");
    if (!reason.empty()) out << " (" << reason << ")";
    out << "\n";
  }
}

void Choice(const std::string& target, const json& entry, std::ostringstream& out) {
  const json& rec = entry.contains("recommendation") ? entry["recommendation"] : json();
  const std::string cell = Str(rec, "job_name");
  out << "  " << target << ": " << (cell.empty() ? "none" : cell);
  if (!Str(rec, "scheme").empty()) out << " (" << Str(rec, "scheme") << ")";
  if (cell.empty()) out << " - " << Str(entry, "reason");
  out << "\n";
  if (!Str(rec, "why").empty()) out << "    why: " << Str(rec, "why") << "\n";
  for (const auto& beat : rec.value("beat", json::array())) {
    if (beat.is_string()) out << "    beat " << beat.get<std::string>() << "\n";
  }
}

void Staging(const json& entry, std::ostringstream& out) {
  const json staging = entry.value("staging", json::object());
  const std::string state = Str(staging, "state");
  if (state.empty()) return;
  out << "  Staging: " << state;
  if (!Str(staging, "job_id").empty()) out << " (job " << Str(staging, "job_id") << ")";
  if (state == "failed" || state == "error") out << " - " << Str(staging, "reason");
  out << "\n";
  const json report = staging.value("report", json::object());
  for (const auto& check : report.value("checks", json::array())) {
    out << "    " << std::left << std::setw(20) << Str(check, "name")
        << (check.value("passed", false) ? "passed" : "FAILED");
    const std::string measured = Pairs(check.value("measurements", json::object()));
    const std::string limits = Pairs(check.value("limits", json::object()));
    if (!measured.empty()) out << "  " << measured;
    if (!limits.empty()) out << "  [limits: " << limits << "]";
    if (!Str(check, "reason").empty()) out << "  " << Str(check, "reason");
    out << "\n";
  }
}

}  // namespace

std::string FormatPromotionLine(const json& p) {
  if (!p.is_object()) return "";
  std::ostringstream out;
  const std::string phase = Str(p, "phase");
  out << "promotion " << Str(p, "id") << " in " << Str(p, "environment") << ": " << phase;
  if (phase == "ramping" || phase == "paused") {
    out << " step " << p.value("step", 0) + 1 << "/" << p.value("traffic", json::array()).size();
    if (p.contains("weight")) out << " (" << p["weight"].dump() << "% on the candidate)";
  }
  out << "; candidate " << Short(Str(p, "candidate_version")) << " in " << Str(p, "candidate_slot")
      << ", live ";
  const bool baseline = p.value("stable_is_baseline", false);
  if (!Str(p, "live_version").empty()) {
    out << Short(Str(p, "live_version")) << " in " << Str(p, "live_slot");
    if (baseline && Str(p, "live_version") == Str(p, "stable_version")) out << " (baseline)";
  } else if (baseline) {
    out << "(none yet: the baseline " << Short(Str(p, "stable_version")) << " starts in "
        << Str(p, "stable_slot") << " after approval)";
  } else {
    out << "(none: first deploy)";
  }
  if (!Str(p, "reason").empty()) out << " - " << Str(p, "reason");
  return out.str();
}

std::string FormatPromotionReport(const json& promotion) {
  std::ostringstream out;
  if (Str(promotion, "state") == "pending") {
    out << "Promotion: " << Str(promotion, "reason") << "\n";
    return out.str();
  }
  Verdicts(promotion, out);
  const json targets = promotion.value("targets", json::object());
  out << "Pareto choice per target:\n";
  for (const auto& [target, entry] : targets.items()) Choice(target, entry, out);
  for (const auto& [target, entry] : targets.items()) {
    out << "Target " << target << ": " << Str(entry, "status");
    if (!Str(entry, "environment").empty()) {
      out << " (environment " << Str(entry, "environment") << ")";
    }
    if (!Str(entry, "reason").empty()) out << " - " << Str(entry, "reason");
    out << "\n";
    Staging(entry, out);
    if (!entry.contains("promotion") || !entry["promotion"].is_object()) continue;
    const json& p = entry["promotion"];
    out << "  " << FormatPromotionLine(p) << "\n";
    if (Str(p, "phase") == "awaiting_approval") {
      const json approval = p.value("approval", json::object());
      out << "  awaiting approval by a " << Str(approval, "role") << " (not "
          << Str(promotion, "submitted_by") << ", who submitted the run):\n"
          << "    edgefarm approve " << Str(promotion, "run_id")
          << " --comment \"...\"   (or: edgefarm reject " << Str(promotion, "run_id") << ")\n";
    }
  }
  return out.str();
}

std::string FormatHistory(const json& history) {
  std::ostringstream out;
  for (const auto& e : history.value("entries", json::array())) {
    const std::time_t at = static_cast<std::time_t>(e.value("at_ms", int64_t{0}) / 1000);
    std::tm tm{};
    gmtime_r(&at, &tm);
    out << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ") << "  " << std::left << std::setw(20)
        << Str(e, "kind") << " " << std::setw(6) << Str(e, "slot") << " " << std::setw(12)
        << Short(Str(e, "version")) << " " << Str(e, "actor");
    const json& detail = e.contains("detail") ? e["detail"] : json();
    std::string summary;
    for (const char* key : {"phase", "weight", "verdict", "decision", "reason", "comment"}) {
      if (!Str(detail, key).empty())
        summary += std::string(summary.empty() ? "" : ", ") + key + "=" + Str(detail, key);
    }
    if (!summary.empty()) out << "  " << summary;
    out << "\n";
  }
  return out.str();
}

namespace {

struct PromotionArgs {
  std::vector<std::string> positional;
  std::string comment;
  bool json = false;
  ServerFlags server;
};

Result<PromotionArgs> Parse(int argc, char** argv) {
  PromotionArgs args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      args.json = true;
    } else if (arg == "--comment" || arg == "--reason" || arg == "--server" ||
               arg == "--token-file" || arg == "--data") {
      if (i + 1 >= argc) return InvalidArgument(arg + " needs a value");
      const std::string value = argv[++i];
      if (arg == "--comment" || arg == "--reason") args.comment = value;
      if (arg == "--server") args.server.server = value;
      if (arg == "--token-file") args.server.token_file = value;
      if (arg == "--data") args.server.data_dir = value;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return InvalidArgument("unknown flag '" + arg + "'");
    } else {
      args.positional.push_back(arg);
    }
  }
  return args;
}

int Fail(std::ostream& err, const Status& status) {
  err << "edgefarm: " << status.message() << "\n";
  return ExitCodeFor(status);
}

}  // namespace

int RunPromotionCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string verb = argv[0];
  auto args = Parse(argc, argv);
  if (!args.ok()) return Fail(err, args.status());
  const bool needs_arg = verb != "environments";
  if (args->positional.size() != (needs_arg ? 1u : 0u)) {
    const char* what = verb == "approve" || verb == "reject" ? " RUN" : " ENV";
    return Fail(err, InvalidArgument("usage: edgefarm " + verb + (needs_arg ? what : "")));
  }
  auto server = ResolveServer(args->server);
  if (!server.ok()) return Fail(err, server.status());
  ApiClient client(*server);
  const std::string id = needs_arg ? args->positional[0] : "";
  Result<json> reply = InvalidArgument("unknown verb " + verb);
  if (verb == "approve" || verb == "reject") {
    reply = client.Post("/api/v1/runs/" + id + "/" + verb, {{"comment", args->comment}});
  } else if (verb == "rollback") {
    reply = client.Post("/api/v1/environments/" + id + "/rollback", {{"reason", args->comment}});
  } else if (verb == "continue") {
    reply = client.Post("/api/v1/environments/" + id + "/continue", json::object());
  } else if (verb == "history") {
    reply = client.Get("/api/v1/environments/" + id + "/history");
  } else if (verb == "environments") {
    reply = client.Get("/api/v1/environments");
  }
  if (!reply.ok()) return Fail(err, reply.status());
  if (args->json) {
    out << reply->dump(2) << "\n";
  } else if (verb == "approve" || verb == "reject") {
    out << (verb == "approve" ? "approved" : "rejected") << " run " << id << "\n"
        << FormatPromotionReport(*reply);
  } else if (verb == "history") {
    out << FormatHistory(*reply);
  } else if (verb == "environments") {
    for (const auto& env : reply->value("environments", json::array())) {
      out << Str(env, "name") << ": live " << Short(Str(env, "live_version")) << " in "
          << Str(env, "live_slot") << ", router " << Str(env, "router_url") << "\n";
      if (env.contains("promotion")) out << "  " << FormatPromotionLine(env["promotion"]) << "\n";
    }
  } else {
    out << FormatPromotionLine(*reply) << "\n";
  }
  return 0;
}

}  // namespace edgefarm::cli
