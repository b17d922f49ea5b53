// file_lock: one holder at a time, the holder's pid named, the lock gone with a killed holder;
// resume_jsonl_file and create_or_resume take it before reading.
#include <sluice/file_lock.hpp>
#include <sluice/resumable_file.hpp>

#include "files.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sluice {
namespace {

using test::read_file;
using test::temp_dir;
using test::write_file;

TEST(FileLock, ASecondLockIsRefusedNamingTheFileAndThePid) {
  temp_dir d;
  const auto path = d / "r.jsonl";
  file_lock first = file_lock::exclusive(path);
  EXPECT_TRUE(first.held());
  EXPECT_TRUE(first.created());
  try {
    (void)file_lock::exclusive(path);
    FAIL() << "a second lock was granted";
  } catch (const file_in_use& e) {
    EXPECT_EQ(e.path(), path.string());
    EXPECT_EQ(e.holder(), ::getpid());
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
  }
  first.release();
  file_lock again = file_lock::exclusive(path);
  EXPECT_FALSE(again.created());
  file_lock moved = std::move(again);
  EXPECT_TRUE(moved.held());
  EXPECT_FALSE(again.held());  // NOLINT(bugprone-use-after-move): moved-from is documented
  EXPECT_THROW((void)file_lock::exclusive(path), file_in_use);
}

TEST(FileLock, AHolderKilledWithSigkillLeavesNoLockBehind) {
  temp_dir d;
  const auto path = d / "r.jsonl";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // only async-signal-safe calls here: the test process may have threads
    const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  try {
    (void)file_lock::exclusive(path);
    FAIL() << "the child's lock was not seen";
  } catch (const file_in_use& e) {
    EXPECT_EQ(e.holder(), child);
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(file_lock::exclusive(path).held());
}

TEST(FileLock, ResumeHoldsTheLockUntilTheWriterCloses) {
  temp_dir d;
  const auto path = d / "r.jsonl";
  write_file(path, "{\"k\":1}\n");
  auto noop = [](std::string_view, const boost::json::object&, std::size_t) {};
  auto out = resume_jsonl_file(path, "k", noop);
  // A second run is refused before it reads or changes anything.
  EXPECT_THROW((void)resume_jsonl_file(path, "k", noop), file_in_use);
  out->write({{"k", 2}});
  out->close();
  auto next = resume_jsonl_file(path, "k", noop);
  next->close();
  EXPECT_EQ(read_file(path), "{\"k\":1}\n{\"k\":2}\n");
}

}  // namespace
}  // namespace sluice
