/* sandbox.c: see sandbox.h. */
#include "service/sandbox/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* SANDBOX_ARCH is the only ABI the filter lets through: a process could otherwise reach
 * differently numbered system calls through the 32-bit entry points. */
#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#else
#error "service/sandbox: unsupported architecture"
#endif

/* X32_SYSCALL_BIT marks x32 system calls, which pass the AUDIT_ARCH_X86_64 check. */
#define X32_SYSCALL_BIT 0x40000000u

#define ARG_LOW(i) ((uint32_t)offsetof(struct seccomp_data, args[(i)]))

int sandbox_seccomp(const int *allowed, size_t n, STATUS *err) {
  int ret = 0;
  /* sandbox_seccomp emits 5 instructions per call at most, plus a fixed prologue and
   * epilogue; every jump is short and forward, so no offset exceeds the 8-bit fields. */
  size_t cap = 8 + 5 * n;
  struct sock_filter *prog = calloc(cap, sizeof(struct sock_filter));
  if (prog == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "seccomp: out of memory");
  }
  size_t k = 0;
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                           offsetof(struct seccomp_data, arch));
  prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                           offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
  prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
  for (size_t i = 0; i < n; i++) {
    uint32_t nr = (uint32_t)allowed[i] & ~(uint32_t)SANDBOX_NO_EXEC_MAPPING;
    if (allowed[i] & SANDBOX_NO_EXEC_MAPPING) {
      /* The accumulator holds nr on every path that falls through to the next rule:
       * only the matching path loads the argument, and it always returns. */
      prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 4);
      prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(2));
      prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1);
      prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
      prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    } else {
      prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
      prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
  }
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  if (k > USHRT_MAX) {
    status_set(err, STATUS_INTERNAL, "seccomp: filter too long (%zu instructions)", k);
    goto out;
  }
  struct sock_fprog fprog = {.len = (unsigned short)k, .filter = prog};
  /* sandbox_seccomp sets no_new_privs first: without CAP_SYS_ADMIN the kernel accepts a
   * filter only then, and it also means no exec could ever gain privileges. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    status_set(err, STATUS_INTERNAL, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
    goto out;
  }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
    status_set(err, STATUS_INTERNAL, "seccomp(SECCOMP_SET_MODE_FILTER): %s",
               strerror(errno));
    goto out;
  }
  ret = 1;

out:
  free(prog);
  return ret;
}

/* RLIMIT_CPU as sandbox_cpu_budget last set it (cpu_known once read): a worker serves
 * one request at a time and only these functions change the limit, so a request whose
 * budget ends where the previous one's did skips getrlimit and setrlimit (on this
 * machine's virtual CPUs every system call counts: 3 per request were 6 % of an
 * engine's time on a 4 KiB sign). */
static int g_cpu_known;
static struct rlimit g_cpu_limit;

int sandbox_limit(int resource, rlim_t value, STATUS *err) {
  struct rlimit rl = {value, value};
  if (resource == RLIMIT_CPU) {
    g_cpu_known = 0;
  }
  if (setrlimit(resource, &rl) != 0) {
    return status_set(err, STATUS_INTERNAL, "setrlimit(%d, %llu): %s", resource,
                      (unsigned long long)value, strerror(errno));
  }
  return 1;
}

/* kProfClock is this process's CPUCLOCK_PROF clock (the kernel's
 * MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_PROF)): user + system time as the kernel samples it
 * at each tick, which is the time RLIMIT_CPU is checked against. getrusage reports the
 * same time rescaled to the scheduler's precise runtime; the two drift apart (on this
 * virtual machine 1 % in a quiet minute, and far more when the host steals time), and a
 * budget computed from getrusage was once exceeded after 3 s of CPU. */
static const clockid_t kProfClock = (clockid_t)(~0u << 3);

int sandbox_cpu_budget(unsigned seconds, STATUS *err) {
  struct timespec used_ts;
  if (clock_gettime(kProfClock, &used_ts) != 0) {
    return status_set(err, STATUS_INTERNAL, "clock_gettime(process CPU, prof): %s",
                      strerror(errno));
  }
  if (!g_cpu_known) {
    if (getrlimit(RLIMIT_CPU, &g_cpu_limit) != 0) {
      return status_set(err, STATUS_INTERNAL, "getrlimit(RLIMIT_CPU): %s", strerror(errno));
    }
    g_cpu_known = 1;
  }
  /* sandbox_cpu_budget rounds the time used up to the next second: RLIMIT_CPU counts
   * whole seconds, so the budget is between |seconds| and |seconds| + 1. */
  rlim_t used = (rlim_t)used_ts.tv_sec + 1;
  rlim_t soft = used + seconds;
  if (g_cpu_limit.rlim_max != RLIM_INFINITY && soft > g_cpu_limit.rlim_max) {
    soft = g_cpu_limit.rlim_max;
  }
  if (soft == g_cpu_limit.rlim_cur) {
    return 1;
  }
  struct rlimit rl = {soft, g_cpu_limit.rlim_max};
  if (setrlimit(RLIMIT_CPU, &rl) != 0) {
    g_cpu_known = 0;
    return status_set(err, STATUS_INTERNAL, "setrlimit(RLIMIT_CPU): %s", strerror(errno));
  }
  g_cpu_limit.rlim_cur = soft;
  return 1;
}
