// The fork / SIGKILL harness of the crash tests: a child process works on a
// store and acknowledges each durable step through a pipe; the parent kills
// it at a random moment and learns the last step it acknowledged, then
// reopens the store and checks that every acknowledged step survived.
#pragma once

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <functional>

namespace lsm4kv::test {

// In the child: reports step i as acknowledged; false when the parent is gone.
inline bool acknowledge(int ack_fd, uint64_t i) {
  return ::write(ack_fd, &i, sizeof i) == static_cast<ssize_t>(sizeof i);
}

// Forks a child that runs child(ack_fd): it works until it is killed, calling
// acknowledge(ack_fd, i) after each durable step, and _exit()s with a code of
// its own (3 and up) on an error. The parent waits until the child has
// acknowledged `min_new_acks` steps (progress, not time: a loaded machine
// only makes the wait longer), then lets it run delay_us more, so that the
// kill lands anywhere inside a later step, and SIGKILLs it.
// Returns the last step acknowledged, or last_acked when none was.
// REQUIRE: the child died of the SIGKILL, not on its own.
inline int64_t run_and_kill(const std::function<void(int ack_fd)>& child, int min_new_acks,
                            useconds_t delay_us, int64_t last_acked) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1]);
    _exit(2);  // a child must not return
  }
  ::close(fds[1]);
  uint64_t i;
  // Blocking reads: they return 0 (end of file) only if the child is gone.
  for (int seen = 0; seen < min_new_acks && ::read(fds[0], &i, sizeof i) == sizeof i; seen++)
    last_acked = static_cast<int64_t>(i);
  ::usleep(delay_us);
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  while (::read(fds[0], &i, sizeof i) == sizeof i) last_acked = static_cast<int64_t>(i);
  ::close(fds[0]);
  INFO("child exit status " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1));
  REQUIRE((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
  return last_acked;
}

}  // namespace lsm4kv::test
