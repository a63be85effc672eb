// Test support: child processes (servers the tests run, the nodemailer benchmark) and
// temporary directories. Not thread-safe; one owner each.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace tp::channels::testing {

// The Debian interpreter, which has python3-aiosmtpd and python3-dkim (a python3 earlier on
// PATH, e.g. pyenv's, may not).
inline constexpr const char* kSystemPython = "/usr/bin/python3";

// A directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A child whose stdout is a pipe to us; stderr is inherited. Killed (SIGKILL) and reaped on
// destruction, and killed by the kernel if this process dies first.
class ChildProcess {
 public:
  static Result<ChildProcess> start(const std::vector<std::string>& argv);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  // The next line of stdout (without the newline); kUnavailable on timeout or end of output.
  Result<std::string> read_line(Millis timeout);
  // Waits for the child to exit by itself; its exit status (128 + signal when killed).
  Result<int> wait(Millis timeout);
  int pid() const { return pid_; }

 private:
  ChildProcess(int pid, int out) : pid_(pid), out_(out) {}
  int pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool exited_ = false;
};

}  // namespace tp::channels::testing

namespace tp::channels::testing {

// Runs `argv` to completion; its stdout, or an error with the exit status.
Result<std::string> run_and_capture(const std::vector<std::string>& argv, Millis timeout, int* exit_status = nullptr);

}  // namespace tp::channels::testing
