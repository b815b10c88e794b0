// `edgefarm token`, `edgefarm repos` and `edgefarm drain`: thin renderings of /api/v1/tokens,
// /api/v1/repos and /api/v1/workers/{id}/drain.
// The one secret that passes through here (a new token) goes to `out` only and is never part of
// an error message.
#include "edgefarm/cli/admin_commands.h"

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "edgefarm/cli/api_client.h"
#include "edgefarm/cli/client_commands.h"

namespace edgefarm::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: edgefarm token create --role viewer|developer|release-manager|admin [--name N]\n"
    "       edgefarm token list\n"
    "       edgefarm repos [list]\n"
    "       edgefarm repos add NAME URL [--branch GLOB]... [--pipeline-file F] [--poll SECONDS]\n"
    "                          [--secret-file F] [--credential-env VAR | --credential-file F]\n"
    "       edgefarm repos trigger NAME [--ref REF] [--commit SHA] [--force]\n"
    "       edgefarm drain WORKER          (a worker id or a unique worker name)\n"
    "  common: [--server URL] [--token-file F] [--data DIR] [--json]\n";

struct Args {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> values;
  bool json = false;
  bool force = false;
  ServerFlags server;
};

Result<Args> Parse(int argc, char** argv) {
  static const char* kValued[] = {
      "--role",        "--name",       "--branch", "--poll",           "--pipeline-file",
      "--secret-file", "--ref",        "--commit", "--credential-env", "--credential-file",
      "--server",      "--token-file", "--data"};
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      args.json = true;
      continue;
    }
    if (arg == "--force") {
      args.force = true;
      continue;
    }
    bool valued = false;
    for (const char* v : kValued) valued |= arg == v;
    if (valued) {
      if (i + 1 >= argc) return InvalidArgument(arg + " needs a value");
      args.values.emplace(arg, argv[++i]);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return InvalidArgument("unknown flag '" + arg + "'");
    } else {
      args.positional.push_back(arg);
    }
  }
  auto one = [&](const char* key) {
    auto it = args.values.find(key);
    return it == args.values.end() ? std::string() : it->second;
  };
  args.server.server = one("--server");
  args.server.token_file = one("--token-file");
  args.server.data_dir = one("--data");
  return args;
}

std::string One(const Args& args, const char* key) {
  auto it = args.values.find(key);
  return it == args.values.end() ? std::string() : it->second;
}

std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

int Fail(std::ostream& err, const Status& status) {
  err << "edgefarm: " << status.message() << "\n";
  return ExitCodeFor(status);
}

int TokenCommand(ApiClient& client, const Args& args, std::ostream& out, std::ostream& err) {
  const std::string action = args.positional.size() > 1 ? args.positional[1] : "";
  if (action == "list") {
    auto reply = client.Get("/api/v1/tokens");
    if (!reply.ok()) return Fail(err, reply.status());
    if (args.json) {
      out << reply->dump(2) << "\n";
      return 0;
    }
    for (const auto& t : (*reply)["tokens"]) {
      out << Text(t, "id") << "  " << Text(t, "role") << "  " << Text(t, "name") << "\n";
    }
    return 0;
  }
  if (action != "create" || One(args, "--role").empty()) {
    err << kUsage;
    return 2;
  }
  json body = {{"role", One(args, "--role")}};
  if (!One(args, "--name").empty()) body["name"] = One(args, "--name");
  auto reply = client.Post("/api/v1/tokens", body);
  if (!reply.ok()) return Fail(err, reply.status());
  if (args.json) {
    out << reply->dump(2) << "\n";
  } else {
    out << Text(*reply, "token") << "\n";
    err << "token " << Text(*reply, "id") << " (" << Text(*reply, "name") << ", role "
        << Text(*reply, "role") << ") created; it is shown only this once\n";
  }
  return 0;
}

