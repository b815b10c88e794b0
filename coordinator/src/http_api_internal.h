// Internal to the HTTP adapter (http_api.cc, http_api_control.cc): the shared handler state and
// response helpers. Includes <httplib.h>; nothing outside the adapter includes this header.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "edgefarm/coordinator/http_api.h"
#include "edgefarm/coordinator/roles.h"

namespace edgefarm::coordinator::http_internal {

using httplib::Request;
using httplib::Response;
using nlohmann::json;

void SendJson(Response& res, int status, const json& body);
void SendError(Response& res, int status, const std::string& code, const std::string& message);
int HttpStatusOf(const Status& status);
std::string BearerToken(const Request& req);
// Parses a JSON object body; sends 400 invalid_json and returns nullopt otherwise.
std::optional<json> JsonBody(const Request& req, Response& res);

}  // namespace edgefarm::coordinator::http_internal

namespace edgefarm::coordinator {

// "<token name>:<token id>": who submitted a run or decided on a promotion (never the token).
std::string ActorName(const TokenIdentity& who);

struct HttpApi::Impl {
  ApiContext ctx;
  httplib::Server server;

  // The caller's identity when its token may do `permission`; otherwise sends 401/403.
  std::optional<TokenIdentity> Authorize(const httplib::Request& req, httplib::Response& res,
                                         Permission permission);
  void Audit(const httplib::Request& req, const httplib::Response& res);

  void Routes();
  void ControlRoutes();  // http_api_control.cc
  void PromotionRoutes();  // http_api_promotion.cc
  void PutBlob(const httplib::Request& req, httplib::Response& res,
               const httplib::ContentReader& reader);
  void GetBlob(const httplib::Request& req, httplib::Response& res);
  void ServeBlob(const std::string& digest, const std::string& download_name,
                 httplib::Response& res);
  void PostRun(const httplib::Request& req, httplib::Response& res);
  void ListRuns(const httplib::Request& req, httplib::Response& res);
  void GetRun(const httplib::Request& req, httplib::Response& res);
  void GetLog(const httplib::Request& req, httplib::Response& res);
  void PostToken(const httplib::Request& req, httplib::Response& res);
  void PostRepo(const httplib::Request& req, httplib::Response& res);
  void TriggerRepo(const httplib::Request& req, httplib::Response& res);
  void Hook(const std::string& provider, const httplib::Request& req, httplib::Response& res);
  void GetArtifact(const httplib::Request& req, httplib::Response& res);
  void GetAudit(const httplib::Request& req, httplib::Response& res);
};

}  // namespace edgefarm::coordinator
