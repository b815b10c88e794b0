// Coordinator: process wiring and the loop thread. See coordinator.h for the threading model.
//
// Implementation notes:
// - The loop drains up to kBatch messages per iteration, ticks, and queues one batch of changes
//   for the writer thread (CommitQueue, its own sqlite connection), which commits while the loop
//   goes on with the next iteration; the writer wakes the loop when a commit released messages.
//   Synchronous flushes of the HTTP paths go through the same queue, so commits stay in order.
// - The scheduler's own Store connection is then only read (finished runs on demand); WAL lets it
//   read while the writer commits.
// - Bad frames are logged individually only for the first kLoggedBadFrames; after that every
//   thousandth, so a hostile peer cannot flood the log.
#include "edgefarm/coordinator/coordinator.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/commit_queue.h"
#include "edgefarm/coordinator/control_store.h"
#include "edgefarm/coordinator/http_api.h"
#include "edgefarm/coordinator/log_store.h"
#include "edgefarm/coordinator/promotion_service.h"
#include "edgefarm/coordinator/repo_registry.h"
#include "edgefarm/coordinator/sqlite_store.h"
#include "edgefarm/coordinator/tokens.h"
#include "edgefarm/coordinator/trigger_service.h"
#include "edgefarm/coordinator/zmq_transport.h"
#include "edgefarm/proto/frame_codec.h"

namespace edgefarm::coordinator {
namespace fs = std::filesystem;
namespace {

constexpr size_t kBatch = 4096;
constexpr int64_t kLoggedBadFrames = 100;

// Local clients cannot connect to a wildcard address; they use loopback.
std::string Loopback(std::string endpoint) {
  for (const std::string wildcard : {"0.0.0.0", "*"}) {
    auto at = endpoint.find("://" + wildcard + ":");
    if (at != std::string::npos) endpoint.replace(at + 3, wildcard.size(), "127.0.0.1");
  }
  return endpoint;
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options, const Clock* clock,
                         std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)), clock_(clock), logger_(std::move(logger)) {}

Coordinator::~Coordinator() {
  Stop();
}

Status Coordinator::OpenData() {
  std::error_code ec;
  fs::create_directories(options_.data_dir, ec);
  if (ec) return IoError("create " + options_.data_dir.string() + ": " + ec.message());
  EF_ASSIGN_OR_RETURN(store_, SqliteStore::Open(options_.data_dir / "coordinator.db"));
  blobs_ = std::make_unique<BlobStore>(options_.data_dir / "blobs", options_.max_blob_bytes);
  EF_RETURN_IF_ERROR(blobs_->Init());
  logs_ = std::make_unique<LogStore>(options_.data_dir / "logs");
  EF_ASSIGN_OR_RETURN(TokenFiles files, EnsureTokenFiles(options_.data_dir));
  EF_ASSIGN_OR_RETURN(StoreSnapshot snapshot, store_->Load());
  tokens_ = std::make_unique<TokenSet>();
  for (const auto& t : snapshot.tokens) tokens_->Add(t.role, t.sha256);
  ChangeSet new_tokens;
  for (const auto& [role, hash] : {std::pair<std::string, std::string>{"admin", files.admin_sha256},
                                   {"worker", files.worker_sha256}}) {
    if (tokens_->Has(role, hash)) continue;
    tokens_->Add(role, hash);
    new_tokens.tokens.push_back({role, hash, clock_->UnixMillis()});
    new_tokens.events.push_back({0, clock_->UnixMillis(), "token.created", role, "{}"});
  }
  EF_RETURN_IF_ERROR(store_->Commit(new_tokens));
  SchedulerOptions scheduler_options = options_.scheduler;
  scheduler_options.worker_token_sha256 = files.worker_sha256;
  scheduler_ = std::make_unique<Scheduler>(scheduler_options, store_.get(), blobs_.get(),
                                           logs_.get(), clock_, logger_);
  scheduler_->Restore(snapshot);
  EF_RETURN_IF_ERROR(OpenControl());
  return scheduler_->Flush();
}

Status Coordinator::OpenControl() {
  EF_ASSIGN_OR_RETURN(control_, ControlStore::Open(options_.data_dir / "control.db"));
  EF_ASSIGN_OR_RETURN(auto api_tokens, control_->Tokens());
  for (const auto& t : api_tokens) tokens_->Add(t.role, t.sha256, t.name);
  if (!options_.repos_file.empty()) {
    EF_ASSIGN_OR_RETURN(auto repos, LoadRepoConfig(options_.repos_file));
    for (auto& repo : repos) {
      repo.created_at_ms = clock_->UnixMillis();
      EF_RETURN_IF_ERROR(control_->PutRepo(repo));
    }
  }
  TriggerContext trigger;
  trigger.mu = &mu_;
  trigger.scheduler = scheduler_.get();
  trigger.blobs = blobs_.get();
  trigger.control = control_.get();
  trigger.clock = clock_;
  trigger.mirrors_dir = options_.data_dir / "mirrors";
  trigger.native_target = options_.native_target;
  trigger.wake_interval = options_.trigger_wake_interval;
  trigger.logger = logger_;
  // promotions_ is set in Start() before the trigger thread starts.
  trigger.on_run = [this](const std::string& run_id, const std::string& triggered_by) {
    return promotions_ ? promotions_->NoteSubmitter(run_id, triggered_by) : Status::Ok();
  };
  triggers_ = std::make_unique<TriggerService>(std::move(trigger));
  return Status::Ok();
}

Status Coordinator::WriteEndpoints() const {
  const fs::path path = options_.data_dir / "endpoints.json";
  fs::path temp = path;
  temp += ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << nlohmann::json{{"zmq", zmq_endpoint_}, {"http", http_url_}}.dump() << "\n";
    out.flush();
    if (!out) return IoError("write " + temp.string());
  }
  int fd = ::open(temp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) return IoError("rename " + path.string() + ": " + ec.message());
  return Status::Ok();
}

