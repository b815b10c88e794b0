// HttpApi routes of promotions (issue 6): a run's verdicts, Pareto choice, staging and promotion
// state; approvals; environments, their ledger, rollback, continue and fault drills. Part of the
// cpp-httplib adapter; the work is PromotionService's.
//
// Implementation notes:
// - The decider's identity is "<token name>:<token id>", never the token; the run's submitter is
//   recorded the same way by PostRun, which is what makes self-approval detectable.
// - PromotionService errors map to HTTP: PermissionDenied 403, AlreadyExists and
//   FailedPrecondition 409, NotFound 404, anything else 503.
#include "edgefarm/coordinator/promotion_service.h"
#include "http_api_internal.h"

namespace edgefarm::coordinator {
using namespace http_internal;  // NOLINT(google-build-using-namespace): adapter-internal helpers
namespace {

void SendResult(Response& res, const Result<json>& result) {
  if (result.ok()) return SendJson(res, 200, *result);
  const Status& s = result.status();
  switch (s.code()) {
    case StatusCode::kPermissionDenied:
      return SendError(res, 403, "forbidden", s.message());
    case StatusCode::kAlreadyExists:
      return SendError(res, 409, "already_decided", s.message());
    case StatusCode::kFailedPrecondition:
      return SendError(res, 409, "conflict", s.message());
    case StatusCode::kNotFound:
      return SendError(res, 404, "not_found", s.message());
    case StatusCode::kInvalidArgument:
      return SendError(res, 400, "invalid_request", s.message());
    default:
      return SendError(res, 503, "unavailable", s.message());
  }
}

std::string TextField(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>().substr(0, 2000) : "";
}

// An empty body is an empty object here: these routes have only optional fields.
std::optional<json> OptionalBody(const Request& req, Response& res) {
  if (req.body.empty()) return json::object();
  return JsonBody(req, res);
}

}  // namespace

std::string ActorName(const TokenIdentity& who) {
  return who.name + ":" + who.id;
}

void HttpApi::Impl::PromotionRoutes() {
  if (ctx.promotions == nullptr) return;
  PromotionService* service = ctx.promotions;
  server.Get(R"(/api/v1/runs/([^/]+)/promotion)",
             [this, service](const Request& req, Response& res) {
               if (!Authorize(req, res, Permission::kRead)) return;
               SendResult(res, service->RunPromotionJson(req.matches[1]));
             });
  for (const bool approve : {true, false}) {
    const std::string path =
        approve ? R"(/api/v1/runs/([^/]+)/approve)" : R"(/api/v1/runs/([^/]+)/reject)";
    server.Post(path, [this, service, approve](const Request& req, Response& res) {
      auto who = Authorize(req, res, Permission::kRelease);
      if (!who) return;
      auto body = OptionalBody(req, res);
      if (!body) return;
      Actor actor{ActorName(*who), std::string(ToString(who->role))};
      SendResult(res, service->Decide(req.matches[1], actor, approve, TextField(*body, "comment")));
    });
  }
  server.Get("/api/v1/environments", [this, service](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kRead)) return;
    SendResult(res, service->EnvironmentsJson());
  });
  server.Get(R"(/api/v1/environments/([^/]+)/history)",
             [this, service](const Request& req, Response& res) {
               if (!Authorize(req, res, Permission::kRead)) return;
               SendResult(res, service->HistoryJson(req.matches[1]));
             });
  server.Post(R"(/api/v1/environments/([^/]+)/rollback)", [this, service](const Request& req,
                                                                          Response& res) {
    auto who = Authorize(req, res, Permission::kRelease);
    if (!who) return;
    auto body = OptionalBody(req, res);
    if (!body) return;
    Actor actor{ActorName(*who), std::string(ToString(who->role))};
    SendResult(res, service->Rollback(req.matches[1], actor, TextField(*body, "reason")));
  });
  server.Post(R"(/api/v1/environments/([^/]+)/continue)",
              [this, service](const Request& req, Response& res) {
                auto who = Authorize(req, res, Permission::kRelease);
                if (!who) return;
                Actor actor{ActorName(*who), std::string(ToString(who->role))};
                SendResult(res, service->Continue(req.matches[1], actor));
              });
  server.Post(
      R"(/api/v1/environments/([^/]+)/fault)", [this, service](const Request& req, Response& res) {
        if (!Authorize(req, res, Permission::kAdmin)) return;
        auto body = JsonBody(req, res);
        if (!body) return;
        SlotFault fault;
        const std::string version = TextField(*body, "version");
        auto rate = body->find("error_rate");
        auto latency = body->find("latency_ms");
        if (rate != body->end() && rate->is_number()) fault.error_rate = rate->get<double>();
        if (latency != body->end() && latency->is_number_integer()) {
          fault.latency_ms = latency->get<int>();
        }
        if (version.empty() || fault.error_rate < 0 || fault.error_rate > 1 ||
            fault.latency_ms < 0 || fault.latency_ms > 600000) {
          return SendError(res, 400, "invalid_request",
                           "need version, error_rate in [0,1] and latency_ms in [0,600000]");
        }
        Status set = service->SetFault(req.matches[1], version, fault);
        if (!set.ok()) return SendResult(res, set);
        SendJson(res, 200,
                 {{"environment", req.matches[1].str()},
                  {"version", version},
                  {"error_rate", fault.error_rate},
                  {"latency_ms", fault.latency_ms}});
      });
}

}  // namespace edgefarm::coordinator
