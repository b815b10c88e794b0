// WalCheckpointer against a real WAL database: a writer that never stops committing still gets its
// WAL restarted by the background thread, long before its own fallback checkpoint, and nothing it
// committed is lost.
#include "wal_checkpointer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

using edgefarm::testing::TempDir;
using edgefarm::testing::WaitFor;

constexpr int64_t kPageBytes = 4096;

sqlite3* OpenWriter(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db,
                         "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; "
                         "PRAGMA synchronous=NORMAL; CREATE TABLE rows(n INTEGER, pad BLOB)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  return db;
}

// One transaction of one row with a page-sized blob: about one WAL frame per commit.
void CommitRow(sqlite3* db, WalCheckpointer& checkpointer, int n) {
  auto hold = checkpointer.CommitLock();
  const std::string sql =
      "INSERT INTO rows VALUES(" + std::to_string(n) + ", zeroblob(" + std::to_string(3500) + "))";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
}

int64_t CountRows(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM rows", -1, &stmt, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

TEST(WalCheckpointerTest, RestartsTheWalOfAWriterThatNeverStops) {
  TempDir dir;
  const auto file = dir / "store.db";
  sqlite3* writer = OpenWriter(file);
  auto checkpointer = WalCheckpointer::Start(file);
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status().ToString();
  (*checkpointer)->Attach(writer);

  int committed = 0;
  // The writer keeps committing while it waits: the restart has to happen under load.
  const bool restarted = WaitFor([&] {
    for (int i = 0; i < 50; ++i) CommitRow(writer, **checkpointer, committed++);
    return (*checkpointer)->restarts() >= 2;
  });
  ASSERT_TRUE(restarted) << committed << " commits, " << (*checkpointer)->checkpoints()
                         << " checkpoints";
  EXPECT_GE((*checkpointer)->checkpoints(), 2);
  // Restarted by the thread, not by the writer's fallback: the WAL file (reused from its start
  // after each restart) never grew to kWriterFrames.
  EXPECT_LT(std::filesystem::file_size(dir / "store.db-wal"),
            static_cast<uintmax_t>(WalCheckpointer::kWriterFrames * kPageBytes));

  sqlite3_close(writer);
  checkpointer->reset();
  EXPECT_EQ(CountRows(file), committed);
}

TEST(WalCheckpointerTest, TheWriterBoundsTheWalWithoutTheThread) {
  TempDir dir;
  const auto file = dir / "store.db";
  sqlite3* writer = OpenWriter(file);
  auto checkpointer = WalCheckpointer::Start(file);
  ASSERT_TRUE(checkpointer.ok());
  (*checkpointer)->Attach(writer);
  // This test holds the lock the thread's restart needs throughout (as if the thread were stuck),
  // so only the writer's own checkpoint at kWriterFrames can restart the WAL: it must still stay
  // near that bound.
  auto thread_stuck = (*checkpointer)->CommitLock();
  const int commits = WalCheckpointer::kWriterFrames * 3 / 2;
  for (int n = 0; n < commits; ++n) {
    const std::string sql = "INSERT INTO rows VALUES(" + std::to_string(n) + ", zeroblob(3500))";
    ASSERT_EQ(sqlite3_exec(writer, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  }
  EXPECT_LT(std::filesystem::file_size(dir / "store.db-wal"),
            static_cast<uintmax_t>((WalCheckpointer::kWriterFrames + 1000) * kPageBytes));
  thread_stuck.unlock();
  sqlite3_close(writer);
  checkpointer->reset();
  EXPECT_EQ(CountRows(file), commits);
}

}  // namespace
}  // namespace edgefarm::coordinator
