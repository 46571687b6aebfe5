/* sandbox_test: the filter really kills what it does not list, lets through what it
 * does, refuses new executable memory, and the CPU budget ends a runaway loop. Each case
 * runs in a forked child, since a filter can never be removed. A worker that renews its
 * budget before each request is never killed for the sum of them. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service/sandbox/sandbox.h"
#include "tests/ctest/check.h"

/* kBase is enough for a child to do its work and _exit. */
static const int kBase[] = {
    SYS_write, SYS_brk, SANDBOX_NO_EXEC_MAPPING | SYS_mmap, SYS_munmap,
    SANDBOX_NO_EXEC_MAPPING | SYS_mprotect, SYS_getpid, SYS_exit, SYS_exit_group,
    SYS_clock_gettime, SYS_getrusage, SYS_prlimit64, SYS_rt_sigreturn,
};

enum { DO_ALLOWED, DO_GETPPID, DO_EXEC_MMAP, DO_EXEC_MPROTECT, DO_OPEN, DO_SPIN, DO_RENEW };

/* cpu_us returns the CPU time used so far in microseconds (getrusage: in kBase). */
static long long cpu_us(void) {
  struct rusage ru;
  CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

/* run_child forks, installs kBase and does |what|; returns the wait status. */
static int run_child(int what) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    STATUS err;
    if (!sandbox_seccomp(kBase, sizeof(kBase) / sizeof(kBase[0]), &err)) {
      fprintf(stderr, "%s\n", err.message);
      _exit(100);
    }
    switch (what) {
      case DO_ALLOWED: {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ) != 0 || getpid() <= 0) {
          _exit(101);
        }
        _exit(0);
      }
      case DO_GETPPID:
        (void)syscall(SYS_getppid);
        _exit(0);
      case DO_EXEC_MMAP:
        (void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        _exit(0);
      case DO_EXEC_MPROTECT: {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        (void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
        _exit(0);
      }
      case DO_OPEN:
        (void)syscall(SYS_openat, -100, "/etc/hostname", 0);
        _exit(0);
      case DO_SPIN: {
        if (!sandbox_cpu_budget(1, &err)) {
          _exit(102);
        }
        for (volatile unsigned long i = 0;; i++) {
        }
      }
      case DO_RENEW: {
        /* Requests of 50 ms each, 3 s of CPU in all: every one gets its own budget
         * (sandbox_cpu_budget moves the limit as the whole seconds used grow), so none
         * is killed. */
        long long start = cpu_us(), now;
        do {
          if (!sandbox_cpu_budget(1, &err)) {
            _exit(102);
          }
          long long req_start = cpu_us();
          do {
            now = cpu_us();
          } while (now - req_start < 50000);
        } while (now - start < 3000000);
        _exit(0);
      }
      default:
        _exit(103);
    }
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  return status;
}

static void check_killed(int what, int sig) {
  int status = run_child(what);
  CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == sig,
            "case %d: wait status 0x%x, expected signal %d", what, status, sig);
}

int main(void) {
  int status = run_child(DO_ALLOWED);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status 0x%x", status);
  check_killed(DO_GETPPID, SIGSYS);
  check_killed(DO_EXEC_MMAP, SIGSYS);
  check_killed(DO_EXEC_MPROTECT, SIGSYS);
  check_killed(DO_OPEN, SIGSYS);
  check_killed(DO_SPIN, SIGXCPU);
  status = run_child(DO_RENEW);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "renewed budgets: wait status 0x%x",
            status);
  printf("sandbox_test: ok\n");
  return 0;
}