Status Coordinator::Start() {
  EF_RETURN_IF_ERROR(OpenData());
  ZmqTransportOptions zmq_options;
  zmq_options.listen = options_.zmq_listen;
  EF_ASSIGN_OR_RETURN(auto transport, ZmqTransport::Bind(zmq_options));
  zmq_endpoint_ = Loopback(transport->endpoint());
  transport_ = std::move(transport);
  if (!options_.serial_commit) EF_RETURN_IF_ERROR(StartWriter());

  ApiContext ctx;
  ctx.mu = &mu_;
  ctx.scheduler = scheduler_.get();
  ctx.submit_run = [this](PlannedRun planned) { return SubmitRun(std::move(planned)); };
  ctx.blobs = blobs_.get();
  ctx.logs = logs_.get();
  ctx.tokens = tokens_.get();
  ctx.control = control_.get();
  ctx.triggers = triggers_.get();
  EF_RETURN_IF_ERROR(StartPromotions());
  ctx.promotions = promotions_.get();
  ctx.clock = clock_;
  ctx.bad_frames = &bad_frames_;
  ctx.native_target = options_.native_target;
  ctx.max_request_bytes = options_.max_request_bytes;
  ctx.logger = logger_;
  http_ = std::make_unique<HttpApi>(std::move(ctx));
  EF_ASSIGN_OR_RETURN(int port, http_->Bind(options_.http_host, options_.http_port));
  http_url_ = Loopback("http://" + options_.http_host + ":" + std::to_string(port));
  scheduler_->SetBlobUrl(options_.public_http_url.empty() ? http_url_ : options_.public_http_url);

  EF_RETURN_IF_ERROR(WriteEndpoints());
  stop_ = false;
  http_->Start();
  triggers_->Start();
  loop_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ef-loop");
    Loop();
  });
  logger_->info("coordinator listening on {} (workers) and {} (HTTP), data in {}", zmq_endpoint_,
                http_url_, options_.data_dir.string());
  return Status::Ok();
}

Result<std::string> Coordinator::StageRun(PlannedRun planned) {
  Result<std::string> run_id = InvalidArgument("not started");
  {
    std::lock_guard lock(mu_);
    run_id = scheduler_->StageRun(std::move(planned));
  }
  if (run_id.ok()) transport_->Wake();
  return run_id;
}

Result<std::string> Coordinator::SubmitRun(PlannedRun planned, std::chrono::milliseconds timeout) {
  if (!commits_) {  // serial_commit: the loop's own flush carries it
    std::unique_lock lock(mu_);
    EF_ASSIGN_OR_RETURN(std::string run_id, scheduler_->StageRun(std::move(planned)));
    const uint64_t staged_at = scheduler_->flushes();
    transport_->Wake();
    if (!flushed_.wait_for(lock, timeout, [&] { return scheduler_->flushes() > staged_at; })) {
      return DeadlineExceeded("run " + run_id + " is not committed yet (the store is failing)");
    }
    return run_id;
  }
  std::string run_id;
  uint64_t queued_before = 0;
  {
    std::lock_guard lock(mu_);
    EF_ASSIGN_OR_RETURN(run_id, scheduler_->StageRun(std::move(planned)));
    // The run goes into the next batch queued after this (the loop's, or a flush's).
    queued_before = commits_->submitted();
  }
  transport_->Wake();
  Status committed =
      commits_->Wait(queued_before + 1, timeout, CommitQueue::OnFailure::kKeepWaiting);
  if (!committed.ok()) {
    return DeadlineExceeded("run " + run_id + " is not committed yet: " + committed.message());
  }
  return run_id;
}

