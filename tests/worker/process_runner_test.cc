#include "edgefarm/worker/process_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <mutex>
#include <thread>

#include "test_support.h"

namespace edgefarm::worker {
namespace {

using edgefarm::testing::ReadFile;
using edgefarm::testing::TempDir;
using edgefarm::testing::WaitFor;

struct Captured {
  std::mutex mu;
  std::string out, err;
  std::vector<std::string> order;  // stream of each piece, in delivery order
};

class ProcessRunnerTest : public ::testing::Test {
 protected:
  Result<ProcessOutcome> Run(std::vector<std::string> argv,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                             const CancelFlag* cancel = nullptr) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.working_dir = dir_.path();
    spec.timeout = timeout;
    spec.kill_grace = std::chrono::milliseconds(300);
    return runner_->Run(
        spec,
        [this](std::string_view stream, std::string_view data) {
          std::lock_guard<std::mutex> lock(captured_.mu);
          (stream == "stdout" ? captured_.out : captured_.err).append(data);
          captured_.order.emplace_back(stream);
        },
        cancel);
  }

  TempDir dir_;
  std::unique_ptr<ProcessRunner> runner_ = MakeProcessRunner();
  Captured captured_;
};

TEST_F(ProcessRunnerTest, ReportsExitCodeAndOutput) {
  auto outcome = Run({"sh", "-c", "echo hello; echo oops >&2; exit 7"});
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->exit_code, 7);
  EXPECT_EQ(outcome->term_signal, 0);
  EXPECT_FALSE(outcome->timed_out);
  EXPECT_EQ(captured_.out, "hello\n");
  EXPECT_EQ(captured_.err, "oops\n");
}

TEST_F(ProcessRunnerTest, ReportsTerminatingSignal) {
  auto outcome = Run({"sh", "-c", "kill -KILL $$"});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->term_signal, SIGKILL);
}

TEST_F(ProcessRunnerTest, RunsInWorkingDirWithEnvironment) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "pwd > where.txt; printf %s \"$EF_TEST_VAR\" > var.txt"};
  spec.working_dir = dir_.path();
  spec.env["EF_TEST_VAR"] = "forty two";
  auto outcome = runner_->Run(spec, nullptr, nullptr);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ / "var.txt"), "forty two");
  EXPECT_EQ(std::filesystem::canonical(
                ReadFile(dir_ / "where.txt").substr(0, ReadFile(dir_ / "where.txt").size() - 1)),
            std::filesystem::canonical(dir_.path()));
}

TEST_F(ProcessRunnerTest, MissingExecutableIsAnError) {
  auto outcome = Run({"edgefarm-no-such-program-xyz"});
  EXPECT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kNotFound);
}

TEST_F(ProcessRunnerTest, TimeoutKillsTheWholeProcessGroup) {
  // Be the reaper of orphaned grandchildren so a killed grandchild can be waited for here and
  // kill(pid, 0) then reliably reports it gone (no zombie left to a container's init).
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  // The child ignores SIGTERM (and so does its grandchild, which inherits the disposition), so
  // only the SIGKILL after the grace period ends them.
  auto outcome = Run({"sh", "-c", "trap '' TERM; sleep 1000 & echo $! > gpid; wait; wait"},
                     std::chrono::milliseconds(500));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(outcome->timed_out);
  EXPECT_EQ(outcome->term_signal, SIGKILL);
  const pid_t grandchild = std::stoi(ReadFile(dir_ / "gpid"));
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(WaitFor([&] {
    ::waitpid(grandchild, nullptr, WNOHANG);
    return ::kill(grandchild, 0) == -1 && errno == ESRCH;
  }));
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(ProcessRunnerTest, TermIsEnoughForACooperativeChild) {
  auto outcome = Run({"sleep", "1000"}, std::chrono::milliseconds(200));
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->timed_out);
  EXPECT_EQ(outcome->term_signal, SIGTERM);
}

TEST_F(ProcessRunnerTest, CancelStopsTheChild) {
  CancelFlag cancel;
  std::thread canceller([&] {
    WaitFor([&] { return std::filesystem::exists(dir_ / "started"); });
    cancel.Cancel();
  });
  auto outcome =
      Run({"sh", "-c", "touch started; exec sleep 1000"}, std::chrono::milliseconds(0), &cancel);
  canceller.join();
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->cancelled);
  EXPECT_FALSE(outcome->timed_out);
  EXPECT_EQ(outcome->term_signal, SIGTERM);
}

TEST_F(ProcessRunnerTest, OutputArrivesOrderedAndComplete) {
  const int kLines = 50000;  // ~1.8 MB: many pipe buffers' worth
  auto outcome = Run({WORKER_TEST_CHILD, "lines", std::to_string(kLines)});
  ASSERT_TRUE(outcome.ok());
  ASSERT_EQ(outcome->exit_code, 0);
  std::string expected_out, expected_err;
  char line[64];
  for (int i = 0; i < kLines; ++i) {
    std::snprintf(line, sizeof(line), "line %06d of the numbered output\n", i);
    expected_out += line;
    if (i % 10 == 0) {
      std::snprintf(line, sizeof(line), "err %06d\n", i);
      expected_err += line;
    }
  }
  EXPECT_EQ(captured_.out.size(), expected_out.size());
  EXPECT_TRUE(captured_.out == expected_out);
  EXPECT_TRUE(captured_.err == expected_err);
  EXPECT_GT(captured_.order.size(), 2u);
}

TEST_F(ProcessRunnerTest, MeasuresPeakRssAndCpuOfTheChild) {
  auto small = Run({WORKER_TEST_CHILD, "exit", "0"});
  auto big = Run({WORKER_TEST_CHILD, "alloc", "200"});
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->exit_code, 0);
  EXPECT_GT(small->peak_rss_bytes, 0u);
  // 200 MiB were touched: the peak must account for them.
  EXPECT_GE(big->peak_rss_bytes, 200ull * 1024 * 1024);
  EXPECT_GT(big->peak_rss_bytes, small->peak_rss_bytes);
  EXPECT_GT(big->user_cpu_seconds + big->system_cpu_seconds, 0.0);
  EXPECT_GT(big->wall_seconds, 0.0);
}

TEST_F(ProcessRunnerTest, ConcurrentRunsDoNotInterfere) {
  Captured a_out, b_out;
  ProcessSpec a, b;
  a.argv = {"sh", "-c", "echo A; exit 3"};
  b.argv = {"sh", "-c", "echo B; exit 4"};
  a.working_dir = b.working_dir = dir_.path();
  Result<ProcessOutcome> ra = Internal("unset"), rb = Internal("unset");
  std::thread ta([&] {
    ra = runner_->Run(
        a, [&](std::string_view, std::string_view d) { a_out.out.append(d); }, nullptr);
  });
  std::thread tb([&] {
    rb = runner_->Run(
        b, [&](std::string_view, std::string_view d) { b_out.out.append(d); }, nullptr);
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->exit_code, 3);
  EXPECT_EQ(rb->exit_code, 4);
  EXPECT_EQ(a_out.out, "A\n");
  EXPECT_EQ(b_out.out, "B\n");
}

}  // namespace
}  // namespace edgefarm::worker