Result<json> RepoBody(const Args& args) {
  if (args.positional.size() != 4) return InvalidArgument("repos add needs NAME and URL");
  json body = {{"name", args.positional[2]}, {"url", args.positional[3]}};
  json branches = json::array();
  for (auto [it, end] = args.values.equal_range("--branch"); it != end; ++it) {
    branches.push_back(it->second);
  }
  body["branches"] = branches;
  if (!One(args, "--pipeline-file").empty()) body["pipeline_file"] = One(args, "--pipeline-file");
  if (!One(args, "--credential-env").empty())
    body["credential_env"] = One(args, "--credential-env");
  if (!One(args, "--credential-file").empty()) {
    body["credential_file"] = One(args, "--credential-file");
  }
  if (!One(args, "--poll").empty()) {
    const std::string poll = One(args, "--poll");
    if (poll.size() > 6 || poll.find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgument("--poll takes a number of seconds");
    }
    body["poll_interval_s"] = std::stoll(poll);
  }
  if (!One(args, "--secret-file").empty()) {
    std::ifstream in(One(args, "--secret-file"));
    if (!in) return InvalidArgument("cannot read " + One(args, "--secret-file"));
    std::stringstream text;
    text << in.rdbuf();
    std::string secret = text.str();
    while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) {
      secret.pop_back();
    }
    body["webhook_secret"] = secret;
  }
  return body;
}

int ReposCommand(ApiClient& client, const Args& args, std::ostream& out, std::ostream& err) {
  const std::string action = args.positional.size() > 1 ? args.positional[1] : "list";
  Result<json> reply = InvalidArgument("");
  if (action == "list") {
    reply = client.Get("/api/v1/repos");
  } else if (action == "add") {
    auto body = RepoBody(args);
    if (!body.ok()) return Fail(err, body.status());
    reply = client.Post("/api/v1/repos", *body);
  } else if (action == "trigger" && args.positional.size() == 3) {
    json body = {{"force", args.force}};
    if (!One(args, "--ref").empty()) body["ref"] = One(args, "--ref");
    if (!One(args, "--commit").empty()) body["commit"] = One(args, "--commit");
    reply = client.Post("/api/v1/repos/" + args.positional[2] + "/trigger", body);
  } else {
    err << kUsage;
    return 2;
  }
  if (!reply.ok()) return Fail(err, reply.status());
  if (args.json || action != "list") {
    out << reply->dump(2) << "\n";
    return 0;
  }
  for (const auto& r : (*reply)["repositories"]) {
    out << Text(r, "name") << "  " << Text(r, "url") << "  poll=" << Text(r, "poll_interval_s")
        << "s  webhook_secret=" << (r.value("webhook_secret_set", false) ? "set" : "none") << "\n";
  }
  return 0;
}

// A worker named by id, or by name when exactly one worker has it.
Result<json> FindWorker(ApiClient& client, const std::string& who) {
  EF_ASSIGN_OR_RETURN(json reply, client.Get("/api/v1/workers"));
  std::vector<json> by_name;
  for (const auto& w : reply.value("workers", json::array())) {
    if (Text(w, "id") == who) return w;
    if (Text(w, "name") == who) by_name.push_back(w);
  }
  if (by_name.size() > 1) {
    return InvalidArgument(std::to_string(by_name.size()) + " workers are named " + who +
                           "; give the worker id");
  }
  if (by_name.empty()) return NotFound("no worker " + who);
  return by_name.front();
}

int DrainCommand(ApiClient& client, const Args& args, std::ostream& out, std::ostream& err) {
  if (args.positional.size() != 2) {
    err << kUsage;
    return 2;
  }
  auto worker = FindWorker(client, args.positional[1]);
  if (!worker.ok()) return Fail(err, worker.status());
  const std::string id = Text(*worker, "id");
  auto reply = client.Post("/api/v1/workers/" + id + "/drain", json::object());
  if (!reply.ok()) return Fail(err, reply.status());
  if (args.json) {
    out << reply->dump(2) << "\n";
    return 0;
  }
  out << "worker " << Text(*worker, "name") << " (" << id << ") draining: it finishes its "
      << Text(*worker, "running") << " running job(s) and takes no new ones\n";
  return 0;
}

}  // namespace

int RunAdminCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  auto args = Parse(argc, argv);
  if (!args.ok()) {
    err << "edgefarm: " << args.status().message() << "\n" << kUsage;
    return 2;
  }
  args->positional.insert(args->positional.begin(), argv[0]);
  auto server = ResolveServer(args->server);
  if (!server.ok()) return Fail(err, server.status());
  ApiClient client(*server);
  if (args->positional[0] == "token") return TokenCommand(client, *args, out, err);
  if (args->positional[0] == "drain") return DrainCommand(client, *args, out, err);
  return ReposCommand(client, *args, out, err);
}

}  // namespace edgefarm::cli