// The writer's connection is opened after OpenData() committed the restore on the first one, and
// is the only one that writes from here on.
Status Coordinator::StartWriter() {
  EF_ASSIGN_OR_RETURN(writer_store_, SqliteStore::Open(options_.data_dir / "coordinator.db",
                                                       SqliteStore::Role::kWriter));
  Transport* transport = transport_.get();
  commits_ = std::make_unique<CommitQueue>(
      writer_store_.get(), [transport] { transport->Wake(); }, logger_);
  std::lock_guard lock(mu_);
  scheduler_->SetCommitQueue(commits_.get());
  return Status::Ok();
}

Status Coordinator::StartPromotions() {
  PromotionServiceOptions options;
  options.with_scheduler = [this](const std::function<void(Scheduler&)>& fn) { WithScheduler(fn); };
  options.blobs = blobs_.get();
  options.data_dir = options_.data_dir;
  options.clock = clock_;
  options.logger = logger_;
  options.slots = JobSlotFactory(options);
  if (options_.promotion_setup) options_.promotion_setup(options);
  promotions_ = std::make_unique<PromotionService>(std::move(options));
  return promotions_->Start();
}

void Coordinator::Stop() {
  if (promotions_) promotions_->Stop();
  stop_ = true;
  if (loop_.joinable()) loop_.join();
  if (http_) http_->Stop();
  if (triggers_) triggers_->Stop();
  if (commits_) {
    std::lock_guard lock(mu_);
    commits_->Stop();  // commits what is queued; its messages are not sent any more
    scheduler_->SetCommitQueue(nullptr);
  }
}

void Coordinator::CountBadFrame(const std::string& identity, const std::string& why) {
  int64_t n = ++bad_frames_;
  if (n <= kLoggedBadFrames || n % 1000 == 0) {
    logger_->warn("dropped bad frame #{} (peer identity of {} bytes): {}", n, identity.size(), why);
  }
}

void Coordinator::HandleInbound(const std::string& identity,
                                const std::vector<std::string>& frames) {
  if (frames.size() != 1) {
    CountBadFrame(identity, "message has " + std::to_string(frames.size()) +
                                " frames after the identity (expected 1)");
    return;
  }
  auto envelope = proto::DecodeFrame(frames[0]);
  if (!envelope.ok()) {
    CountBadFrame(identity, envelope.status().message());
    return;
  }
  scheduler_->HandleMessage(identity, *envelope);
}

std::vector<Outbound> Coordinator::CommitIteration() {
  if (!commits_) {
    (void)scheduler_->Flush();  // logged inside; retried next iteration
    return scheduler_->TakeOutbox();
  }
  // While a batch still waits for the writer, a new one would only be merged behind it: keep
  // collecting instead (rows touched again are then written once). The writer wakes the loop
  // when it takes the waiting batch. A failed commit is retried by the writer.
  if (commits_->waiting() == 0) scheduler_->CommitAsync();
  return commits_->TakeReleased();
}

void Coordinator::Loop() {
  while (!stop_) {
    std::vector<InboundMessage> batch;
    auto first = transport_->Receive(options_.poll_interval);
    if (!first.ok()) {
      logger_->error("{}", first.status().ToString());
    } else if (first->has_value()) {
      batch.push_back(std::move(**first));
      while (batch.size() < kBatch) {
        auto more = transport_->Receive(std::chrono::milliseconds(0));
        if (!more.ok() || !more->has_value()) break;
        batch.push_back(std::move(**more));
      }
    }
    std::vector<Outbound> outbox;
    {
      std::lock_guard lock(mu_);
      for (const auto& message : batch) HandleInbound(message.identity, message.frames);
      scheduler_->Tick();
      outbox = CommitIteration();
    }
    if (!commits_) flushed_.notify_all();
    for (auto& out : outbox) {
      const std::string_view body = proto::BodyName(out.envelope);  // a static name
      Status sent = transport_->Send(out.identity, proto::EncodeFrame(std::move(out.envelope)));
      if (!sent.ok()) {
        logger_->warn("cannot send {} to worker {}: {}", body, out.identity, sent.message());
      }
    }
  }
}

}  // namespace edgefarm::coordinator
