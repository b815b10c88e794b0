// A real HTTP blob store for worker tests: cpp-httplib on 127.0.0.1, port 0, serving
// GET/PUT /api/v1/blobs/{digest} with bearer-token checks, like the coordinator's routes.
// `bodies` may hold a wrong body for a digest to inject a corrupt transfer.
#pragma once

#include <httplib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "edgefarm/common/sha256.h"

namespace edgefarm::worker {

class TestBlobServer {
 public:
  explicit TestBlobServer(std::string token) : token_(std::move(token)) {
    server_.Get(R"(/api/v1/blobs/([0-9a-f]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  ++gets_;
                  if (!Authorized(req)) return Deny(res);
                  std::lock_guard<std::mutex> lock(mu_);
                  auto it = bodies_.find(req.matches[1].str());
                  if (it == bodies_.end()) {
                    res.status = 404;
                    return;
                  }
                  res.set_content(it->second, "application/octet-stream");
                });
    server_.Put(R"(/api/v1/blobs/([0-9a-f]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  if (!Authorized(req)) return Deny(res);
                  const std::string digest = req.matches[1].str();
                  if (Sha256Hex(req.body) != digest) {
                    res.status = 400;
                    return;
                  }
                  std::lock_guard<std::mutex> lock(mu_);
                  bodies_[digest] = req.body;
                  res.status = 201;
                  res.set_content("{\"digest\":\"" + digest + "\"}", "application/json");
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~TestBlobServer() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Stores `content` under its digest; returns the digest.
  std::string Add(const std::string& content) {
    const std::string digest = Sha256Hex(content);
    Put(digest, content);
    return digest;
  }
  void Put(const std::string& digest, const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    bodies_[digest] = body;
  }
  std::string Get(const std::string& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = bodies_.find(digest);
    return it == bodies_.end() ? "" : it->second;
  }
  int gets() const { return gets_; }

 private:
  bool Authorized(const httplib::Request& req) const {
    return req.get_header_value("Authorization") == "Bearer " + token_;
  }
  static void Deny(httplib::Response& res) { res.status = 401; }

  const std::string token_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::string> bodies_;
  std::atomic<int> gets_{0};
};

}  // namespace edgefarm::worker
